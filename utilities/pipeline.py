"""The run: check settings, load documents, plan, then generate (or write the plan).

``run(config)`` is the whole job behind the CLI: check settings, load, plan, then
``generate``: resume from the run's journal and send what is left to the engine,
gate every pair, verify the survivors with the engine, write the files and the
report. It stops cleanly on SIGINT/SIGTERM and writes the final files only once
every request (verify requests included) is finished; see README, "Resuming and
failures". Library code raises; ``main`` turns errors into exit codes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from models.documents import Document
from models.records import BuiltRequest, PlannedRequest
from models.schemas import ReplyLimits
from utilities.api_utils import ENGINES, LazyEngine, choose_backend
from utilities.check import check_engine
from utilities.config import Config
from utilities.curate import curate
from utilities.errors import ConfigError
from utilities.file_utils import LoadResult, load_configured_documents
from utilities.generation import PROGRESS_EVERY_S, WINDOW, RunStats, generate_all
from utilities.journal import Journal, JournalIndex, rebuild_outcome, run_key_inputs
from utilities.logger import get_logger
from utilities.outputs.examples import examples_of, write_rejects
from utilities.outputs.files import (
    finish_publishing,
    new_staging_folder,
    probe_writable_folder,
    publish,
    timestamp,
    write_new_file,
    write_new_json,
    written_set,
)
from utilities.outputs.formats import DATASET_INFO, ExampleSpool, ImagePlacer, merge_dataset_info, write_exports
from utilities.planner import build_plan, format_plan_summary
from utilities.progress import progress_bar
from utilities.prompts import PromptLibrary, SamplingSettings, build_request, request_key
from utilities.quality import GateSettings, apply_gates
from utilities.report import Tally, format_markdown, format_table
from utilities.run_control import EXIT_UNFINISHED, StopSignal
from utilities.verify import VerifySettings, VerifyStats, verify_pairs

log = get_logger("main")


def check_backend(config: Config) -> None:
    if config.backend != "auto" and config.backend not in ENGINES:
        raise ConfigError(f"BACKEND must be one of auto, {', '.join(ENGINES)}, got '{config.backend}'")


def check_settings(config: Config) -> None:
    docs = config.markdown_docs_dir
    if not docs.is_dir():
        raise ConfigError(f"MARKDOWN_DOCS_DIR must be an existing folder, got '{docs}'")
    docs_real, out_real = docs.resolve(), config.output_dir.resolve()
    if out_real == docs_real or out_real.is_relative_to(docs_real):
        raise ConfigError(f"OUTPUT_DIR must not be inside MARKDOWN_DOCS_DIR, got '{config.output_dir}' inside '{docs}'")
    try:
        probe_writable_folder(config.output_dir)
    except OSError as exc:
        raise ConfigError(
            f"OUTPUT_DIR must be a folder this tool can create and write to, got '{config.output_dir}' ({exc.strerror})"
        ) from None
    check_backend(config)
    if "hf" in config.output_formats and importlib.util.find_spec("pyarrow") is None:
        raise ConfigError("OUTPUT_FORMATS=hf writes parquet and needs pyarrow: pip install pyarrow")


def _generate_missing(config, requests, build, journal, engine: LazyEngine, stop) -> RunStats:
    """Send the requests the journal lacks; each finished one is journaled as it arrives."""
    finished = journal.index()
    todo = [p for p in requests if request_key(p) not in finished]
    if finished:
        done = len(requests) - len(todo)
        log.info(
            "resuming from %s: %d of %d requests already finished, %d to go",
            journal.path,
            done,
            len(requests),
            len(todo),
        )
    if not todo:
        return RunStats(resumed=len(requests))
    with progress_bar(len(todo), config.progress) as bar:
        stats = generate_all(
            todo,
            engine(),
            build,
            config.max_retries,
            journal.append,
            stop,
            on_progress=bar.update,
            log_every_s=None if bar.enabled else PROGRESS_EVERY_S,
        )
    stats.resumed = len(requests) - len(todo)
    return stats


def _interrupted(stop: StopSignal, stats: RunStats, verify: VerifyStats, journal: Journal) -> int | None:
    """The exit code when the run cannot write its files yet (stopped, or the engine failed), else None."""
    resume = f"rerun the same command to resume (journal: {journal.path})"
    if stop.signum is not None:
        log.warning("stopped by %s: %s; %s", signal.Signals(stop.signum).name, stats.summary(), resume)
        return 128 + stop.signum
    if stats.unfinished_requests or verify.unfinished:
        missing = stats.unfinished_requests or verify.unfinished
        what = "request(s)" if stats.unfinished_requests else "verify request(s)"
        error = stats.last_engine_error or verify.last_engine_error or "engine failure"
        log.error("%d %s unfinished because the engine failed (last error: %s); %s", missing, what, error, resume)
        return EXIT_UNFINISHED
    return None


def document_groups(requests: list[PlannedRequest], size: int = WINDOW) -> Iterator[list[PlannedRequest]]:
    """Whole documents' requests, ``size`` or a little more at a time: the unit gated, verified and written."""
    by_document: dict[str, list[PlannedRequest]] = {}
    for planned in requests:
        by_document.setdefault(planned.document, []).append(planned)
    group: list[PlannedRequest] = []
    for items in by_document.values():
        group.extend(items)
        if len(group) >= size:
            yield group
            group = []
    if group:
        yield group


@dataclass
class _Finished:
    """What the groups of a run add up to: the report's counts and the records to write."""

    examples: ExampleSpool
    tally: Tally = field(default_factory=Tally)
    verify: VerifyStats = field(default_factory=VerifyStats)
    seen_questions: set[str] = field(default_factory=set)


def _finish_groups(run: _Run, staging: Path, stamp: str) -> _Finished:
    """Gate, verify and tally the run a group of documents at a time (stopping where verify could not finish)."""
    done = _Finished(ExampleSpool(staging / ".examples.jsonl"), verify=VerifyStats(modes=run.verify_settings.modes))
    for group in document_groups(run.requests):
        outcomes = [rebuild_outcome(run.finished[request_key(p)], p, run.build) for p in group]
        gates = apply_gates(outcomes, run.gate_settings, run.docs_root, done.seen_questions)
        verify = verify_pairs(
            gates, run.engine, run.verify_settings, run.finished, run.journal.append_entry, run.stop.event
        )
        done.verify.add(verify)
        if verify.unfinished or run.stop.signum is not None:
            return done
        done.tally.add(outcomes, gates)
        write_rejects(outcomes, gates, staging, stamp)
        done.examples.extend(examples_of(gates, run.documents, run.config.include_reasoning))
    return done


@dataclass
class _Run:
    """What every stage after planning needs."""

    config: Config
    requests: list[PlannedRequest]
    documents: dict[str, Document]
    docs_root: Path
    build: Callable[[PlannedRequest, int], BuiltRequest]
    journal: Journal
    engine: LazyEngine
    stop: StopSignal
    gate_settings: GateSettings
    verify_settings: VerifySettings
    finished: JournalIndex = field(init=False)


def generate(config: Config, loaded: LoadResult, requests: list[PlannedRequest], library: PromptLibrary) -> int:
    """Generate (or resume), gate, verify, write the files and the report."""
    documents = {d.name: d for d in loaded.documents}
    docs_root = Path(os.path.realpath(config.markdown_docs_dir))
    sampling, limits = SamplingSettings.from_config(config), ReplyLimits.from_config(config)

    def build(planned: PlannedRequest, attempt: int):
        return build_request(documents[planned.document], planned, library, sampling, limits, docs_root, attempt)

    journal = Journal.open(config.output_dir, run_key_inputs(loaded.documents, config, library), fresh=config.fresh)
    verify_settings = VerifySettings.from_config(config, choose_backend(config)[0])
    try:
        with StopSignal() as stop, LazyEngine(config) as engine:
            stats = _generate_missing(config, requests, build, journal, engine, stop.event)
            if (code := _interrupted(stop, stats, VerifyStats(), journal)) is not None:
                return code
            if (code := _already_written(config, journal)) is not None:
                return code
            run = _Run(
                config, requests, documents, docs_root, build, journal, engine, stop,
                GateSettings.from_config(config), verify_settings,
            )  # fmt: skip
            run.finished = journal.index()
            return _write(run, stats)
    finally:
        journal.close()


def _settings_hash(config: Config) -> str:
    return hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True, default=str).encode()).hexdigest()[:16]


MERGED = {DATASET_INFO: merge_dataset_info}  # files merged into OUTPUT_DIR's own rather than placed beside it


def _already_written(config: Config, journal: Journal) -> int | None:
    """Finish moving a set a crash cut short; the exit code when this run's set is already written, else None."""
    if finish_publishing(journal.folder, config.output_dir, MERGED) is not None:
        log.warning("finished moving into place the files of a run that was cut short while writing them")
    written = written_set(journal.folder, _settings_hash(config))
    if written is None:
        return None
    log.info(
        "every request is finished and this run's files are already written (%s); "
        "use --fresh to generate again, or change a gate setting to write a new set",
        ", ".join(written["files"]),
    )
    return 0 if written["kept"] else 1


def _write(run: _Run, stats: RunStats) -> int:
    """Write the whole set into the run's staging folder, then move it into OUTPUT_DIR as one."""
    config, stamp = run.config, timestamp()
    staging = new_staging_folder(run.journal.folder, stamp)
    done = _finish_groups(run, staging, stamp)
    if (code := _interrupted(run.stop, stats, done.verify, run.journal)) is not None:
        return code  # the staging folder is removed by the next run
    placer = ImagePlacer(run.docs_root, config.output_dir, copy=config.copy_images)
    write_exports(done.examples, config.output_formats, staging, stamp, placer)
    done.examples.close()
    report = done.tally.report(stats, run.engine.info, config.to_dict(), stats.resumed, done.verify)
    write_new_json(staging, f"report-{stamp}", report)
    write_new_file(staging, f"report-{stamp}", ".md", format_markdown(report).encode("utf-8"))
    kept = len(done.examples)
    written = {"stamp": stamp, "kept": kept}
    for path in publish(staging, config.output_dir, MERGED, _settings_hash(config), written):
        log.info("wrote %s", path)
    print(format_table(report))
    _log_done(report, stats)
    if not kept:
        log.error("no pair was kept; see the rejects file(s) for the raw replies and reasons")
        return 1
    return 0


def _log_done(report: dict, stats: RunStats) -> None:
    totals = report["totals"]
    rejects = ", ".join(f"{k} {v}" for k, v in totals["requests_rejected"].items()) or "none"
    log.info(
        "done: %d requests (%d resumed): %d accepted, %d rejected (%s); %d pairs generated, %d kept; this process: %s",
        totals["requests"],
        report["resumed_requests"],
        totals["requests_accepted"],
        totals["requests"] - totals["requests_accepted"],
        rejects,
        totals["pairs_generated"],
        totals["pairs_accepted"],
        stats.throughput(),
    )


def run(config: Config) -> int:
    if config.check:  # needs no documents: only the engine's settings are checked
        check_backend(config)
        return check_engine(config)
    check_settings(config)
    if config.curate:
        return curate(config)
    library = None if config.dry_run else PromptLibrary.load(config.system_prompt_file)
    loaded = load_configured_documents(config, related_first=config.limit_sections)
    if not loaded.documents:
        log.error("no usable markdown documents in %s", config.markdown_docs_dir)
        return 1
    plan, requests = build_plan(loaded, config)
    print(format_plan_summary(plan))
    if config.dry_run:
        path = write_new_json(config.output_dir, f"plan-{timestamp()}", plan)
        log.info("plan written to %s", path)
        return 0
    if not requests:
        log.error("the plan has no requests: no section has what the chosen question types need")
        return 1
    assert library is not None
    return generate(config, loaded, requests, library)

"""The run: check settings, load documents, plan, then generate (or write the plan).

``run(config)`` is the whole job behind the CLI: check settings, load, plan, then
``generate``: resume from the run's journal and send what is left to the engine,
gate every pair, verify the survivors with the engine, write the files and the
report. It stops cleanly on SIGINT/SIGTERM and writes the final files only once
every request (verify requests included) is finished; see README, "Resuming and
failures". Library code raises; ``main`` turns errors into exit codes.
"""

from __future__ import annotations

import importlib.util
import os
import signal
from pathlib import Path

from models.schemas import ReplyLimits
from utilities.api_utils import ENGINES, LazyEngine, choose_backend
from utilities.check import check_engine
from utilities.config import Config
from utilities.curate import curate
from utilities.errors import ConfigError
from utilities.exports import ImagePlacer
from utilities.file_utils import LoadResult, load_configured_documents
from utilities.generation import PROGRESS_EVERY_S, RequestOutcome, RunStats, generate_all
from utilities.journal import Journal, rebuild_outcome, run_key_inputs
from utilities.logger import get_logger
from utilities.output import write_outputs
from utilities.output_files import probe_writable_folder, timestamp, write_new_file, write_new_json
from utilities.plan import build_plan, format_plan_summary
from utilities.planner import PlannedRequest
from utilities.progress import progress_bar
from utilities.prompts import PromptLibrary, SamplingSettings, build_request, request_key
from utilities.quality import GateResult, GateSettings, apply_gates, figure_paths
from utilities.report import build_report, format_markdown, format_table
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
    finished = journal.load()
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


def _gate(config: Config, loaded: LoadResult, outcomes: list[RequestOutcome], docs_root: Path) -> GateResult:
    return apply_gates(outcomes, figure_paths(loaded.documents), GateSettings.from_config(config), docs_root)


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


def generate(config: Config, loaded: LoadResult, requests: list[PlannedRequest], library: PromptLibrary) -> int:
    """Generate (or resume), gate, verify, write the files and the report."""
    documents = {d.name: d for d in loaded.documents}
    docs_root = Path(os.path.realpath(config.markdown_docs_dir))
    sampling, limits = SamplingSettings.from_config(config), ReplyLimits.from_config(config)

    def build(planned: PlannedRequest, attempt: int):
        return build_request(documents[planned.document], planned, library, sampling, limits, docs_root, attempt)

    journal = Journal.open(config.output_dir, run_key_inputs(loaded.documents, config, library), fresh=config.fresh)
    verify_settings = VerifySettings.from_config(config, choose_backend(config)[0])
    verify = VerifyStats(modes=verify_settings.modes)
    with StopSignal() as stop, LazyEngine(config) as engine:
        try:
            stats = _generate_missing(config, requests, build, journal, engine, stop.event)
            if stop.signum is None and not stats.unfinished_requests:
                entries = journal.load()
                outcomes = [rebuild_outcome(entries[request_key(p)], p, build) for p in requests]
                gates = _gate(config, loaded, outcomes, docs_root)
                verify = verify_pairs(gates, engine, verify_settings, entries, journal.append_entry, stop.event)
        finally:
            journal.close()
    code = _interrupted(stop, stats, verify, journal)
    if code is not None:
        return code
    return _write(config, outcomes, gates, documents, docs_root, stats, verify, engine.info)


def _write(config, outcomes, gates, documents, docs_root, stats: RunStats, verify: VerifyStats, engine_info) -> int:
    stamp = timestamp()
    placer = ImagePlacer(docs_root, config.output_dir, copy=config.copy_images)
    written = write_outputs(
        outcomes, gates, documents, config.output_dir, stamp, config.include_reasoning, config.output_formats, placer
    )
    for name, paths in written.datasets.items():
        for path in paths:
            log.info("wrote %s (%s)", path, name)
    for path in written.rejects:
        log.info("rejected requests and pairs, with raw replies and reasons: %s", path)
    report = build_report(outcomes, gates, stats, engine_info, config.to_dict(), stats.resumed, verify)
    report_path = write_new_json(config.output_dir, f"report-{stamp}", report)
    write_new_file(config.output_dir, f"report-{stamp}", ".md", format_markdown(report).encode("utf-8"))
    print(format_table(report))
    log.info("report: %s", report_path)
    totals = report["totals"]
    rejects = ", ".join(f"{k} {v}" for k, v in totals["requests_rejected"].items()) or "none"
    log.info(
        "done: %d requests (%d resumed): %d accepted, %d rejected (%s); %d pairs generated, %d kept; this run: %s",
        totals["requests"],
        report["resumed_requests"],
        totals["requests_accepted"],
        totals["requests"] - totals["requests_accepted"],
        rejects,
        totals["pairs_generated"],
        totals["pairs_accepted"],
        stats.throughput(),
    )
    if not gates.accepted:
        log.error("no pair was kept; see the rejects file(s) for the raw replies and reasons")
        return 1
    return 0


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

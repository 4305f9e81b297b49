"""The run, as its stages in order: load, plan, resume, generate, gate and verify, write, report.

``run(config)`` is the job behind the CLI once the settings are checked (``--check``
and ``--curate`` are other jobs, chosen by ``main``). Each stage is one function
below, called in order by ``run`` and ``generate``; the work itself is in the
stage's module. Generation resumes from the run's journal; gating and verifying
go a group of whole documents at a time, and the files are written once every
request (verify requests included) is finished, then moved into OUTPUT_DIR as one
set. It stops cleanly on SIGINT/SIGTERM; see README, "Resuming and failures".
Library code raises; ``main`` turns errors into exit codes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from utilities.api_utils import LazyEngine, choose_backend
from utilities.file_utils import LoadResult, load_configured_documents
from utilities.generation import WINDOW, RunStats, generate_with_progress
from utilities.journal import Journal, JournalIndex, entry_to_outcome, run_key_inputs
from utilities.logger import get_logger
from utilities.outputs.run_set import RunSet, already_written
from utilities.planner import build_plan, format_plan_summary, plan_file, write_plan
from utilities.prompts import PromptLibrary, RequestBuilder, request_key
from utilities.quality import GateSettings, apply_gates
from utilities.report import Tally, format_markdown, format_table
from utilities.run_control import StopSignal, unfinished_exit_code
from utilities.verify import VerifySettings, VerifyStats, verify_pairs

if TYPE_CHECKING:
    from models.records import PlannedRequest, RequestOutcome
    from utilities.config import Config

log = get_logger("main")


def run(config: Config) -> int:
    """Load and plan; then write the plan (``--dry-run``) or generate."""
    library = None if config.dry_run else PromptLibrary.load(config.run.system_prompt_file)
    loaded = load_configured_documents(config, related_first=config.plan.limit_sections)
    if not loaded.documents:
        log.error("no usable markdown documents in %s", config.run.markdown_docs_dir)
        return 1
    plan = build_plan(loaded, config)
    requests = plan.requests
    print(format_plan_summary(plan))
    if config.dry_run:
        log.info("plan written to %s", write_plan(config.run.output_dir, plan_file(plan, config)))
        return 0
    if not requests:
        log.error("the plan has no requests: no section has what the chosen question types need")
        return 1
    assert library is not None
    skipped = plan.sections_skipped()
    return generate(config, loaded, requests, library, skipped)


@dataclass
class _Run:
    """What every stage after planning needs."""

    config: Config
    requests: list[PlannedRequest]
    build: RequestBuilder
    journal: Journal
    engine: LazyEngine
    stop: StopSignal
    verify_settings: VerifySettings
    sections_skipped: dict[str, list[dict]]  # document -> the sections planned without requests, and why
    finished: JournalIndex = field(init=False)


def generate(
    config: Config,
    loaded: LoadResult,
    requests: list[PlannedRequest],
    library: PromptLibrary,
    sections_skipped: dict[str, list[dict]] | None = None,
) -> int:
    """Resume and generate what is left, then gate, verify, write the files and the report."""
    build = RequestBuilder(loaded.documents, library, config.sampling, config.limits, config.docs_root)
    inputs = run_key_inputs(loaded.documents, config, library.fingerprint())
    journal = Journal.open(config.run.output_dir, inputs, fresh=config.fresh)
    backend = choose_backend(config)
    verify_settings = VerifySettings.from_config(config, backend[0])
    try:
        with StopSignal(journal.path, config.run.stop_grace) as stop, LazyEngine(config, backend) as engine:
            run = _Run(config, requests, build, journal, engine, stop, verify_settings, sections_skipped or {})
            stats = _generate(run, _resume(run))
            if (code := unfinished_exit_code(stop, stats, VerifyStats(), journal.path)) is not None:
                return code
            if (code := _already_written(config, journal)) is not None:
                return code
            run.finished = journal.index()
            return _write(run, stats)
    finally:
        journal.close()


def _resume(run: _Run) -> list[PlannedRequest]:
    """The requests the journal lacks (all of them on a first run)."""
    finished = run.journal.index()
    todo = [p for p in run.requests if request_key(p) not in finished]
    if finished:
        done, total = len(run.requests) - len(todo), len(run.requests)
        log.info(
            "resuming from %s: %d of %d requests already finished, %d to go", run.journal.path, done, total, len(todo)
        )
    return todo


def _generate(run: _Run, todo: list[PlannedRequest]) -> RunStats:
    """Send the requests left; each finished one is journaled as it arrives."""
    if not todo:
        return RunStats(resumed=len(run.requests))
    config = run.config
    stats = generate_with_progress(
        todo, run.engine(), run.build, config.run.max_retries, run.journal.append, run.stop.event, config.run.progress
    )
    stats.resumed = len(run.requests) - len(todo)
    return stats


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
    """What the groups of a run add up to: the report's counts (the records are in the run's set)."""

    tally: Tally = field(default_factory=Tally)
    verify: VerifyStats = field(default_factory=VerifyStats)
    seen_questions: set[str] = field(default_factory=set)


def _gate_and_verify(run: _Run, files: RunSet) -> _Finished:
    """Gate, verify and tally the run a group of documents at a time (stopping where verify could not finish)."""
    done, gate_settings = (
        _Finished(verify=VerifyStats(modes=run.verify_settings.modes)),
        GateSettings.from_config(run.config),
    )
    for group in document_groups(run.requests):
        outcomes = [_journaled(run, p) for p in group]
        gates = apply_gates(outcomes, gate_settings, run.build.docs_root, done.seen_questions)
        verify = verify_pairs(
            gates, run.engine, run.verify_settings, run.finished, run.journal.append_entry, run.stop.event
        )
        done.verify.add(verify)
        if verify.unfinished or run.stop.signum is not None:
            return done
        done.tally.add(outcomes, gates)
        files.add(outcomes, gates, run.build.documents, run.config.run.include_reasoning)
    return done


def _journaled(run: _Run, planned: PlannedRequest) -> RequestOutcome:
    """A finished request's outcome, with the sources its entry keeps (rebuilt for entries from before they were)."""
    entry = run.finished[request_key(planned)]
    if "request" in entry:
        return entry_to_outcome(entry)
    return entry_to_outcome(entry, run.build(planned, len(entry["attempts"]) - 1))


def _already_written(config: Config, journal: Journal) -> int | None:
    """Finish moving a set a crash cut short; the exit code when this run's set is already written, else None."""
    finished, written = already_written(journal.folder, config.run.output_dir, config.to_dict())
    if finished:
        log.warning("finished moving into place the files of a run that was cut short while writing them")
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
    config = run.config
    files = RunSet(run.journal.folder, config.run.output_dir, config.to_dict())
    done = _gate_and_verify(run, files)
    if (code := unfinished_exit_code(run.stop, stats, done.verify, run.journal.path)) is not None:
        return code  # the staging folder is removed by the next run
    report = done.tally.report(
        stats, run.engine.info, config.to_dict(), stats.resumed, done.verify, run.sections_skipped
    )
    files.write(config.run.output_formats, run.build.docs_root, config.run.copy_images, report, format_markdown(report))
    for path in files.publish():
        log.info("wrote %s", path)
    return _report(report, stats, files.kept)


def _report(report: dict, stats: RunStats, kept: int) -> int:
    """The run's table on stdout, its summary in the log; exit 1 when no pair was kept."""
    print(format_table(report))
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
    if not kept:
        log.error("no pair was kept; see the rejects file(s) for the raw replies and reasons")
        return 1
    return 0

"""The two jobs on the same stages: a run (load, plan, resume, generate, gate and verify,
write, report) and ``--curate`` (read, locate, gate and verify, write, report).

``run(config)`` is the job behind the CLI once the settings are checked, ``curate(config)``
the one behind ``--curate`` (``--check`` is the third, chosen by ``main``). Each stage is
one function below; the work itself is in the stage's module. Generation resumes from
the run's journal; ``gate_and_verify`` takes a group of whole documents at a time (a
curate is one group of the pairs read), and the files are written once every request
(verify requests included) is finished: a run's moved into OUTPUT_DIR as one set, a
curate's written into OUTPUT_DIR named after its inputs. Both stop cleanly on SIGINT/SIGTERM; see
README, "Resuming and failures". Library code raises; ``main`` turns errors into exit codes.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.records import ParsedPair, RequestOutcome
from utilities.api_utils import LazyEngine, choose_backend
from utilities.curate import RecordPair, SourceIndex, pair_figures, plan_pair, read_input, read_pairs
from utilities.file_utils import LoadResult, load_configured_documents
from utilities.generation import WINDOW, RunStats, generate_with_progress
from utilities.journal import Journal, JournalIndex, curate_key_inputs, entry_to_outcome, run_key_inputs
from utilities.logger import get_logger
from utilities.outputs.curated import CuratedPair, CuratedSet, CurateInput, format_curate_table, unique_stems
from utilities.outputs.files import write_new_json
from utilities.outputs.run_set import RunSet, already_written
from utilities.planner import build_plan, format_plan_summary, plan_file, write_plan
from utilities.prompts import PROMPT_VERSION, PromptLibrary, RequestBuilder, request_key
from utilities.quality import GateSettings, apply_gates, choose_evidence
from utilities.report import Tally, format_markdown, format_table
from utilities.run_control import StopSignal, unfinished_exit_code
from utilities.text_checks import content_words
from utilities.verify import Verdict, VerifySettings, VerifyStats, verify_pairs

if TYPE_CHECKING:
    from models.documents import Document
    from models.records import BuiltRequest, GateResult, PlannedRequest
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
class Checking:
    """What the gate-and-verify stage needs: the same for a run and for ``--curate``."""

    gates: GateSettings
    docs_root: Path
    engine: LazyEngine
    verify: VerifySettings
    finished: Mapping[str, dict[str, Any]]  # journal entries by key: verdicts of an earlier process are reused
    on_verdict: Callable[[Verdict], None]  # journals each verdict as it is final
    stop: StopSignal


@dataclass
class Checked:
    """What the groups of a run add up to: the report's counts (the records are in the run's set)."""

    tally: Tally = field(default_factory=Tally)
    verify: VerifyStats = field(default_factory=VerifyStats)
    seen_questions: set[str] = field(default_factory=set)


def gate_and_verify(
    checking: Checking,
    groups: Iterable[list[RequestOutcome]],
    add: Callable[[list[RequestOutcome], GateResult], None],
) -> Checked:
    """Gate, verify and tally a group of whole documents at a time, handing each group's verdicts to ``add``.

    Stops at the first group whose verify pass could not finish (the engine failed, or a stop signal).
    """
    done = Checked(verify=VerifyStats(modes=checking.verify.modes))
    for outcomes in groups:
        gates = apply_gates(outcomes, checking.gates, checking.docs_root, done.seen_questions)
        verify = verify_pairs(
            gates, checking.engine, checking.verify, checking.finished, checking.on_verdict, checking.stop.event
        )
        done.verify.add(verify)
        if verify.unfinished or checking.stop.signum is not None:
            return done
        done.tally.add(outcomes, gates)
        add(outcomes, gates)
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
    checking = Checking(
        GateSettings.from_config(config),
        run.build.docs_root,
        run.engine,
        run.verify_settings,
        run.finished,
        run.journal.append_entry,
        run.stop,
    )
    groups = ([_journaled(run, p) for p in group] for group in document_groups(run.requests))
    reasoning = config.run.include_reasoning
    done = gate_and_verify(
        checking, groups, lambda outcomes, gates: files.add(outcomes, gates, run.build.documents, reasoning)
    )
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


def curate(config: Config) -> int:
    """``--curate``: the pairs of other datasets through the run's gate-and-verify stage; their kept records
    written back in their own formats, the rejects, and the run's report with a ``curate`` block."""
    loaded = load_configured_documents(config)
    if not loaded.documents:
        log.error("no usable markdown documents in %s: curated pairs need their sources", config.run.markdown_docs_dir)
        return 1
    files = [read_input(path, stem) for path, stem in zip(config.curate, unique_stems(config.curate))]
    curated = _curated_outcomes(read_pairs(files), loaded.documents, config)
    backend = choose_backend(config)
    settings = VerifySettings.from_config(config, backend[0])
    digests = {f.stem: f.digest for f in files if f.error is None}
    verify = {"prompt_version": PROMPT_VERSION, **settings.fingerprint()}
    inputs = curate_key_inputs(digests, loaded.documents, config, verify)
    journal = Journal.open(config.run.output_dir, inputs, fresh=config.fresh)
    out = CuratedSet(config.run.output_dir, files, {o.request.key: origin for o, origin in curated})
    try:
        with StopSignal(journal.path, config.run.stop_grace) as stop, LazyEngine(config, backend) as engine:
            gates = GateSettings.from_config(config)
            checking = Checking(gates, config.docs_root, engine, settings, journal.load(), journal.append_entry, stop)
            done = gate_and_verify(checking, [[outcome for outcome, _ in curated]], out.add)
            if (code := unfinished_exit_code(stop, None, done.verify, journal.path)) is not None:
                return code
    finally:
        journal.close()
    engine_info = engine.info if settings.modes else {"backend": "none", "note": "VERIFY=none: no engine was used"}
    report = done.tally.report(RunStats(), engine_info, config.to_dict(), 0, done.verify)
    report["curate"] = out.write(settings.modes, journal.load())
    path = write_new_json(config.run.output_dir, f"report-curate-{out.stamp}", report)
    print(format_curate_table(report["curate"]))
    log.info("report: %s", path)
    if not out.kept:
        log.error("no pair was kept; see the rejects file(s) for the gate or verifier and why")
        return 1
    return 0


def _curated_outcomes(
    pairs: list[tuple[CurateInput, int, RecordPair]], documents: list[Document], config: Config
) -> list[tuple[RequestOutcome, CuratedPair]]:
    """Each curated pair as the one pair of the request a run would have made for its source, and its origin."""
    library = PromptLibrary.load(config.run.system_prompt_file)
    build = RequestBuilder(documents, library, config.sampling, config.limits, config.docs_root)
    built_for: dict[PlannedRequest, BuiltRequest] = {}  # pairs of one section share their request
    words = functools.lru_cache(maxsize=None)(content_words)  # a section's quotes serve all its pairs
    curated = []
    for (f, number, pair), source in zip(pairs, SourceIndex(documents).locate([p for _, _, p in pairs])):
        figures = pair_figures(pair.hints, source.document)
        planned = plan_pair(pair, source, figures)
        # document_name None: a curated record is judged as written, since it is kept verbatim
        request = dataclasses.replace(
            built_for.get(planned) or build(planned), key=f"curate:{f.stem}:{number}", document_name=None
        )
        built_for.setdefault(planned, request)
        evidence = pair.hints.evidence or choose_evidence(pair.answer, request.quotes, build.limits.max_evidence, words)
        parsed = ParsedPair(pair.question, pair.answer, pair.reasoning_steps, evidence, figures)
        defaulted, evidence_from = pair.hints.question_type is None, "record" if pair.hints.evidence else "source"
        origin = CuratedPair(f, number, source.to_dict(), defaulted, evidence_from)
        curated.append((RequestOutcome(request, "accepted", (parsed,), None, []), origin))
    return curated

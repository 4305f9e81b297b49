"""The run: check settings, load documents, plan, then generate (or write the plan).

``run(config)`` is the whole job behind the CLI. Generation resumes from the run's
journal, sends what is left to the engine, stops cleanly on SIGINT/SIGTERM, and
writes the final files only once every request is finished; see README,
"Resuming and failures". Library code raises; ``main`` turns errors into exit codes.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import threading
from pathlib import Path
from typing import Any

from models.schemas import ReplyLimits
from utilities.api_utils import ENGINES, create_engine
from utilities.check import check_engine
from utilities.config import Config
from utilities.engines.base import ImageStore
from utilities.errors import ConfigError
from utilities.exports import ImagePlacer
from utilities.file_utils import LoadResult, load_documents
from utilities.generation import PROGRESS_EVERY_S, RunStats, generate_all
from utilities.journal import Journal, entry_to_outcome, run_key_inputs
from utilities.logger import get_logger
from utilities.output import write_outputs
from utilities.output_files import timestamp, write_new_file, write_new_json
from utilities.plan import build_plan, format_plan_summary
from utilities.planner import PlannedRequest
from utilities.progress import progress_bar
from utilities.prompts import PromptLibrary, SamplingSettings, build_request, request_key
from utilities.quality import GateSettings, apply_gates
from utilities.report import build_report, format_markdown, format_table

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
    check_backend(config)
    if "hf" in config.output_formats and importlib.util.find_spec("pyarrow") is None:
        raise ConfigError("OUTPUT_FORMATS=hf writes parquet and needs pyarrow: pip install pyarrow")


EXIT_UNFINISHED = 3  # the engine failed; finished requests are journaled, rerun to resume


class StopSignal:
    """SIGINT/SIGTERM: start no new request, let those in flight finish; a second one abandons them."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignal:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if self.event.is_set():
            log.error("%s again: abandoning the requests in flight; finished ones are in the journal", name)
            os._exit(128 + signum)
        self.signum = signum
        self.event.set()
        log.warning("%s: finishing the requests in flight and starting no new ones (again to abandon them)", name)


def generate(config: Config, loaded: LoadResult, requests: list[PlannedRequest], library: PromptLibrary) -> int:
    documents = {d.name: d for d in loaded.documents}
    docs_root = Path(os.path.realpath(config.markdown_docs_dir))
    sampling = SamplingSettings.from_config(config)
    limits = ReplyLimits(max_answer_chars=config.max_answer_chars)

    def build(planned: PlannedRequest, attempt: int):
        return build_request(documents[planned.document], planned, library, sampling, limits, docs_root, attempt)

    journal = Journal.open(config.output_dir, run_key_inputs(loaded.documents, config, library), fresh=config.fresh)
    finished = journal.load()
    keys = [request_key(p) for p in requests]
    todo = [p for p, key in zip(requests, keys) if key not in finished]
    if finished:
        log.info(
            "resuming from %s: %d of %d requests already finished, %d to go",
            journal.path,
            len(requests) - len(todo),
            len(requests),
            len(todo),
        )
    stats = RunStats()
    engine_info: dict[str, Any] = {"backend": "none", "note": "every request was finished by an earlier run"}
    with StopSignal() as stop:
        try:
            if todo:
                engine = create_engine(config, ImageStore(config.max_image_side))
                engine_info = engine.describe()
                log.info("engine settings: %s", engine_info)
                try:
                    with progress_bar(len(todo), config.progress) as bar:
                        _, stats = generate_all(
                            todo,
                            engine,
                            build,
                            config.max_retries,
                            journal.append,
                            stop.event,
                            on_progress=bar.update,
                            log_every_s=None if bar.enabled else PROGRESS_EVERY_S,
                        )
                finally:
                    engine.close()
        finally:
            journal.close()
    resume = f"rerun the same command to resume (journal: {journal.path})"
    if stop.signum is not None:
        log.warning("stopped by %s: %s; %s", signal.Signals(stop.signum).name, stats.summary(), resume)
        return 128 + stop.signum
    if stats.unfinished_requests:
        log.error(
            "%d request(s) unfinished because the engine failed (last error: %s); %s",
            stats.unfinished_requests,
            stats.last_engine_error,
            resume,
        )
        return EXIT_UNFINISHED

    entries = journal.load()
    outcomes = [
        entry_to_outcome(entries[key], build(p, len(entries[key]["attempts"]) - 1)) for p, key in zip(requests, keys)
    ]
    gate_settings = GateSettings(
        grounding_threshold=config.grounding_threshold,
        answer_support_floor=config.answer_support_floor,
        dedup_threshold=config.dedup_threshold,
        min_answer_chars=config.min_answer_chars,
    )
    figure_paths = {
        d.name: {ref.id: ref.path for s in d.sections for ref in s.figures if ref.path} for d in loaded.documents
    }
    gates = apply_gates(outcomes, figure_paths, gate_settings, docs_root)
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
    report = build_report(outcomes, gates, stats, engine_info, config.to_dict(), resumed=len(requests) - len(todo))
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
    library = None if config.dry_run else PromptLibrary.load(config.system_prompt_file)
    loaded = load_documents(
        config.markdown_docs_dir,
        max_section_chars=config.max_section_chars,
        related_k=config.related_sections,
        related_min_similarity=config.related_min_similarity,
    )
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

"""Turn markdown technical documents into question-answer fine-tuning data.

    python generate_synthetic_data.py                    # generate train-*.json and eval-*.json
    python generate_synthetic_data.py --dry-run          # split, plan, write output/plan-*.json
    python generate_synthetic_data.py --backend openai --api-base-url http://gpu-node:23333/v1

Settings come from .env, then the environment, then these flags (see --help).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from models.schemas import ReplyLimits
from utilities.api_utils import ENGINES, create_engine
from utilities.config import Config, load_config
from utilities.engines.base import ImageStore
from utilities.errors import ConfigError, SyntheticDataError
from utilities.file_utils import LoadResult, load_documents
from utilities.generation import generate_all
from utilities.logger import get_logger, setup_logging
from utilities.output import write_outputs
from utilities.output_files import timestamp, write_new_file, write_new_json
from utilities.plan import build_plan, format_plan_summary
from utilities.planner import PlannedRequest
from utilities.prompts import PromptLibrary, SamplingSettings, build_request
from utilities.quality import GateSettings, apply_gates
from utilities.report import build_report, format_markdown, format_table

log = get_logger("main")


def check_settings(config: Config) -> None:
    docs = config.markdown_docs_dir
    if not docs.is_dir():
        raise ConfigError(f"MARKDOWN_DOCS_DIR must be an existing folder, got '{docs}'")
    docs_real, out_real = docs.resolve(), config.output_dir.resolve()
    if out_real == docs_real or out_real.is_relative_to(docs_real):
        raise ConfigError(f"OUTPUT_DIR must not be inside MARKDOWN_DOCS_DIR, got '{config.output_dir}' inside '{docs}'")
    if config.backend != "auto" and config.backend not in ENGINES:
        raise ConfigError(f"BACKEND must be one of auto, {', '.join(ENGINES)}, got '{config.backend}'")


def generate(config: Config, loaded: LoadResult, requests: list[PlannedRequest], library: PromptLibrary) -> int:
    documents = {d.name: d for d in loaded.documents}
    docs_root = Path(os.path.realpath(config.markdown_docs_dir))
    sampling = SamplingSettings(
        max_new_tokens=config.max_new_tokens,
        temperature=config.temperature,
        top_p=config.top_p,
        seed=config.seed,
        max_images=config.max_images_per_request,
    )
    limits = ReplyLimits(max_answer_chars=config.max_answer_chars)

    def build(planned: PlannedRequest, attempt: int):
        return build_request(documents[planned.document], planned, library, sampling, limits, docs_root, attempt)

    stamp = timestamp()
    engine = create_engine(config, ImageStore(config.max_image_side))
    engine_info = engine.describe()
    log.info("engine settings: %s", engine_info)
    try:
        outcomes, stats = generate_all(requests, engine, build, config.max_retries)
    finally:
        engine.close()
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
    written = write_outputs(outcomes, gates, documents, config.output_dir, stamp, config.include_reasoning)
    for path in [*written.train, *written.eval]:
        log.info("wrote %s", path)
    for path in written.rejects:
        log.info("rejected requests and pairs, with raw replies and reasons: %s", path)
    report = build_report(outcomes, gates, stats, engine_info, config.to_dict())
    report_path = write_new_json(config.output_dir, f"report-{stamp}", report)
    write_new_file(config.output_dir, f"report-{stamp}", ".md", format_markdown(report).encode("utf-8"))
    print(format_table(report))
    log.info("report: %s", report_path)
    log.info("done: %s; %d pairs kept after the quality gates", stats.summary(), len(gates.accepted))
    if not gates.accepted:
        log.error("no pair was kept; see the rejects file(s) for the raw replies and reasons")
        return 1
    return 0


def run(config: Config) -> int:
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


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = load_config(argv, os.environ)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except SystemExit as exc:  # argparse: --help, or a flag it could not parse
        return int(exc.code or 0)
    setup_logging(config.log_level, config.log_file)
    try:
        return run(config)
    except SyntheticDataError as exc:
        log.error("%s", exc)
        return exc.exit_code
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())

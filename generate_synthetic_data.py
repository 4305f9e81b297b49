"""Turn markdown technical documents into question-answer fine-tuning data.

    python generate_synthetic_data.py --dry-run          # split, plan, write output/plan-*.json
    python generate_synthetic_data.py                    # generate train-*.json and eval-*.json
    python generate_synthetic_data.py --docs-dir manuals --output-dir out --num-gpus 2

Settings come from .env, then the environment, then these flags (see --help).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from utilities.config import Config, load_config
from utilities.errors import ConfigError, SyntheticDataError
from utilities.file_utils import load_documents
from utilities.logger import get_logger, setup_logging
from utilities.output_files import timestamp, write_new_json
from utilities.plan import build_plan, format_plan_summary

log = get_logger("main")


def check_folders(config: Config) -> None:
    docs = config.markdown_docs_dir
    if not docs.is_dir():
        raise ConfigError(f"MARKDOWN_DOCS_DIR must be an existing folder, got '{docs}'")
    docs_real, out_real = docs.resolve(), config.output_dir.resolve()
    if out_real == docs_real or out_real.is_relative_to(docs_real):
        raise ConfigError(f"OUTPUT_DIR must not be inside MARKDOWN_DOCS_DIR, got '{config.output_dir}' inside '{docs}'")


def run(config: Config) -> int:
    check_folders(config)
    loaded = load_documents(
        config.markdown_docs_dir,
        max_section_chars=config.max_section_chars,
        related_k=config.related_sections,
        related_min_similarity=config.related_min_similarity,
    )
    plan, _requests = build_plan(loaded, config)
    if not loaded.documents:
        log.error("no usable markdown documents in %s", config.markdown_docs_dir)
        return 1
    if config.dry_run:
        path = write_new_json(config.output_dir, f"plan-{timestamp()}", plan)
        print(format_plan_summary(plan))
        log.info("plan written to %s", path)
        return 0
    print(format_plan_summary(plan))
    log.error("generation is not available in this version yet; use --dry-run to write the plan")
    return 1


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

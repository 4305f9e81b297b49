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

from utilities.config import load_config
from utilities.errors import ConfigError, SyntheticDataError
from utilities.logger import get_logger, setup_logging
from utilities.pipeline import EXIT_UNFINISHED, run

__all__ = ["EXIT_UNFINISHED", "main"]

log = get_logger("main")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = load_config(argv, os.environ)
        setup_logging(config.log_level, config.log_file)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except SystemExit as exc:  # argparse: --help, or a flag it could not parse
        return int(exc.code or 0)
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

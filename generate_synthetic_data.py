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

from utilities import engines
from utilities.check import check_engine, check_settings
from utilities.config import Config, load_config
from utilities.errors import ConfigError, SyntheticDataError
from utilities.logger import get_logger, setup_logging
from utilities.pipeline import curate, run
from utilities.run_control import EXIT_UNFINISHED

__all__ = ["EXIT_UNFINISHED", "main"]

log = get_logger("main")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = load_config(argv, os.environ)
        setup_logging(config.run.log_level, config.run.log_file)
    except ConfigError as exc:  # said like every other error: a log line on stderr
        setup_logging()
        log.error("%s", exc)
        return exc.exit_code
    except SystemExit as exc:  # argparse: --help, or a flag it could not parse
        return int(exc.code or 0)
    try:
        return _run_job(config)
    except SyntheticDataError as exc:
        log.error("%s", exc)
        return exc.exit_code
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130


def _run_job(config: Config) -> int:
    """``--check``, ``--curate`` or a run (``--dry-run`` included)."""
    if config.check:  # needs no documents: only the engine's settings are checked
        engines.check_name(config.run.backend)
        return check_engine(config)
    check_settings(config)
    if config.curate:
        return curate(config)
    return run(config)


if __name__ == "__main__":
    sys.exit(main())

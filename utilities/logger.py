"""Logging for the CLI: colored level names on a terminal, plain text elsewhere.

``setup_logging`` is called once by ``main`` and raises ConfigError when
LOG_FILE cannot be opened; calling it again replaces the handlers it installed
before (tests call ``main`` many times in one process).
Colors are off when the stream is not a TTY or ``NO_COLOR`` is set
(https://no-color.org). Library modules only do ``log = get_logger(__name__)``; the run's own
lines (pipeline, run_control, main) come from ``get_logger("main")``, the name LOG_FILE shows for them.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TextIO

from colorama import Fore, Style

from utilities.errors import ConfigError
from utilities.outputs.files import make_folder

LOGGER_NAME = "synthetic_data"  # parent of every module logger that should reach the user

_LEVEL_COLORS = {
    logging.DEBUG: Fore.CYAN,
    logging.INFO: Fore.GREEN,
    logging.WARNING: Fore.YELLOW,
    logging.ERROR: Fore.RED,
    logging.CRITICAL: Fore.RED + Style.BRIGHT,
}


class ColorFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        color = _LEVEL_COLORS.get(record.levelno, "")
        return text.replace(record.levelname, f"{color}{record.levelname}{Style.RESET_ALL}", 1)


def is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def use_color(stream: TextIO) -> bool:
    return not os.environ.get("NO_COLOR") and is_terminal(stream)


def get_logger(module: str) -> logging.Logger:
    """A module logger under the tool's root logger: ``get_logger(__name__)``."""
    return logging.getLogger(f"{LOGGER_NAME}.{module}")


def format_duration(seconds: float) -> str:
    """A time span as a person reads it.

    >>> format_duration(3725), format_duration(1230), format_duration(95), format_duration(20)
    ('1 h 02 min', '20 min', '1 min 35 s', '20 s')
    """
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest:02d} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def setup_logging(level: str = "INFO", log_file: Path | None = None, stream: TextIO | None = None) -> None:
    root = logging.getLogger(LOGGER_NAME)
    for handler in list(root.handlers):
        if getattr(handler, "_installed_by_setup_logging", False):  # leave others' handlers alone
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    root.propagate = False

    stream = stream or sys.stderr
    console = logging.StreamHandler(stream)
    fmt = "%(asctime)s %(levelname)s %(message)s"
    console.setFormatter(
        ColorFormatter(fmt, datefmt="%H:%M:%S") if use_color(stream) else logging.Formatter(fmt, datefmt="%H:%M:%S")
    )
    console._installed_by_setup_logging = True  # type: ignore[attr-defined]
    root.addHandler(console)

    if log_file is not None:
        file_handler = _open_log_file(log_file)
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        file_handler._installed_by_setup_logging = True  # type: ignore[attr-defined]
        root.addHandler(file_handler)


def _open_log_file(log_file: Path) -> logging.FileHandler:
    """Opening LOG_FILE is its check: a folder, a path under a file or no permission is a ConfigError."""
    try:
        make_folder(log_file.parent)
        return logging.FileHandler(log_file, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"LOG_FILE must be a file this tool can write, got '{log_file}' ({exc.strerror})") from None

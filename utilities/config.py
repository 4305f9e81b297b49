"""Settings: one typed, frozen config built from defaults < .env < environment < CLI flags.

Every setting the code reads is declared once in ``SETTINGS``: its environment
name, parser, default and help. The CLI flags, ``.env.example`` and the README
table are checked against this list by the tests, so they cannot drift apart.
A bad value raises ``ConfigError`` with a one-line message naming the setting
and the value (``NUM_GPUS must be a positive integer, got 'two'``).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from models.question_types import QuestionType, parse_question_types
from utilities.errors import ConfigError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {raw!r}")
    return value


def _non_negative_int(name: str, raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        value = -1
    if value < 0:
        raise ConfigError(f"{name} must be a non-negative integer, got {raw!r}")
    return value


def _unit_float(name: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name} must be a number between 0 and 1, got {raw!r}")
    return value


def _non_empty(name: str, raw: str) -> str:
    if not raw.strip():
        raise ConfigError(f"{name} must not be empty, got {raw!r}")
    return raw.strip()


def _optional_path(name: str, raw: str) -> Path | None:
    return Path(raw.strip()) if raw.strip() else None


def _path(name: str, raw: str) -> Path:
    return Path(_non_empty(name, raw))


def _log_level(name: str, raw: str) -> str:
    value = raw.strip().upper()
    if value not in LOG_LEVELS:
        raise ConfigError(f"{name} must be one of {', '.join(LOG_LEVELS)}, got {raw!r}")
    return value


def _question_types(name: str, raw: str) -> tuple[QuestionType, ...]:
    try:
        return tuple(parse_question_types(raw))
    except ValueError as exc:
        valid = ", ".join(qt.value for qt in QuestionType)
        raise ConfigError(f"{name} has an {exc} in {raw!r}; valid: all, {valid}") from None


@dataclass(frozen=True)
class Setting:
    env: str  # the .env / environment variable name
    parse: Callable[[str, str], Any]
    default: str  # as it would be written in .env
    help: str
    flag_name: str | None = None  # when the flag is not the env name in kebab case

    @property
    def field(self) -> str:
        return self.env.lower()

    @property
    def flag(self) -> str:
        return "--" + (self.flag_name or self.env.lower().replace("_", "-"))


SETTINGS: tuple[Setting, ...] = (
    Setting("MODEL", _non_empty, "OpenGVLab/InternVL3-8B-AWQ", "model id or local path for the lmdeploy engine"),
    Setting("MODEL_FORMAT", _non_empty, "awq", "weight format of MODEL for lmdeploy (awq, gptq, hf, fp8)"),
    Setting("NUM_GPUS", _positive_int, "1", "GPUs for tensor parallelism in the lmdeploy engine"),
    Setting(
        "MARKDOWN_DOCS_DIR",
        _path,
        "markdown_docs",
        "folder of input *.md documents and their image folders",
        flag_name="docs-dir",
    ),
    Setting("OUTPUT_DIR", _path, "output", "folder for train/eval files, plans and reports"),
    Setting("MAX_RETRIES", _non_negative_int, "3", "re-sends of a request whose reply failed validation"),
    Setting("LOG_LEVEL", _log_level, "INFO", "DEBUG, INFO, WARNING, ERROR or CRITICAL"),
    Setting("LOG_FILE", _optional_path, "", "also write the log (uncolored) to this file; empty for none"),
    Setting("RELATED_SECTIONS", _non_negative_int, "2", "k: related sections found per section by TF-IDF + KNN"),
    Setting(
        "RELATED_MIN_SIMILARITY",
        _unit_float,
        "0.1",
        "cosine similarity below which a neighbour is not related",
    ),
    Setting(
        "MAX_SECTION_CHARS",
        _positive_int,
        "6000",
        "sections longer than this split at paragraph boundaries",
    ),
    Setting("MAX_IMAGE_SIDE", _positive_int, "2048", "images are downscaled so their longest side is at most this"),
    Setting("QUESTION_TYPES", _question_types, "all", "comma-separated question types to generate, or all"),
    Setting(
        "QUESTIONS_PER_REQUEST",
        _positive_int,
        "3",
        "pairs one request asks for (FACT_BASED: facts per request)",
    ),
)

SETTINGS_BY_ENV = {s.env: s for s in SETTINGS}


@dataclass(frozen=True)
class Config:
    model: str
    model_format: str
    num_gpus: int
    markdown_docs_dir: Path
    output_dir: Path
    max_retries: int
    log_level: str
    log_file: Path | None
    related_sections: int
    related_min_similarity: float
    max_section_chars: int
    max_image_side: int
    question_types: tuple[QuestionType, ...]
    questions_per_request: int
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The effective settings as JSON-friendly values, keyed by environment name."""
        out: dict[str, Any] = {}
        for setting in SETTINGS:
            value = getattr(self, setting.field)
            if isinstance(value, Path):
                value = value.as_posix()
            elif isinstance(value, tuple):
                value = [v.value for v in value]
            out[setting.env] = value
        return out


def build_arg_parser(description: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="generate_synthetic_data.py",
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="split documents and plan requests, write OUTPUT_DIR/plan-<timestamp>.json; load no model",
    )
    parser.add_argument(
        "--env-file",
        default=".env",
        metavar="PATH",
        help="settings file read before the environment (default: .env in the current folder)",
    )
    for setting in SETTINGS:
        parser.add_argument(
            setting.flag,
            dest=setting.field,
            default=None,
            metavar=setting.env,
            help=f"{setting.help} [env {setting.env}, default {setting.default!r}]",
        )
    return parser


def read_raw_settings(environ: Mapping[str, str], env_file: str | os.PathLike[str] | None) -> dict[str, str]:
    """Merge defaults, the .env file and the environment (later wins), as raw strings."""
    raw = {s.env: s.default for s in SETTINGS}
    if env_file is not None and Path(env_file).is_file():
        for key, value in dotenv_values(env_file).items():
            if key in SETTINGS_BY_ENV and value is not None:
                raw[key] = value
    for key in SETTINGS_BY_ENV:
        if key in environ:
            raw[key] = environ[key]
    return raw


def load_config(argv: Sequence[str] | None, environ: Mapping[str, str]) -> Config:
    """Build the run's config. Raises ConfigError (and argparse's SystemExit for bad flags)."""
    args = build_arg_parser().parse_args(argv)
    raw = read_raw_settings(environ, args.env_file)
    for setting in SETTINGS:
        flag_value = getattr(args, setting.field)
        if flag_value is not None:
            raw[setting.env] = flag_value
    values = {s.field: s.parse(s.env, raw[s.env]) for s in SETTINGS}
    return Config(**values, dry_run=args.dry_run)


def read_setting(name: str, environ: Mapping[str, str], env_file: str | os.PathLike[str] | None = ".env") -> Any:
    """One parsed setting with the same precedence, for tools that take no other flags."""
    setting = SETTINGS_BY_ENV[name]
    return setting.parse(name, read_raw_settings(environ, env_file)[name])

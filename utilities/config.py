"""Settings: one typed, frozen config built from defaults < .env < environment < CLI flags.

Every setting the code reads is declared once, as a field of the typed model of
its concern (``utilities/settings.py`` says how): the models below, the sampling
settings in ``utilities/prompts.py``, the reply limits in ``models/schemas.py``
and each engine's options in its own module. ``SECTIONS`` lists the concerns;
``SETTINGS`` is derived from them, and the CLI flags and ``--help`` are built from
it while the tests check ``.env.example`` and the README table against it.
A bad value raises ``ConfigError`` with a one-line message naming the setting
and the value (``NUM_GPUS must be a positive integer, got 'two'``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, TypeVar

from dotenv import dotenv_values

from models.question_types import QuestionType, parse_question_types
from models.schemas import ReplyLimits
from utilities import __version__
from utilities.engines import ENGINES
from utilities.engines.base import ModelSettings
from utilities.errors import ConfigError
from utilities.prompts import SamplingSettings
from utilities.quality import GateSettings
from utilities.settings import (
    Bool,
    Float,
    FolderPath,
    Int,
    NonEmptyLower,
    OptionalPath,
    Setting,
    SettingsModel,
    SettingValueError,
    choice,
    parse_section,
    parsed,
    rows,
    setting,
)

S = TypeVar("S", bound=SettingsModel)

DEFAULT_ENV_FILE = ".env"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


OUTPUT_FORMAT_NAMES = ("phi", "jsonl", "internvl", "sharegpt", "hf")


def _output_formats(raw: str) -> tuple[str, ...]:
    names = [part.strip().lower() for part in raw.split(",") if part.strip()]
    if not names:
        raise SettingValueError(f"must name at least one of {', '.join(OUTPUT_FORMAT_NAMES)}, got {raw!r}")
    unknown = [n for n in names if n not in OUTPUT_FORMAT_NAMES]
    if unknown:
        valid = ", ".join(OUTPUT_FORMAT_NAMES)
        raise SettingValueError(f"has unknown format {unknown[0]!r} in {raw!r}; valid: {valid}")
    return tuple(dict.fromkeys(names))


def _question_types(raw: str) -> tuple[QuestionType, ...]:
    try:
        return tuple(parse_question_types(raw))
    except ValueError as exc:
        valid = ", ".join(qt.value for qt in QuestionType)
        raise SettingValueError(f"has an {exc} in {raw!r}; valid: all, {valid}") from None


VERIFIERS = ("answerability", "judge", "locate")
# what VERIFY=auto runs with an engine that verifies by default: locate is opt-in (README, Verify pass)
AUTO_VERIFIERS = ("answerability", "judge")


def _verify_modes(raw: str) -> tuple[str, ...]:
    """``auto``, ``none`` or a comma-separated subset of VERIFIERS (``auto`` is resolved per engine)."""
    names = [part.strip().lower() for part in raw.split(",") if part.strip()]
    if names in (["auto"], ["none"]):
        return tuple(names)
    unknown = [n for n in names if n not in VERIFIERS]
    if not names or unknown:
        raise SettingValueError(
            f"must be auto, none, or a comma-separated subset of {', '.join(VERIFIERS)}, got {raw!r}"
        )
    return tuple(m for m in VERIFIERS if m in names)


class RunSettings(SettingsModel):
    """Where documents come from and results go, logging, the engine's name."""

    markdown_docs_dir: FolderPath = setting(
        "markdown_docs", "folder of input *.md documents and their image folders", flag="docs-dir"
    )
    output_dir: FolderPath = setting("output", "folder for train/eval files, plans and reports")
    output_formats: Annotated[tuple[str, ...], parsed(_output_formats)] = setting(
        "phi", "comma-separated: phi (the spec's JSON), jsonl, internvl, sharegpt (LLaMA-Factory), hf (parquet)"
    )
    copy_images: Bool = setting(
        "false", "copy the figures into OUTPUT_DIR/images/ and point every file there, so OUTPUT_DIR can be moved"
    )
    max_retries: Int = setting("3", "re-sends of a request whose reply failed validation", ge=0, run_key=True)
    stop_grace: Float = setting(
        "30",
        "seconds a first Ctrl-C or SIGTERM waits for the requests in flight before abandoning them (finished"
        " ones are journaled; rerun to resume)",
        ge=0.0,
    )
    log_level: choice(*LOG_LEVELS, case=str.upper) = setting("INFO", "DEBUG, INFO, WARNING, ERROR or CRITICAL")
    progress: choice("auto", "on", "off") = setting(
        "auto", "progress bar on stderr: auto (when it is a terminal), on or off"
    )
    log_file: OptionalPath = setting("", "also write the log (uncolored) to this file; empty for none")
    # a name checked later against the engine registry (engines register at run time)
    backend: NonEmptyLower = setting("auto", f"engine: auto, {', '.join(ENGINES)}", run_key=True, curate_key=True)
    system_prompt_file: OptionalPath = setting("", "your own system prompt (domain rules); empty for prompts/system.md")
    include_reasoning: Bool = setting("true", "put the reasoning steps in <think>...</think> before each answer")


class PlanSettings(SettingsModel):
    """How documents become sections and requests."""

    related_sections: Int = setting(
        "2", "k: related sections found per section by TF-IDF + KNN", ge=0, run_key=True, curate_key=True
    )
    related_min_similarity: Float = setting(
        "0.1",
        "cosine similarity below which a neighbour is not related",
        ge=0.0,
        le=1.0,
        run_key=True,
        curate_key=True,
    )
    max_section_chars: Int = setting(
        "6000", "sections longer than this split at paragraph boundaries", ge=1, run_key=True, curate_key=True
    )
    max_image_side: Int = setting(
        "2048", "images are downscaled so their longest side is at most this", ge=1, run_key=True
    )
    # Not in the run key: a request's key names its type, so adding a type reuses the others' journaled work.
    question_types: Annotated[tuple[QuestionType, ...], parsed(_question_types)] = setting(
        "all", "comma-separated question types to generate, or all"
    )
    questions_per_request: Int = setting(
        "2", "pairs one request asks for (FACT_BASED: facts per request)", ge=1, run_key=True
    )
    # 8: on the sample's first command, twice the pairs, the engine evaluating 25% of the prompt tokens sent against
    # 48% (a section's windows share its prefix), and 43 good kept of 57 against 23 of 30 (labelled sets r39, r31).
    # Once off: before fill-in-the-blank items were built from standing sentences, the 1.5B asked its windows for
    # values they do not hold (r6).
    sentences_per_request: Int = setting(
        "8",
        "FACTUAL_RECALL and TRUE_FALSE_FILL_BLANK: one request per this many citable sentences of a section, "
        "each asking about its own run of them (with EVIDENCE_FORMAT=ids); 0: one request per section",
        ge=0,
        run_key=True,
    )
    limit_sections: Int = setting("0", "plan only the first N sections of each document (0: all)", ge=0)
    # Not in the run key, like LIMIT_SECTIONS: it chooses which sections are planned, not what a request is.
    min_section_words: Int = setting(
        "25",
        "sections with fewer words of text (heading and markup aside), or with no substance (mostly links, a"
        " notice, a biography, names, references, a change log), get no requests; 0 plans every section",
        ge=0,
    )


class VerifyChoice(SettingsModel):
    """Which verify passes run and their thresholds (resolved per engine by utilities/verify.py)."""

    verify: Annotated[tuple[str, ...], parsed(_verify_modes)] = setting(
        "auto",
        "second pass over surviving pairs: none, a comma-separated subset of answerability, judge, locate, or auto"
        " (by engine)",
    )
    verify_agreement: Float = setting(
        "0.3",
        "answerability: content-word F1 the re-answer from the source must reach against the pair's answer",
        ge=0.0,
        le=1.0,
    )
    judge_min_score: Int = setting("3", "judge: lowest rating (1-5) kept on each of its criteria", ge=1, le=5)


# Every concern, in the order of --help and of the report's settings; an engine's options come with it.
SECTIONS: tuple[type[SettingsModel], ...] = (
    RunSettings,
    PlanSettings,
    SamplingSettings,
    ReplyLimits,
    GateSettings,
    VerifyChoice,
    ModelSettings,
    *(engine.Options for engine in ENGINES.values()),
)
SETTINGS: tuple[Setting, ...] = tuple(s for section in SECTIONS for s in rows(section))
SETTINGS_BY_ENV = {s.env: s for s in SETTINGS}
SETTINGS_BY_FIELD = {s.field: s for s in SETTINGS}


def build_sections(raw: Mapping[str, str]) -> tuple[SettingsModel, ...]:
    """Every concern's settings from raw text values. A field that uses a setting declared by another
    concern (the engines' ``MODEL``, declared in ``ModelSettings``) gets that setting's parsed value."""
    sections = [parse_section(section, raw) for section in SECTIONS]
    values = {s.env: getattr(sections[SECTIONS.index(s.section)], s.attr) for s in SETTINGS}
    for index, section in enumerate(sections):
        declared = {s.attr for s in rows(type(section))}
        uses = {
            name: values[info.alias]
            for name, info in type(section).model_fields.items()
            if name not in declared and info.alias in values
        }
        if uses:
            sections[index] = section.model_copy(update=uses)
    return tuple(sections)


@dataclass(frozen=True)
class Config:
    """The run's settings, one typed model per concern: ``config.run.output_dir``, ``config.plan``,
    ``config.sampling``, ``config.limits``, ``config.gates``, ``config.verifying``, and each engine's
    options by its model (``config.section(OpenAISettings).base_urls``)."""

    sections: tuple[SettingsModel, ...] = field(default_factory=lambda: build_sections({}))
    dry_run: bool = False
    fresh: bool = False
    check: bool = False
    curate: tuple[Path, ...] = ()  # --curate FILE...: gate and verify existing datasets instead of generating

    @property
    def docs_root(self) -> Path:
        """MARKDOWN_DOCS_DIR with symlinks resolved: what image paths are relative to and must stay inside."""
        return Path(os.path.realpath(self.run.markdown_docs_dir))

    def section(self, kind: type[S]) -> S:
        return next(s for s in self.sections if type(s) is kind)

    @property
    def run(self) -> RunSettings:
        return self.section(RunSettings)

    @property
    def plan(self) -> PlanSettings:
        return self.section(PlanSettings)

    @property
    def sampling(self) -> SamplingSettings:
        return self.section(SamplingSettings)

    @property
    def limits(self) -> ReplyLimits:
        return self.section(ReplyLimits)

    @property
    def gates(self) -> GateSettings:
        return self.section(GateSettings)

    @property
    def verifying(self) -> VerifyChoice:
        return self.section(VerifyChoice)

    def to_dict(self) -> dict[str, Any]:
        """The effective settings as JSON-friendly values, keyed by environment name."""
        out: dict[str, Any] = {}
        for row in SETTINGS:
            value = getattr(self.section(row.section), row.attr)
            if row.secret:
                value = "(set)" if value else ""
            elif isinstance(value, Path):
                value = value.as_posix()
            elif isinstance(value, tuple):
                value = [getattr(v, "value", v) for v in value]
            out[row.env] = value
        return out


def version_text() -> str:
    """The tool's version, and those of the engines' libraries that are installed (for bug reports)."""
    engines = []
    for package in dict.fromkeys(p for engine in ENGINES.values() for p in engine.packages):
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
    for row in SETTINGS:
        # a true/false row may be given as a bare flag: --copy-images means --copy-images true
        switch = {"nargs": "?", "const": "true"} if row.is_switch else {}
        parser.add_argument(
            row.flag,
            dest=row.field,
            default=None,
            metavar=row.env,
            help=f"{row.help} [env {row.env}, default {row.default!r}]",
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
    for row in SETTINGS:
        flag_value = getattr(args, row.field)
        if flag_value is not None:
            raw[row.env] = flag_value
    return Config(
        build_sections(raw), dry_run=args.dry_run, fresh=args.fresh, check=args.check, curate=tuple(args.curate)
    )


def read_setting(name: str, environ: Mapping[str, str], env_file: str | os.PathLike[str] | None = None) -> Any:
    """One parsed setting with the same precedence, for tools that take no other flags."""
    row = SETTINGS_BY_ENV[name]
    only = {name: read_raw_settings(environ, env_file)[name]}
    return getattr(parse_section(row.section, only), row.attr)

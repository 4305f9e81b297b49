"""How a setting is declared: once, as a field of the typed model of its concern.

A concern (sampling, quality gates, one engine's options) is a frozen pydantic
model whose fields are declared with ``setting()``: the environment name is the
field's alias, the default is written as it would be in ``.env`` and parsed like
any value a user gives, the bounds are pydantic constraints (``ge=1``), and the
help line, the flag and the run-key marks ride on the field. ``rows()`` turns a
model into the ``Setting`` rows that the CLI flags, ``--help``, ``.env.example``
and the README table are built from or checked against. What this module does
not do: know which concerns exist (``utilities/config.py`` lists them) or read
any file or environment.

A bad value becomes one ``ConfigError`` line naming the setting and the value as
given: ``NUM_GPUS must be a positive integer, got 'two'``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import annotated_types
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

from utilities.errors import ConfigError


class SettingValueError(ValueError):
    """A parser's own complaint, worded to follow the setting's name: ``must not be empty, got ' '``."""


class SettingsModel(BaseModel):
    """One concern's settings: frozen, unknown names refused, fields by name or by environment name."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=str.upper,
        validate_by_name=True,
        validate_by_alias=True,
        validate_default=True,
    )

    @classmethod
    def from_config(cls, config: Any) -> Any:
        """This concern's settings in a loaded ``Config`` (kept for callers written before sections)."""
        return config.section(cls)


def setting(
    default: str,
    help: str,
    *,
    env: str | None = None,
    flag: str | None = None,
    run_key: bool = False,
    curate_key: bool = False,
    secret: bool = False,
    **constraints: Any,
) -> Any:
    """A field that is a setting. ``default`` is written as in ``.env`` and parsed like a user's value.

    ``env`` when the environment name is not the field name in capitals; ``flag`` when the flag is not
    the environment name in kebab case; ``run_key``: the value changes what is asked or how it is sampled,
    so it is part of the run key (utilities/journal.py); ``curate_key``: likewise for ``--curate``;
    ``secret``: never printed, logged or written.
    """
    marks = {"help": help, "flag": flag, "run_key": run_key, "curate_key": curate_key, "secret": secret}
    if env is not None:
        constraints["alias"] = env
    return Field(default, repr=not secret, json_schema_extra={"setting": marks}, **constraints)


def _from_text(kind: Callable[[str], Any]) -> BeforeValidator:
    """Text (from .env, the environment or a flag) through ``kind``; values from code pass as they are."""
    return BeforeValidator(lambda value: kind(value.strip()) if isinstance(value, str) else value)


def _bool(text: str) -> bool:
    value = text.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def _non_empty(text: str) -> str:
    if not text.strip():
        raise SettingValueError(f"must not be empty, got {text!r}")
    return text.strip()


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


def _utf8_path(text: str) -> Path:
    shown = undecodable_name(text)
    if shown:
        raise SettingValueError(f"must be a UTF-8 path, got {shown}")
    return Path(text)


def parsed(parse: Callable[[str], Any]) -> BeforeValidator:
    """A parser of its own for text values (it raises ``SettingValueError`` with its message)."""
    return BeforeValidator(lambda value: parse(value) if isinstance(value, str) else value)


Int = Annotated[int, _from_text(int)]
Float = Annotated[float, _from_text(float)]
Bool = Annotated[bool, _from_text(_bool)]
Text = Annotated[str, _from_text(str)]
NonEmpty = Annotated[str, parsed(_non_empty)]
NonEmptyLower = Annotated[str, parsed(lambda text: _non_empty(text).lower())]
FolderPath = Annotated[Path, parsed(lambda text: _utf8_path(_non_empty(text)))]
OptionalPath = Annotated[Path | None, parsed(lambda text: _utf8_path(text.strip()) if text.strip() else None)]


def choice(*names: str, case: Callable[[str], str] = str.lower) -> Any:
    """One of ``names``, compared after ``case`` (``LOG_LEVEL`` upper-cases, the rest lower-case)."""
    return Annotated[Literal[names], _from_text(case)]


@dataclass(frozen=True)
class Setting:
    """One setting as the CLI, ``.env.example`` and the README see it, derived from its declaration."""

    env: str  # the .env / environment variable name
    default: str  # as it would be written in .env
    help: str
    section: type[SettingsModel]  # the model that declares it
    attr: str  # its field there
    info: FieldInfo
    flag_name: str | None = None  # when the flag is not the env name in kebab case
    run_key: bool = False
    curate_key: bool = False
    secret: bool = False

    @property
    def field(self) -> str:
        """Its name on ``Config`` and as the flag's destination."""
        return self.env.lower()

    @property
    def flag(self) -> str:
        return "--" + (self.flag_name or self.env.lower().replace("_", "-"))

    @property
    def is_switch(self) -> bool:
        """A true/false setting, which may be given as a bare flag."""
        return self.info.annotation is bool

    def rule(self) -> str:
        """What a good value is, from the declared type and bounds: ``a positive integer``."""
        annotation = self.info.annotation
        low = next((m.ge for m in self.info.metadata if isinstance(m, annotated_types.Ge)), None)
        high = next((m.le for m in self.info.metadata if isinstance(m, annotated_types.Le)), None)
        if annotation is bool:
            return "true or false"
        if get_origin(annotation) is Literal:
            return f"one of {', '.join(get_args(annotation))}"
        if annotation is int and high is not None:
            return f"an integer from {low} to {high}"
        if annotation is int:
            return "a positive integer" if low == 1 else "a non-negative integer"
        return f"a number between {low:g} and {high:g}"


def rows(model: type[SettingsModel]) -> list[Setting]:
    """The settings a model declares, in field order."""
    out = []
    for attr, info in model.model_fields.items():
        marks = (info.json_schema_extra or {}).get("setting") if isinstance(info.json_schema_extra, dict) else None
        if marks is None:
            continue
        out.append(
            Setting(
                env=info.alias or attr.upper(),
                default=info.default,
                help=marks["help"],
                section=model,
                attr=attr,
                info=info,
                flag_name=marks["flag"],
                run_key=marks["run_key"],
                curate_key=marks["curate_key"],
                secret=marks["secret"],
            )
        )
    return out


def parse_section(model: type[SettingsModel], raw: Mapping[str, str]) -> SettingsModel:
    """The model from raw text values keyed by environment name; a bad value is one ``ConfigError`` line."""
    declared = {s.env: s for s in rows(model)}
    data = {env: raw[env] for env in declared if env in raw}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        setting = declared[str(error["loc"][0])]
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, SettingValueError):
            raise ConfigError(f"{setting.env} {cause}") from None
        raise ConfigError(f"{setting.env} must be {setting.rule()}, got {data[setting.env]!r}") from None

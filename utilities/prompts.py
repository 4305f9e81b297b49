"""Build engine requests from planned requests: prompt text, images, schema, sampling.

Templates are files: ``prompts/system.md`` (or ``SYSTEM_PROMPT_FILE``) and one
``prompts/<QUESTION_TYPE>.md`` per type, filled with ``string.Template``
(``$n_pairs``). A missing file or placeholder is an error before any request is
sent. Prompts are ordered for prefix caching: the system prompt, then the
section and its context, then the figures, then the type's instructions last, so
the requests of one section share a long common prefix.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from pydantic import BaseModel

from models.documents import Document
from models.question_types import QuestionType
from models.schemas import ReplyLimits, build_reply_model, reply_json_schema
from utilities.engines.base import EngineRequest, ImagePart, TextPart
from utilities.errors import ConfigError

if TYPE_CHECKING:
    from utilities.config import Config
from utilities.facts import quotable_sentences
from utilities.planner import PlannedRequest

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
PROMPT_VERSION = "2"  # bump when templates or prompt assembly change what is sent


@dataclass(frozen=True)
class PromptLibrary:
    system: str
    templates: dict[QuestionType, Template]

    @classmethod
    def load(cls, system_prompt_file: Path | None = None, folder: Path = PROMPTS_DIR) -> PromptLibrary:
        system_path = system_prompt_file or folder / "system.md"
        if not system_path.is_file():
            raise ConfigError(f"SYSTEM_PROMPT_FILE must be a readable file, got '{system_path}'")
        templates: dict[QuestionType, Template] = {}
        for qt in QuestionType:
            path = folder / f"{qt.value}.md"
            if not path.is_file():
                raise ConfigError(f"prompt template for {qt.value} is missing: {path}")
            template = Template(path.read_text(encoding="utf-8").strip())
            try:
                template.substitute(n_pairs=1)
            except (KeyError, ValueError) as exc:
                raise ConfigError(f"prompt template {path} has an unknown or bad placeholder: {exc}") from None
            templates[qt] = template
        return cls(system_path.read_text(encoding="utf-8").strip(), templates)


@dataclass(frozen=True)
class SamplingSettings:
    max_new_tokens: int = 2048
    temperature: float = 0.7
    top_p: float = 0.95
    seed: int = 42
    max_images: int = 4

    @classmethod
    def from_config(cls, config: Config) -> SamplingSettings:
        return cls(
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
            top_p=config.top_p,
            seed=config.seed,
            max_images=config.max_images_per_request,
        )


@dataclass(frozen=True)
class BuiltRequest:
    planned: PlannedRequest
    key: str  # stable across runs and attempts: document, section, type, fact group
    engine_request: EngineRequest
    reply_model: type[BaseModel]
    figures: tuple[str, ...]  # ids attached as images (the reply's allowed figure ids)
    context: tuple[str, ...]  # the source texts the reply must be grounded in


def request_key(planned: PlannedRequest) -> str:
    key = f"{planned.document}#{planned.section_index}:{planned.question_type.value}"
    return key + (f":f{planned.facts[0]}" if planned.facts else "")


def attempt_seed(base_seed: int, key: str, attempt: int) -> int:
    """A seed per request and attempt: retries sample differently, reruns repeat."""
    return (base_seed * 1_000_003 + zlib.crc32(key.encode()) + attempt * 7919) % (2**31 - 1)


def _section_block(heading: str, document: Document, index: int) -> str:
    section = document.sections[index]
    return f"## {heading}: {section.title}\n\n{section.text}\n"


def build_request(
    document: Document,
    planned: PlannedRequest,
    library: PromptLibrary,
    sampling: SamplingSettings,
    limits: ReplyLimits,
    docs_root: Path,
    attempt: int = 0,
) -> BuiltRequest:
    key = request_key(planned)
    section = document.sections[planned.section_index]
    title = document.metadata.get("title") if isinstance(document.metadata.get("title"), str) else None
    header = f"# Source material from {title!r}\n\n" if title else "# Source material\n\n"
    texts = [header]
    context = [section.text]
    # One heading for every type: the 15 requests of a section share this prefix.
    texts.append(_section_block("Section", document, planned.section_index))
    for index in planned.related:
        texts.append("\n" + _section_block("Related section", document, index))
        context.append(document.sections[index].text)
    if planned.facts:
        facts = [section.facts[i] for i in planned.facts]
        lines = [f"{n}. {f.text}" + (f" (context: {f.context})" if f.context else "") for n, f in enumerate(facts, 1)]
        texts.append("\n## Facts\n\n" + "\n".join(lines) + "\n")
        context.extend(f.text for f in facts)

    figure_ids = planned.figures[: sampling.max_images]
    refs = {ref.id: ref for i in (planned.section_index, *planned.related) for ref in document.sections[i].figures}
    parts: list[TextPart | ImagePart] = [TextPart("".join(texts))]
    if figure_ids:
        parts.append(TextPart("\n## Figures attached, in order\n\n"))
        for fid in figure_ids:
            ref = refs[fid]
            parts.append(TextPart(f"- {fid}: {ref.caption or 'no caption'}\n"))
            assert ref.path is not None  # the planner attaches resolved figures only
            parts.append(ImagePart(docs_root / ref.path, fid))
    task = library.templates[planned.question_type].substitute(n_pairs=planned.n_pairs)
    parts.append(TextPart(f"\n# Task\n\n{task}\n"))

    quotes = tuple(q for text in context for q in quotable_sentences(text))
    reply_model = build_reply_model(planned.n_pairs, figure_ids, limits, quotes)
    engine_request = EngineRequest(
        id=f"{key}@{attempt}",
        system=library.system,
        parts=tuple(parts),
        schema=reply_json_schema(reply_model),
        max_tokens=sampling.max_new_tokens,
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        seed=attempt_seed(sampling.seed, key, attempt),
    )
    return BuiltRequest(planned, key, engine_request, reply_model, figure_ids, tuple(context))

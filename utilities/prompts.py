"""Build engine requests from planned requests: prompt text, images, schema, sampling.

Templates are files: ``prompts/system.md`` (or ``SYSTEM_PROMPT_FILE``) and one
``prompts/<QUESTION_TYPE>.md`` per type, filled with ``string.Template``
(``$n_pairs``). A missing file or placeholder is an error before any request is
sent. Prompts are ordered for prefix caching: the system prompt, then the
section and its context, then the figures, then the type's instructions and its
own reply fields last, so the requests of one section share a long common prefix.
What every reply field means is stated once, after the system prompt, so every
request of a run shares it too.
With ``EVIDENCE_FORMAT=ids`` each citable sentence of the source is marked
``[n]`` where it stands (numbered through the request, the section first, so the
numbering of a section is the same in all its requests); the reply cites numbers.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from string import Template

from models.documents import Document, DocumentName
from models.question_types import QUESTION_TYPE_SPECS, QuestionType
from models.records import BuiltRequest, PlannedRequest, request_titles
from models.schemas import (
    MAX_QUOTE_CHOICES,
    ReplyLimits,
    build_reply_model,
    describe_shared_fields,
    describe_task_fields,
    quote_choices,
    reply_json_schema,
)
from utilities.engines.base import EngineRequest, ImagePart, TextPart
from utilities.errors import ConfigError
from utilities.facts import quotable_sentences
from utilities.quality import item_source_problem, title_names
from utilities.settings import Float, Int, SettingsModel, setting
from utilities.type_forms import cloze_terms

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
PROMPT_VERSION = "6"  # bump when templates or prompt assembly change what is sent


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

    def fingerprint(self) -> dict[str, str]:
        """What of the prompts goes into a run's key: a changed template or system prompt is new work."""
        templates = {qt.value: t.template for qt, t in self.templates.items()}
        return {
            "prompt_version": PROMPT_VERSION,
            "system_prompt": hashlib.sha256(self.system.encode()).hexdigest(),
            "templates": hashlib.sha256(json.dumps(templates, sort_keys=True).encode()).hexdigest(),
            "prompts_dir": PROMPTS_DIR.name,
        }


class SamplingSettings(SettingsModel):
    """How each request is sampled: declared here, read by utilities/config.py."""

    temperature: Float = setting("0.7", "sampling temperature", ge=0.0, le=2.0, run_key=True)
    top_p: Float = setting("0.95", "nucleus sampling probability mass", ge=0.0, le=1.0, run_key=True)
    max_new_tokens: Int = setting(
        "2048", "token cap of one reply; a reply that hits it is rejected as truncated", ge=1, run_key=True
    )
    seed: Int = setting("42", "base random seed; each request and retry derives its own from it", ge=0, run_key=True)
    repetition_penalty: Float = setting(
        "1.1",
        "multiplicative penalty on repeated tokens (lmdeploy, embedded, and openai servers that accept it); 1 is off",
        ge=1.0,
        le=2.0,
        run_key=True,
    )
    frequency_penalty: Float = setting(
        "0", "OpenAI frequency_penalty sent by the openai engine; 0 is off", ge=0.0, le=2.0, run_key=True
    )
    max_images: Int = setting(
        "4",
        "figures attached to one request at most",
        env="MAX_IMAGES_PER_REQUEST",
        ge=0,
        run_key=True,
        curate_key=True,
    )


def request_key(planned: PlannedRequest) -> str:
    key = f"{planned.document}#{planned.section_index}:{planned.question_type.value}"
    if planned.focus:
        key += ":w{}of{}".format(*planned.focus)
    return key + (f":f{planned.facts[0]}" if planned.facts else "")


def attempt_seed(base_seed: int, key: str, attempt: int) -> int:
    """A seed per request and attempt: retries sample differently, reruns repeat."""
    return (base_seed * 1_000_003 + zlib.crc32(key.encode()) + attempt * 7919) % (2**31 - 1)


_WHITESPACE = re.compile(r"\s+")


def _collapse_whitespace(text: str) -> tuple[str, list[int]]:
    """``text`` with each run of whitespace made one space, and for each of its characters where it stands in
    ``text``.

    >>> _collapse_whitespace("a  b\\nc")
    ('a b c', [0, 1, 3, 4, 5])
    """
    parts: list[str] = []
    origin: list[int] = []
    last = 0
    for run in _WHITESPACE.finditer(text):
        parts += [text[last : run.start()], " "]
        origin += [*range(last, run.start()), run.start()]
        last = run.end()
    parts.append(text[last:])
    origin += range(last, len(text))
    return "".join(parts), origin


def mark_sentences(text: str, sentences: tuple[str, ...], first: int) -> tuple[str, list[str]]:
    """``text`` with ``[n]`` before each of ``sentences`` found in it, in order, numbered from ``first``.

    >>> mark_sentences("One is here.  Two is\\nthere.", ("One is here.", "Two is there."), 4)
    ('[4] One is here.  [5] Two is\\nthere.', ['One is here.', 'Two is there.'])

    A sentence not found as written (a figure placeholder inside it) gets no mark and is not citable.
    A table row's mark goes inside its first cell: ``| [6] `BLOB_BASE_COST` | `2**13` |``.
    """
    out: list[str] = []
    found: list[str] = []
    cursor = 0
    # A sentence is found with any run of whitespace between its words: in the text with each run made one space,
    # as the sentence is written with ``" ".join(sentence.split())`` (one str.find each, not a regex per sentence).
    collapsed, origin = _collapse_whitespace(text)
    for sentence in sentences:
        words = " ".join(sentence.split())
        if not words:  # found where the search starts, as an empty pattern is
            at = cursor
        else:
            start = collapsed.find(words, bisect.bisect_left(origin, cursor))
            if start < 0:
                continue
            at = origin[start]
        if sentence.startswith("|"):  # a table row: the mark goes inside its first cell, the row stays a row
            at += 1 + len(sentence[1:]) - len(sentence[1:].lstrip())
        out.append(text[cursor:at] + f"[{first + len(found)}] ")
        found.append(sentence)
        cursor = at
    out.append(text[cursor:])
    return "".join(out), found


class _Citable:
    """The request's citable sentences, numbered as the source texts are rendered."""

    def __init__(self, limits: ReplyLimits):
        self.limits = limits
        self.quotes: list[str] = []

    def render(self, text: str) -> str:
        sentences = quote_choices(quotable_sentences(text), self.limits)
        room = MAX_QUOTE_CHOICES - len(self.quotes)
        sentences = tuple(q for q in sentences if q not in self.quotes)[: max(room, 0)]
        if self.limits.evidence_format != "ids":
            self.quotes.extend(sentences)
            return text
        marked, found = mark_sentences(text, sentences, len(self.quotes) + 1)
        self.quotes.extend(found)
        return marked


def focus_range(focus: tuple[int, ...], sentences: int) -> range | None:
    """The sentence numbers of run k of K (``PlannedRequest.focus``) of a section whose ``sentences``
    citable sentences are numbered from 1; None for a request about the whole section.

    >>> [focus_range((k, 3), 17) for k in (1, 2, 3)], focus_range((), 17), focus_range((1, 3), 2)
    ([range(1, 6), range(6, 12), range(12, 18)], None, None)
    """
    if not focus:
        return None
    k, windows = focus
    cite = range((k - 1) * sentences // windows + 1, k * sentences // windows + 1)
    return cite or None


def cloze_sentences(
    quotes: tuple[str, ...], cite: range | None, names: frozenset[str], source: str, called: DocumentName | None
) -> tuple[int, ...]:
    """The numbers of the sentences of ``cite`` (all when None) that make a fill-in-the-blank item able to stand
    alone (``item_source_problem``: not "However, ...", not "the function" unnamed, no figure it does not carry).
    An item built from any other sentence fails the gates whatever term it blanks."""
    candidates = cite if cite is not None else range(1, len(quotes) + 1)
    return tuple(i for i in candidates if item_source_problem(quotes[i - 1], names, source, called) is None)


@dataclass(frozen=True)
class _Sources:
    """A request's source texts as the prompt shows them and the sentences it may cite (numbered from 1 in that
    order, the section's ``section_quotes`` first). The same for every run of a section with the same related
    sections: which run a request asks about is ``focus_range(planned.focus, section_quotes)``."""

    texts: list[str]
    context: list[str]
    quotes: tuple[str, ...]
    section_quotes: int
    title: str | None


def _sources(document: Document, planned: PlannedRequest, limits: ReplyLimits) -> _Sources:
    title = document.metadata.get("title") if isinstance(document.metadata.get("title"), str) else None
    header = f"# Source material from {title!r}\n\n" if title else "# Source material\n\n"
    texts = [header]
    context = [document.sections[planned.section_index].text]
    citable = _Citable(limits)
    # One heading for every type: the 15 requests of a section share this prefix.
    texts.append(_section_block("Section", document, planned.section_index, citable))
    section_quotes = len(citable.quotes)
    for index in planned.related:
        texts.append("\n" + _section_block("Related section", document, index, citable))
        context.append(document.sections[index].text)
    return _Sources(texts, context, tuple(citable.quotes), section_quotes, title)


def _each_sources(document: Document, requests: list[PlannedRequest], limits: ReplyLimits) -> list[_Sources]:
    """Each request's ``_sources``, built once for all the runs of a section with the same related sections."""
    built: dict[tuple[int, tuple[int, ...]], _Sources] = {}
    for planned in requests:
        key = (planned.section_index, planned.related)
        if key not in built:
            built[key] = _sources(document, planned, limits)
    return [built[(planned.section_index, planned.related)] for planned in requests]


def standing_sentences(
    document: Document, requests: list[PlannedRequest], limits: ReplyLimits
) -> list[tuple[int, ...]]:
    """For each request, the sentences of its run from which a fill-in-the-blank item can stand alone
    (``cloze_sentences``). With ``EVIDENCE_FORMAT=quotes`` the reply cites sentences by their text and every
    sentence is offered."""
    return [
        _standing(document, planned, sources, focus_range(planned.focus, sources.section_quotes), limits)
        for planned, sources in zip(requests, _each_sources(document, requests, limits))
    ]


def run_sentences(document: Document, requests: list[PlannedRequest], limits: ReplyLimits) -> list[tuple[str, ...]]:
    """For each request, the sentences it asks about as the prompt numbers them: its run, or its whole section's
    when it has none."""
    found = []
    for planned, sources in zip(requests, _each_sources(document, requests, limits)):
        cite = focus_range(planned.focus, sources.section_quotes) or range(1, sources.section_quotes + 1)
        found.append(tuple(sources.quotes[i - 1] for i in cite))
    return found


def _standing(
    document: Document, planned: PlannedRequest, sources: _Sources, cite: range | None, limits: ReplyLimits
) -> tuple[int, ...]:
    if limits.evidence_format != "ids":
        return tuple(range(1, len(sources.quotes) + 1))
    titles = tuple(document.sections[i].title for i in (planned.section_index, *planned.related))
    names = title_names(request_titles(titles, sources.title))
    return cloze_sentences(sources.quotes, cite, names, " ".join(sources.context), document.called)


def _section_block(heading: str, document: Document, index: int, citable: _Citable) -> str:
    section = document.sections[index]
    return f"## {heading}: {section.title}\n\n{citable.render(section.text)}\n"


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
    sources = _sources(document, planned, limits)
    texts, context, title = sources.texts, sources.context, sources.title
    cite = focus_range(planned.focus, sources.section_quotes)
    citable = _Citable(limits)  # facts are marked after the sources' sentences, numbered on from them
    citable.quotes.extend(sources.quotes)
    if planned.facts:
        facts = [section.facts[i] for i in planned.facts]
        lines = [
            f"Fact {n}: {citable.render(f.text)}" + (f" (context: {f.context})" if f.context else "")
            for n, f in enumerate(facts, 1)
        ]
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
    quotes = tuple(citable.quotes)
    spec = QUESTION_TYPE_SPECS[planned.question_type]
    section_titles = tuple(document.sections[i].title for i in (planned.section_index, *planned.related))
    offered, n_pairs = cite, planned.n_pairs
    terms: tuple[str, ...] = ()
    if spec.form.cloze:  # items of the sentences that stand alone, their terms decoded from those sentences' phrases
        if limits.evidence_format == "ids":
            standing = _standing(document, planned, sources, cite, limits)
            candidates = cite if cite is not None else range(1, len(quotes) + 1)
            # all of them standing: the run itself; none (a plan of today's planner never sends such a request, a
            # journal of an older one may): the gates judge what the model makes of them
            offered = standing if 0 < len(standing) < len(candidates) else cite
        sentences = offered if offered is not None else range(1, len(quotes) + 1)
        terms = tuple(dict.fromkeys(t for i in sentences for t in cloze_terms(quotes[i - 1])))
        n_pairs = max(1, min(n_pairs, len(sentences)))  # asked for more items than sentences, the model repeats them
    reply_model = build_reply_model(n_pairs, figure_ids, limits, spec.answer, quotes, spec.form, offered, terms)
    schema = reply_json_schema(reply_model)
    task = library.templates[planned.question_type].substitute(n_pairs=n_pairs)
    if offered is not cite:
        task += f" Use only sentences {', '.join(f'[{i}]' for i in offered)}: each can stand alone as an item."
    elif cite is not None:
        task += f" Ask only about sentences [{cite.start}] to [{cite.stop - 1}] of the section, and cite only them."
    shared = describe_shared_fields(limits)
    parts.append(TextPart(f"\n# Task\n\n{task}\n\n{describe_task_fields(schema, shared)}\n"))
    engine_request = EngineRequest(
        id=f"{key}@{attempt}",
        system=f"{library.system}\n\n{shared}",
        parts=tuple(parts),
        schema=schema,
        max_tokens=sampling.max_new_tokens,
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        seed=attempt_seed(sampling.seed, key, attempt),
        repetition_penalty=sampling.repetition_penalty,
        frequency_penalty=sampling.frequency_penalty,
        cache_group=planned.section_id,  # the section: the prompt prefix they share
    )
    figure_paths = {fid: refs[fid].path for fid in figure_ids}
    return BuiltRequest(
        planned,
        key,
        figure_ids,
        tuple(context),
        quotes,
        title,
        section_titles,
        figure_paths,
        document.called,
        engine_request=engine_request,
        reply_model=reply_model,
        cloze_sentences=tuple(quotes[i - 1] for i in offered) if spec.form.cloze and offered is not None else (),
    )


class RequestBuilder:
    """A run's ``build(planned, attempt)``: every request from one library and the run's settings.

    Also what later stages need of the documents: ``documents`` by name and ``docs_root``
    (the run's ``Config.docs_root``: MARKDOWN_DOCS_DIR with symlinks resolved), against which image
    paths are relative.
    """

    def __init__(
        self,
        documents: list[Document],
        library: PromptLibrary,
        sampling: SamplingSettings,
        limits: ReplyLimits,
        docs_root: Path,
    ) -> None:
        self.documents = {d.name: d for d in documents}
        self.library = library
        self.sampling, self.limits = sampling, limits
        self.docs_root = docs_root

    def __call__(self, planned: PlannedRequest, attempt: int = 0) -> BuiltRequest:
        document = self.documents[planned.document]
        return build_request(document, planned, self.library, self.sampling, self.limits, self.docs_root, attempt)

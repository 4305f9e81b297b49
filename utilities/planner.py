"""Plan the requests of a run: which sections, question types, facts and images go together.

Planning is pure: documents and settings in, ``PlannedRequest`` list out, in a
stable order (document, section, question type as listed, fact group). The dry
run prints and saves it (``build_plan``: a ``RunPlan`` of each document's requests and
skipped sections; ``format_plan_summary``: the per-document summary the CLI prints, read
from those records; ``plan_file``: the dry run's JSON with every section's text, whose
keys are a user-facing contract documented in the README, ``PLAN_SCHEMA_VERSION``
changing when they do); generation builds prompts from it.

- SECTION and SECTION_WITH_RELATED types: one request per section; a FOCUSED type
  (FACTUAL_RECALL, TRUE_FALSE_FILL_BLANK) one per run of ``sentences_per_request``
  citable sentences, each asking about its own run (``focus_windows``).
- SECTION_PAIR types (MULTI_HOP_REASONING, COMPARATIVE_ANALYSIS): one request
  per section that has a related section, paired with its most similar one.
- FACTS (FACT_BASED): one request per group of ``questions_per_request`` facts,
  one pair per fact.

A section with fewer than ``MIN_SECTION_WORDS`` words of its own text, once its
heading, markup, link targets and figure placeholders are set aside, gets no
request: a copyright line, a one-row table or an HTML wrapper gives a model
nothing to ask about but invites invented pairs, and costs a prompt per type.
The plan lists such sections with the reason.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from models.documents import Document, Section
from models.question_types import QUESTION_TYPE_SPECS, ContextKind, QuestionType
from models.records import PlannedRequest
from models.schemas import ReplyLimits, quote_choices
from utilities.config import Config
from utilities.facts import quotable_sentences
from utilities.file_utils import LoadResult, SkippedFile
from utilities.outputs.files import timestamp, write_new_json
from utilities.prompts import run_sentences, standing_sentences
from utilities.quality import authors_voice

# Characters a request adds around its context (system prompt, instructions, schema
# description): an estimate for the dry run's token counts, not a measurement.
PROMPT_OVERHEAD_CHARS = 2400
CHARS_PER_TOKEN = 4


def _attached_figures(document: Document, indices: list[int]) -> tuple[str, ...]:
    ids: list[str] = []
    for i, index in enumerate(indices):
        for ref in document.sections[index].figures:
            # Context sections lend their own figures; cited ones stay with their section.
            if ref.path is not None and ref.id not in ids and (i == 0 or ref.placement == "placed"):
                ids.append(ref.id)
    return tuple(ids)


_MARKUP = re.compile(
    r"^#{1,6} .*$"  # heading lines: the title is not content
    r"|<[^>]*>"  # HTML tags
    r"|\]\([^)]*\)"  # link targets
    r"|\{\{FIGURE_[^}]*\}\}"  # figure placeholders
    r"|^\s*\|?[\s:|-]+\|?\s*$",  # table separator rows
    re.MULTILINE,
)


_WORD = re.compile(r"[^\W_]\w*")  # a word of text: letters or digits first


def section_words(section: Section) -> int:
    """Words of a section's own text: letters or digits, its heading and markup set aside.

    >>> section_words(Section(0, "Copyright", "## Copyright\\n\\nWaived via [CC0](../LICENSE.md).", 0, 0))
    3
    """
    return len(_WORD.findall(_MARKUP.sub(" ", section.text)))


_LINK_TEXT = re.compile(r"\[([^\]]*)\]\([^)]*\)|<?https?://\S+")
_NOTICE = re.compile(
    r"\b(?:copyright|all rights reserved|licen[cs]ed? under|licen[cs]e|permission is hereby granted|spdx|"
    r"trademarks?|waived)\b|©|\(c\)",
    re.IGNORECASE,
)
_PERSONAL = re.compile(r"\b(?:he|she|his|her|him|hers)\b", re.IGNORECASE)
_CITATION = re.compile(r"\(\s*(?:19|20)\d\d[a-z]?\s*\)|\bet al\b|\bdoi\b|\barxiv\b|\bisbn\b|\bpp\.\s*\d", re.IGNORECASE)
_VERSION_LINE = re.compile(r"^\s*(?:[-*]\s+|#+\s+)?\[?(?:v?\d+\.\d+(?:\.\d+)?|\d{4}-\d{2}-\d{2})\b", re.MULTILINE)
NOTICE_MAX_WORDS = 120  # a licence paragraph; a section discussing licences at length has more to say
SUBSTANCE_MAX_WORDS = 300  # above this, a section has prose enough whatever else it holds


def no_substance_reason(section: Section) -> str | None:
    """What a section consists of when it is not worth asking about, judged by its own text: mostly links
    (a table of contents, a link list), a copyright or licence notice, a biography (he/she, his/her),
    a list of names, a reference list, a change log. None when it has substance.

    >>> no_substance_reason(Section(0, "Authors", "## Authors\\n\\nAnders Elowsson, Ben Adams, Francesco D'Amato, "
    ...                     "Vitalik Buterin, Dankrad Feist, Justin Drake, Barnabé Monnot, Toni Wahrstätter", 0, 0))
    'a list of names (17 of 17 words capitalized)'
    """
    text = _MARKUP.sub(" ", section.text)
    words = _WORD.findall(text)
    n = len(words)
    if not n or n > SUBSTANCE_MAX_WORDS:
        return None
    linked = sum(len(_WORD.findall(m.group(1) or m.group(0))) for m in _LINK_TEXT.finditer(section.text))
    if linked >= 0.5 * n:
        return f"mostly links ({linked} of {n} words are link text: a table of contents or a link list)"
    sentences = [x for x in re.split(r"(?<=[.!?])\s+", text.strip()) if x.strip()]
    if n <= NOTICE_MAX_WORDS and 2 * sum(bool(_NOTICE.search(x)) for x in sentences) >= len(sentences):
        return "a copyright or licence notice"
    pronouns = len(_PERSONAL.findall(text))
    if pronouns >= 3 and pronouns * 40 >= n:
        return f"a biography ({pronouns} personal pronouns in {n} words)"
    prose = _WORD.findall(re.sub(r"`[^`]*`", " ", text))  # identifiers in code are not names
    capitalized = sum(w[0].isupper() for w in prose)
    if len(prose) >= 6 and capitalized >= 0.7 * len(prose):
        return f"a list of names ({capitalized} of {len(prose)} words capitalized)"
    citations = len(_CITATION.findall(text))
    if citations >= 3 and citations * 25 >= n:
        return f"a reference list ({citations} citations in {n} words)"
    lines = [line for line in section.text.splitlines()[1:] if line.strip()]
    versions = len(_VERSION_LINE.findall("\n".join(lines)))
    if versions >= 3 and versions * 2 >= len(lines):
        return f"a change log ({versions} of {len(lines)} lines start with a version or date)"
    return None


def thin_section_reason(section: Section, min_words: int) -> str | None:
    """Why a section gets no request, or None when it has something to ask about: fewer than
    ``min_words`` words of text, or text without substance (``no_substance_reason``). ``min_words``
    0 plans every section."""
    if not min_words:
        return None
    words = section_words(section)
    if words < min_words:
        return f"{words} words of text, fewer than MIN_SECTION_WORDS={min_words}"
    return no_substance_reason(section)


def type_context(section: Section, question_type: QuestionType) -> tuple[int, ...] | None:
    """The related sections a request of this type shows beside ``section`` (none for FACTS, whose
    context is the section's facts); None when the type needs a related section and there is none."""
    related = tuple(r.index for r in section.related)
    context = QUESTION_TYPE_SPECS[question_type].context
    if context is ContextKind.SECTION_WITH_RELATED:
        return related
    if context is ContextKind.SECTION_PAIR:
        return related[:1] or None
    return ()


def plan_requests(
    document: Document,
    question_types: tuple[QuestionType, ...],
    questions_per_request: int,
    limit_sections: int = 0,
    min_words: int = 0,
    sentences_per_request: int = 0,
) -> list[PlannedRequest]:
    """Requests for a document's sections (its first ``limit_sections`` only, when above 0).

    Sections with fewer than ``min_words`` words of text get none (``thin_section_reason``).
    A focused type gets ``focus_windows(section, sentences_per_request)`` requests per section.
    """
    requests: list[PlannedRequest] = []
    sections = document.sections[:limit_sections] if limit_sections else document.sections
    for section in sections:
        if thin_section_reason(section, min_words):
            continue
        for qt in question_types:
            if QUESTION_TYPE_SPECS[qt].context is ContextKind.FACTS:
                for start in range(0, len(section.facts), questions_per_request):
                    group = tuple(range(start, min(start + questions_per_request, len(section.facts))))
                    figures = _attached_figures(document, [section.index])
                    requests.append(PlannedRequest(document.name, section.index, qt, (), group, len(group), figures))
                continue
            others = type_context(section, qt)
            if others is None:
                continue
            figures = _attached_figures(document, [section.index, *others])
            windows = focus_windows(section, sentences_per_request) if QUESTION_TYPE_SPECS[qt].focused else 1
            n_pairs = questions_per_request * QUESTION_TYPE_SPECS[qt].form.pairs_per_question
            for k in range(1, windows + 1):
                focus = (k, windows) if windows > 1 else ()
                requests.append(PlannedRequest(document.name, section.index, qt, others, (), n_pairs, figures, focus))
    return requests


def focus_windows(section: Section, sentences_per_request: int) -> int:
    """How many runs of at most ``sentences_per_request`` citable sentences a section splits into
    (1 when the setting is 0 or the section is that short). A plan records a run as "the k-th of K";
    the prompt builder turns that into sentence numbers (``focus_range``) from the sentences it marks.

    >>> section = Section(0, "S", " ".join(f"Fact number {i} is stated here." for i in range(20)), 0, 0)
    >>> focus_windows(section, 8), focus_windows(section, 20), focus_windows(section, 0)
    (3, 1, 1)
    """
    if sentences_per_request <= 0:
        return 1
    sentences = len(quote_choices(quotable_sentences(section.text), ReplyLimits()))
    return max(1, -(-sentences // sentences_per_request))


def estimate_prompt_tokens(document: Document, request: PlannedRequest) -> int:
    """Text tokens of a request's prompt, estimated as characters / 4 (images not counted)."""
    section = document.sections[request.section_index]
    chars = PROMPT_OVERHEAD_CHARS + len(section.text)
    chars += sum(len(document.sections[i].text) for i in request.related)
    chars += sum(len(section.facts[i].text) for i in request.facts)
    return chars // CHARS_PER_TOKEN


def count_by_type(requests: list[PlannedRequest]) -> dict[str, int]:
    counts = Counter(r.question_type.value for r in requests)
    return dict(sorted(counts.items()))


# --- the dry-run plan -----------------------------------------------------------------

PLAN_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class SkippedSection:
    """A section planned without requests, or without one type's request for one run of its sentences
    (``question_type`` and ``window``, "k of K", set)."""

    index: int
    title: str
    reason: str
    question_type: str | None = None
    window: str | None = None

    def describe(self) -> str:
        what = f"no {self.question_type} request" if self.question_type else "no requests"
        run = f" (sentences run {self.window})" if self.window else ""
        return f"{what} for section {self.index} '{self.title}'{run}: {self.reason}"


NO_STANDING_ITEM = "none of its sentences can stand alone as a fill-in-the-blank item"
AUTHORS_STORY = (
    'half or more of its sentences speak in the author\'s own voice ("I", "my"), so its questions ask about '
    "the author's story"
)
AUTHORS_VOICE_SHARE = 0.5  # of a run's sentences in the author's voice before its recall request is left out


def told_by_author(sentences: tuple[str, ...]) -> bool:
    """Whether at least ``AUTHORS_VOICE_SHARE`` of ``sentences`` speak in the author's own voice (``authors_voice``).

    >>> told_by_author(("I ran git fsck.", "It found one bad object.")), told_by_author(("I ran it.", "A", "B"))
    (True, False)
    """
    told = sum(authors_voice(s) is not None for s in sentences)
    return bool(sentences) and told >= AUTHORS_VOICE_SHARE * len(sentences)


def without_barren_runs(
    document: Document, requests: list[PlannedRequest], limits: ReplyLimits
) -> tuple[list[PlannedRequest], list[SkippedSection]]:
    """The requests less those for a run of sentences whose pairs the gates reject. Returns (kept requests, the
    skips).

    - A fill-in-the-blank request none of whose sentences can make an item that stands alone
      (``standing_sentences``: a run of first-person narrative, of sentences opening on "This" or "However"):
      every item built from them fails the gates.
    - Another focused type's request (FACTUAL_RECALL) whose run is told by its author (``told_by_author``): its
      questions ask what "I" did or found ("What command did you use to modify the packfile?"). Over the labelled
      runs of two narrative documents the gates kept 4 such pairs of 58, and readers found none of them good.
    """
    focused = [r for r in requests if QUESTION_TYPE_SPECS[r.question_type].focused]
    cloze = [r for r in focused if QUESTION_TYPE_SPECS[r.question_type].form.cloze]
    asked = [r for r in focused if not QUESTION_TYPE_SPECS[r.question_type].form.cloze]
    standing = standing_sentences(document, cloze, limits)
    reasons = {r: NO_STANDING_ITEM for r, offered in zip(cloze, standing) if not offered}
    runs = run_sentences(document, asked, limits)
    reasons |= {r: AUTHORS_STORY for r, run in zip(asked, runs) if told_by_author(run)}
    kept: list[PlannedRequest] = []
    skipped: list[SkippedSection] = []
    for request in requests:
        if request in reasons:
            section = document.sections[request.section_index]
            window = f"{request.focus[0]} of {request.focus[1]}" if request.focus else None
            skipped.append(
                SkippedSection(section.index, section.title, reasons[request], request.question_type.value, window)
            )
        else:
            kept.append(request)
    return kept, skipped


@dataclass(frozen=True)
class DocumentPlan:
    """One document's planned requests and what planning left out, as the summary and the report read them."""

    document: Document
    requests: list[PlannedRequest]
    sections_skipped: list[SkippedSection]
    estimated_prompt_tokens: int

    def figure_counts(self) -> dict[str, Any]:
        """The document's placed figures: how many, how many resolved to a file, and the missing ids."""
        placed = {ref.id: ref for s in self.document.sections for ref in s.figures if ref.placement == "placed"}
        return {
            "total": len(placed),
            "resolved": sum(1 for f in placed.values() if f.path is not None),
            "missing": sorted(f.id for f in placed.values() if f.path is None),
        }

    @property
    def facts(self) -> int:
        return sum(len(s.facts) for s in self.document.sections)


@dataclass(frozen=True)
class RunPlan:
    documents: list[DocumentPlan]
    skipped: list[SkippedFile]  # files that are not usable documents

    @property
    def requests(self) -> list[PlannedRequest]:
        return [r for d in self.documents for r in d.requests]

    def sections_skipped(self) -> dict[str, list[dict[str, Any]]]:
        """Document -> the sections planned without requests, and why (for the run's report)."""
        return {d.document.name: [vars(s) for s in d.sections_skipped] for d in self.documents if d.sections_skipped}


def build_plan(loaded: LoadResult, config: Config) -> RunPlan:
    documents = []
    for document in loaded.documents:
        requests = plan_requests(
            document,
            config.plan.question_types,
            config.plan.questions_per_request,
            config.plan.limit_sections,
            config.plan.min_section_words,
            config.plan.sentences_per_request if config.limits.evidence_format == "ids" else 0,
        )
        skipped = [
            SkippedSection(s.index, s.title, reason)
            for s in document.sections
            if (reason := thin_section_reason(s, config.plan.min_section_words))
        ]
        requests, barren = without_barren_runs(document, requests, config.limits)
        skipped += barren
        tokens = sum(estimate_prompt_tokens(document, r) for r in requests)
        documents.append(DocumentPlan(document, requests, skipped, tokens))
    return RunPlan(documents, list(loaded.skipped))


def _document_entry(plan: DocumentPlan) -> dict[str, Any]:
    document = plan.document
    return {
        "name": document.name,
        "path": document.name + document.path.suffix,
        "metadata": document.metadata,
        "words": document.word_count,
        "figures": plan.figure_counts(),
        "facts": plan.facts,
        "planned_requests": count_by_type(plan.requests),
        "estimated_prompt_tokens": plan.estimated_prompt_tokens,
        "warnings": document.warnings,
        "sections_skipped": [vars(s) for s in plan.sections_skipped],
        "sections": [
            {
                "index": s.index,
                "title": s.title,
                "text": s.text,
                "figures": [
                    {"id": f.id, "path": f.path, "caption": f.caption, "placement": f.placement} for f in s.figures
                ],
                "related": [{"index": r.index, "similarity": r.similarity} for r in s.related],
                "facts": len(s.facts),
            }
            for s in document.sections
        ],
    }


def plan_file(plan: RunPlan, config: Config) -> dict[str, Any]:
    """The plan file's JSON (``--dry-run``): every section's text, figures and related sections."""
    entries = [_document_entry(d) for d in plan.documents]
    requests = plan.requests
    return {
        "schema_version": PLAN_SCHEMA_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "settings": config.to_dict(),
        "documents": entries,
        "skipped": [{"path": s.path, "reason": s.reason} for s in plan.skipped],
        "totals": {
            "documents": len(entries),
            "skipped": len(plan.skipped),
            "sections": sum(len(e["sections"]) for e in entries),
            "words": sum(e["words"] for e in entries),
            "figures_resolved": sum(e["figures"]["resolved"] for e in entries),
            "figures_missing": sum(len(e["figures"]["missing"]) for e in entries),
            "facts": sum(e["facts"] for e in entries),
            "planned_requests": count_by_type(requests),
            "requests": len(requests),
            "estimated_prompt_tokens": sum(e["estimated_prompt_tokens"] for e in entries),
        },
    }


def write_plan(output_dir: Path, plan: dict[str, Any]) -> Path:
    """The plan as ``plan-<time>.json`` in OUTPUT_DIR, never over another file."""
    return write_new_json(output_dir, f"plan-{timestamp()}", plan)


def format_plan_summary(plan: RunPlan) -> str:
    """What the CLI prints of the plan: a line per document, its requests by type and its skipped sections."""
    lines: list[str] = []
    for doc in plan.documents:
        document, figures = doc.document, doc.figure_counts()
        lines.append(
            f"{document.name}: {len(document.sections)} sections, {document.word_count:,} words, "
            f"figures {figures['resolved']}/{figures['total']} resolved ({len(figures['missing'])} missing), "
            f"{doc.facts} facts, {len(doc.requests)} requests, ~{doc.estimated_prompt_tokens:,} prompt tokens"
        )
        by_type = count_by_type(doc.requests)
        lines.append(
            "    " + ", ".join(f"{qt.value} {by_type[qt.value]}" for qt in QuestionType if qt.value in by_type)
        )
        for skipped in doc.sections_skipped:
            lines.append(f"    {skipped.describe()}")
    for skipped_file in plan.skipped:
        lines.append(f"skipped {skipped_file.path}: {skipped_file.reason}")
    sections = sum(len(d.document.sections) for d in plan.documents)
    tokens = sum(d.estimated_prompt_tokens for d in plan.documents)
    lines.append(
        f"total: {len(plan.documents)} documents ({len(plan.skipped)} skipped), {sections} sections, "
        f"{len(plan.requests)} requests, ~{tokens:,} prompt tokens"
    )
    return "\n".join(lines)

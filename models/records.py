"""The records the stages hand each other, from a planned request to a written example.

``PlannedRequest`` (planner) -> ``BuiltRequest`` (prompts) -> ``ParseOutcome`` of
``ParsedPair`` (replies) -> ``RequestOutcome`` with its ``Attempt`` list and the
request's ``RequestSources`` (generation, journal) -> ``GatedPair`` in a ``GateResult`` (quality, verify) -> ``Example``
(outputs). Plain dataclasses with no behaviour beyond converting to and from the
journal's dicts; the stages that make them live in ``utilities/``. Engine and
pydantic types are named in annotations only, so this module imports no stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from models.documents import DocumentName
from models.question_types import QuestionType, Split

if TYPE_CHECKING:
    from pydantic import BaseModel

    from utilities.engines.base import EngineRequest, EngineResult


@dataclass(frozen=True)
class PlannedRequest:
    document: str
    section_index: int
    question_type: QuestionType
    related: tuple[int, ...]  # indices of context sections besides the main one
    facts: tuple[int, ...]  # indices into the section's facts (FACT_BASED only)
    n_pairs: int
    figures: tuple[str, ...]  # ids of resolved figures attached as images
    # (k, K): the request asks about the k-th (from 1) of K equal runs of its section's citable sentences;
    # () for the whole section. A long section gets one focused request per run (``SENTENCES_PER_REQUEST``).
    focus: tuple[int, ...] = ()

    @property
    def section_id(self) -> str:
        """``document#index``: the section whose text all its requests share as their prompt's prefix."""
        return f"{self.document}#{self.section_index}"


def request_titles(section_titles: tuple[str, ...], document_title: str | None) -> tuple[str, ...]:
    """The titles a request shows: its sections', then its document's when it has one."""
    return (*section_titles, *([document_title] if document_title else []))


@dataclass(frozen=True)
class RequestSources:
    """What one request showed the model, which its pairs are gated against.

    The journal keeps it with the request's outcome, so gating a journaled request
    reads what was sent rather than building the request again.
    """

    planned: PlannedRequest
    key: str  # stable across runs and attempts: document, section, type, fact group
    figures: tuple[str, ...]  # ids attached as images (the reply's allowed figure ids)
    context: tuple[str, ...]  # the source texts the reply must be grounded in
    quotes: tuple[str, ...] = ()  # the citable sentences; with EVIDENCE_FORMAT=ids, id n is quotes[n - 1]
    document_title: str | None = None  # the frontmatter title, when the document has one
    section_titles: tuple[str, ...] = ()  # the section's title, then its related sections'
    # figure id -> image path relative to MARKDOWN_DOCS_DIR, for each of ``figures``: the images gate
    # and the examples read it here, so no stage rebuilds a document's figure map
    figure_paths: dict[str, str] = field(default_factory=dict)
    document_name: DocumentName | None = None  # what its questions call the document (``utilities/naming.py``)

    @property
    def titles(self) -> tuple[str, ...]:
        """Its sections' titles, then its document's (``request_titles``)."""
        return request_titles(self.section_titles, self.document_title)

    def to_dict(self) -> dict[str, Any]:
        planned = self.planned
        return {
            "planned": {**planned.__dict__, "question_type": planned.question_type.value},
            "key": self.key,
            "figures": list(self.figures),
            "context": list(self.context),
            "quotes": list(self.quotes),
            "document_title": self.document_title,
            "section_titles": list(self.section_titles),
            "figure_paths": dict(self.figure_paths),
            "document_name": self.document_name.__dict__ if self.document_name else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestSources:
        p = data["planned"]
        planned = PlannedRequest(
            p["document"],
            p["section_index"],
            QuestionType(p["question_type"]),
            tuple(p["related"]),
            tuple(p["facts"]),
            p["n_pairs"],
            tuple(p["figures"]),
            tuple(p.get("focus", ())),
        )
        return cls(
            planned,
            data["key"],
            tuple(data["figures"]),
            tuple(data["context"]),
            tuple(data["quotes"]),
            data["document_title"],
            tuple(data["section_titles"]),
            dict(data["figure_paths"]),
            _document_name(data.get("document_name")),  # absent in journals before it
        )


def _document_name(data: dict[str, Any] | None) -> DocumentName | None:
    return DocumentName(data["name"], tuple(data["nouns"]), data["numbered"]) if data else None


@dataclass(frozen=True, kw_only=True)
class BuiltRequest(RequestSources):
    """A request ready to send: its sources, and the engine request and reply model built from them."""

    engine_request: EngineRequest
    reply_model: type[BaseModel]
    cloze_sentences: tuple[str, ...] = ()  # a cloze request's: the sentences its items may be built from

    @property
    def n_pairs(self) -> int:
        """The pairs its reply must hold: the plan's, or fewer for a cloze with fewer sentences to offer."""
        return int(self.engine_request.schema["properties"]["pairs"]["minItems"])


@dataclass(frozen=True)
class ParsedPair:
    question: str
    answer: str
    reasoning_steps: tuple[str, ...]
    evidence: tuple[str, ...]
    figures: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The pair as the journal and the rejects files write it (lists for tuples)."""
        return {
            "question": self.question,
            "answer": self.answer,
            "reasoning_steps": list(self.reasoning_steps),
            "evidence": list(self.evidence),
            "figures": list(self.figures),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParsedPair:
        return cls(
            question=data["question"],
            answer=data["answer"],
            reasoning_steps=tuple(data["reasoning_steps"]),
            evidence=tuple(data["evidence"]),
            figures=tuple(data["figures"]),
        )


@dataclass(frozen=True)
class ParseOutcome:
    pairs: tuple[ParsedPair, ...] = ()
    reason: str | None = None  # a key of utilities/replies.py REASONS when the reply failed
    detail: str = ""


@dataclass
class Attempt:
    attempt: int
    seed: int
    reason: str | None
    detail: str
    finish_reason: str | None
    text: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0  # of prompt_tokens, reused from the engine's prefix cache (0 in journals before it)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_result(cls, attempt: int, seed: int, parsed: ParseOutcome, result: EngineResult) -> Attempt:
        """One attempt as the journal and the rejects file keep it: the raw text, or the engine's error."""
        return cls(
            attempt=attempt,
            seed=seed,
            reason=parsed.reason,
            detail=parsed.detail,
            finish_reason=result.finish_reason,
            text=result.text if result.error is None else f"[engine error] {result.error}",
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            cached_tokens=result.cached_tokens,
        )


@dataclass
class RequestOutcome:
    request: RequestSources  # what the last attempt showed the model
    status: str  # "accepted" or "rejected"
    pairs: tuple[ParsedPair, ...] = ()
    reason: str | None = None
    attempts: list[Attempt] = field(default_factory=list)


@dataclass
class GatedPair:
    pair: ParsedPair
    outcome: RequestOutcome
    position: int  # the pair's index in its reply
    grounding: float = 0.0  # mean best-match score of its distinct evidence quotes, 0..100
    support: float = 0.0  # evidence support: share of the answer's new content words found in its quotes
    steps: tuple[str, ...] = ()  # the reasoning steps that say something about the source
    evidence: tuple[str, ...] = ()  # the quotes that support the answer (the gates' choice, see evidence_from)
    evidence_from: str | None = None  # "model": its own citations; "found": sentences shown that support it
    gate: str | None = None  # the gate (or verifier) that rejected it, None when accepted
    detail: str = ""
    verify: dict[str, Any] = field(default_factory=dict)  # verifier -> its reply (utilities/verify.py)
    question_as_written: str | None = None  # the model's question, when naming its document changed it
    answer_as_written: str | None = None  # the model's answer, when naming its document changed it

    @property
    def id(self) -> str:
        """The pair's stable id: its request's key and its place in the reply (``doc#3:INFERENCE#1``)."""
        return f"{self.outcome.request.key}#{self.position + 1}"


@dataclass
class GateResult:
    accepted: list[GatedPair] = field(default_factory=list)
    rejected: list[GatedPair] = field(default_factory=list)


@dataclass(frozen=True)
class Example:
    """One kept pair, independent of the format it is written in."""

    id: str
    split: Split
    question: str
    answer: str  # the assistant's content: <think>…</think> first when reasoning is included
    images: tuple[str, ...]  # attached figures in order, as paths relative to MARKDOWN_DOCS_DIR
    question_type: str
    difficulty: str
    document: str
    section: str
    metadata: dict[str, Any] = field(default_factory=dict)  # provenance, kept by phi and jsonl

"""Quality gates: every generated pair passes them all or is rejected with its gate's reason.

Gates, in order (a pair is rejected by the first it fails):

1. ``form``: no empty field; a question has at least four words and a question
   form (ends with "?" or starts with an instruction such as "Explain"); the answer is at least
   ``min_answer_chars`` long and does not stop mid-sentence.
2. ``self_contained``: the question uses none of the phrases in
   ``models/data/context_phrases.txt`` ("the document", "this section", ...).
3. ``grounding``: at least one evidence quote, and every quote is found in the
   request's context (its sections and facts) by fuzzy partial matching on
   normalized text (case, whitespace, curly quotes, dashes, emphasis markers),
   score >= ``grounding_threshold``. A quote found nowhere is a hallucination.
4. ``answer_support``: the share of the answer's content words that occur in its
   evidence and context is at least ``answer_support_floor``.
5. ``images``: every figure a pair names was attached to its request and its file
   exists.
6. ``duplicate``: within a document, a question whose TF-IDF cosine similarity to
   an earlier kept question reaches ``dedup_threshold`` is dropped, as is an exact
   repeat of an earlier answer to another question of the same type; across
   documents, exact repeats of a question are dropped. Order is deterministic:
   documents, then requests in plan order, then pairs in reply order.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from rapidfuzz import fuzz
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from models.question_types import QuestionType
from utilities.generation import RequestOutcome
from utilities.replies import ParsedPair

PHRASES_FILE = Path(__file__).resolve().parent.parent / "models" / "data" / "context_phrases.txt"

MIN_QUESTION_WORDS = 4  # "What is a crate?" stands on its own; "What is this?" cannot
GATES = ("form", "self_contained", "grounding", "answer_support", "images", "duplicate")

INSTRUCTION_STARTS = (
    "explain", "describe", "summarize", "summarise", "compare", "contrast", "list", "outline", "give",
    "state", "identify", "name", "define", "discuss", "evaluate", "analyze", "analyse", "assess",
    "fill", "complete", "true or false", "provide", "walk", "suggest", "predict", "justify", "show",
)  # fmt: skip
_TRANSLATE = str.maketrans(
    {"‘": "'", "’": "'", "‚": "'", "‛": "'", "“": '"', "”": '"', "„": '"', "–": "-", "—": "-", "−": "-", "\u00a0": " "}
)
_EMPHASIS = re.compile(r"\*\*|__|(?<!\w)[*_](?=\w)|(?<=\w)[*_](?!\w)|`")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[a-z0-9][a-z0-9_'-]*[a-z0-9]|[a-z0-9]")
_ENDS_SENTENCE = re.compile(r"""[.!?:;)\]"'`>*]\s*$""")


@dataclass(frozen=True)
class GateSettings:
    grounding_threshold: float = 90.0
    answer_support_floor: float = 0.5
    dedup_threshold: float = 0.9
    min_answer_chars: int = 20


@dataclass
class GatedPair:
    pair: ParsedPair
    outcome: RequestOutcome
    position: int  # the pair's index in its reply
    grounding: float = 0.0  # mean best-match score of its evidence quotes, 0..100
    support: float = 0.0
    gate: str | None = None  # the gate that rejected it, None when accepted
    detail: str = ""


@dataclass
class GateResult:
    accepted: list[GatedPair] = field(default_factory=list)
    rejected: list[GatedPair] = field(default_factory=list)


def normalize(text: str) -> str:
    """Text for matching: NFKC, straight quotes and dashes, no emphasis marks, one space, lowercase.

    >>> normalize("The  “reserve”\\n price — **fixed**")
    'the "reserve" price - fixed'
    """
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    text = _EMPHASIS.sub("", text)
    return _SPACE.sub(" ", text).strip().lower()


@lru_cache(maxsize=1)
def context_phrases() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(phrase, whole-word pattern) for each line of the phrase file."""
    lines = PHRASES_FILE.read_text(encoding="utf-8").splitlines()
    phrases = [normalize(line) for line in lines if line.strip() and not line.startswith("#")]
    return tuple((p, re.compile(rf"(?<!\w){re.escape(p)}(?!\w)")) for p in phrases)


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(normalize(text)) if len(w) > 2 and w not in ENGLISH_STOP_WORDS}


def check_form(pair: ParsedPair, min_answer_chars: int) -> str | None:
    for name in ("question", "answer"):
        if not getattr(pair, name).strip():
            return f"empty {name}"
    if any(not s.strip() for s in pair.reasoning_steps) or any(not e.strip() for e in pair.evidence):
        return "empty reasoning step or evidence quote"
    question = normalize(pair.question)
    if len(question.split()) < MIN_QUESTION_WORDS:
        return f"question shorter than {MIN_QUESTION_WORDS} words cannot stand on its own"
    if not (question.endswith("?") or question.startswith(INSTRUCTION_STARTS) or "____" in pair.question):
        return "question has no question form (no '?' and no instruction such as 'Explain')"
    if len(pair.answer.strip()) < min_answer_chars:
        return f"answer shorter than {min_answer_chars} characters"
    if not _ENDS_SENTENCE.search(pair.answer.strip()):
        return "answer is cut off mid-sentence"
    return None


def check_self_contained(question: str) -> str | None:
    text = normalize(question)
    for phrase, pattern in context_phrases():
        if pattern.search(text):
            return f"question leans on its source: {phrase!r}"
    return None


def grounding_scores(evidence: Iterable[str], contexts: Iterable[str]) -> list[float]:
    """Best partial-match score of each quote against the request's context texts."""
    normalized = [normalize(c) for c in contexts]
    return [max((fuzz.partial_ratio(normalize(q), c) for c in normalized), default=0.0) for q in evidence]


def answer_support(answer: str, evidence: Iterable[str], contexts: Iterable[str]) -> float:
    words = content_words(answer)
    if not words:
        return 0.0
    source = set().union(*(content_words(t) for t in (*evidence, *contexts)))
    return len(words & source) / len(words)


def _check_pair(gated: GatedPair, settings: GateSettings, docs_root: Path, figure_paths: dict[str, str]) -> None:
    pair, built = gated.pair, gated.outcome.built
    problem = check_form(pair, settings.min_answer_chars)
    if problem:
        gated.gate, gated.detail = "form", problem
        return
    problem = check_self_contained(pair.question)
    if problem:
        gated.gate, gated.detail = "self_contained", problem
        return
    if not pair.evidence:
        gated.gate, gated.detail = "grounding", "no evidence quote"
        return
    scores = grounding_scores(pair.evidence, built.context)
    gated.grounding = sum(scores) / len(scores)
    worst = min(range(len(scores)), key=scores.__getitem__)
    if scores[worst] < settings.grounding_threshold:
        gated.gate = "grounding"
        gated.detail = f"quote not found in its context (score {scores[worst]:.0f}): {pair.evidence[worst][:120]!r}"
        return
    gated.support = answer_support(pair.answer, pair.evidence, built.context)
    if gated.support < settings.answer_support_floor:
        gated.gate = "answer_support"
        gated.detail = f"{gated.support:.0%} of the answer's content words are in its source"
        return
    for figure in pair.figures:
        path = figure_paths.get(figure)
        if figure not in built.figures or path is None:
            gated.gate, gated.detail = "images", f"figure {figure} was not attached to this request"
            return
        if not (docs_root / path).is_file():
            gated.gate, gated.detail = "images", f"image file {path} does not exist"
            return


def apply_gates(
    outcomes: list[RequestOutcome],
    figure_paths: dict[str, dict[str, str]],
    settings: GateSettings,
    docs_root: Path,
) -> GateResult:
    """Gate every pair of every accepted request. ``figure_paths``: document -> figure id -> path."""
    result = GateResult()
    survivors: dict[str, list[GatedPair]] = {}
    for outcome in outcomes:
        if outcome.status != "accepted":
            continue
        document = outcome.built.planned.document
        for position, pair in enumerate(outcome.pairs):
            gated = GatedPair(pair, outcome, position)
            _check_pair(gated, settings, docs_root, figure_paths.get(document, {}))
            if gated.gate is None:
                survivors.setdefault(document, []).append(gated)
            else:
                result.rejected.append(gated)
    seen_questions: set[str] = set()
    for document in survivors:  # insertion order: the plan's order
        kept = _dedup_document(survivors[document], settings.dedup_threshold, result.rejected)
        for gated in kept:
            key = normalize(gated.pair.question)
            if key in seen_questions:
                gated.gate, gated.detail = "duplicate", "the same question was kept for another document"
                result.rejected.append(gated)
                continue
            seen_questions.add(key)
            result.accepted.append(gated)
    return result


def _dedup_document(pairs: list[GatedPair], threshold: float, rejected: list[GatedPair]) -> list[GatedPair]:
    kept: list[GatedPair] = []
    if not pairs:
        return kept
    questions = [normalize(g.pair.question) for g in pairs]
    try:
        matrix = TfidfVectorizer(token_pattern=r"(?u)\b\w+\b").fit_transform(questions)
        similarity = (matrix @ matrix.T).toarray()
    except ValueError:  # no word at all in any question
        similarity = None
    answers_seen: dict[tuple[QuestionType, str], str] = {}
    kept_indices: list[int] = []
    for i, gated in enumerate(pairs):
        if similarity is not None:
            match = next((j for j in kept_indices if similarity[i, j] >= threshold), None)
            if match is not None:
                gated.gate = "duplicate"
                gated.detail = (
                    f"near-duplicate (cosine {similarity[i, match]:.2f}) of: {pairs[match].pair.question[:100]!r}"
                )
                rejected.append(gated)
                continue
        answer_key = (gated.outcome.built.planned.question_type, normalize(gated.pair.answer))
        earlier = answers_seen.get(answer_key)
        if earlier is not None and earlier != questions[i]:
            gated.gate, gated.detail = "duplicate", "the same answer was kept for another question of this type"
            rejected.append(gated)
            continue
        answers_seen[answer_key] = questions[i]
        kept_indices.append(i)
        kept.append(gated)
    return kept

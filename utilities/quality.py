"""Quality gates: every generated pair passes them all or is rejected with its gate's reason.

Gates, in order (a pair is rejected by the first it fails):

1. ``form``: no empty field; a question has at least four words and a question
   form (ends with "?", starts with an instruction such as "Explain", or has a
   ``____`` blank); the answer has at least its question type's
   ``AnswerBudget.min_words`` words (one for a fact: "Ride." answers "Which
   company ...?"; fifteen for an explanation), or half its section's words when
   that is fewer, and does not stop mid-sentence.
2. ``type_form``: the pair has its question type's form
   (``utilities/type_forms.py``): a true-or-false statement or a sentence with a
   blank, a recall question asking for one fact, a comparison of two named
   things, ordered steps, ...
3. ``degenerate``: the answer is not a sampling accident
   (``utilities/text_checks.py``): no JSON debris (``\\"``, ``"answer":``, a
   closing ``"]}``) unless its source has the same construct; no letters of a
   script its source and question never use (CJK, Cyrillic, ...); no loop (a
   verbatim repeated sentence of five words or more making over 20% of the
   prose, a 2-4-gram occurring four times or more over 30/27/24% of the prose
   characters, duplicated 5-10-gram runs over 25% down to 20%: the Gopher rules
   with thresholds above every paragraph of the shared documents; code is left
   out of the count); and not a restatement of its question (80% of its words
   are the question's, in order, with at most one new content word).
4. ``self_contained``: the question uses none of the phrases in
   ``models/data/context_phrases.txt`` ("the document", "this section", ...),
   and makes no definite reference to an unnamed thing of its source: a noun of
   ``models/data/generic_references.txt`` after "the"/"this"/"these"/... ("the
   proposal", "this change", "the two curves", "the `if` clause") is allowed
   only when the question also names something: an identifier (``EIP-7918``,
   ``BLOB_BASE_COST``, ``Crates.io``), a code span (`` `cargo publish` ``), a
   capitalized name after its first word (not a month or weekday), or a name from its document's or
   sections' titles. Nor does the answer talk about its source ("according to
   the passage", "as stated in the text", "the document mentions"), or end a
   clause on a bare "this", "these" or "those" ("no security risks associated
   with this."); and neither leans on its context otherwise (``_leans_on_context``:
   "such circumstances", an undefined "$b$", the author's "I" or "my") or points
   at a figure's marks, a chapter or a section it does not carry (``unseen_parts``).
5. ``tautology``: the answer is not already in its question: its normalized text
   is not a whole-word part of the question, and its content words (stemmed)
   and code spans are not all the question's. Yes/no and true/false answers,
   and answers to either-or questions, are not tested. Nor is a why-answer a
   restatement (``restated_reason``), a blanked acronym spelled out before its
   blank (``spelled_out_reason``), a term a link's address spells out
   (``linked_reason``), or an answer that echoes its question and adds one word
   (``echoed_reason``).
6. ``on_target``: asked what a thing is, the answer does not only say how it changes
   ("What is the unit cost of data services?" "Technological progress brings it down.",
   ``trend_reason``); asked for an amount (a value, a level, how many) or a name, it gives one
   (``amountless_reason``); asked what a bare thing is, it says what it is, with a verb of
   definition after the thing (``undefined_reason``); and it mentions at least ``ON_TARGET_SHARE`` of the terms
   its question asks about: the question's content words (stemmed; identifiers
   split into their words) less those that only frame it
   (``models/data/question_frame_words.txt``: "purpose", "difference", "value").
   A small model asked about one thing often copies a neighbouring sentence
   about another. Not tested for true-or-false and fill-in-the-blank items, for
   a question naming fewer than ``MIN_ASKED_TERMS`` terms, or for an answer of
   fewer than ``MIN_JUDGED_ANSWER_WORDS`` content words ("A reserve price.") or
   one that opens with the condition, cause, means or aim asked for ("When ...").
7. ``grounding``: at least one evidence quote, and every distinct quote is found
   in the request's context (its sections and facts) by fuzzy partial matching
   on normalized text (case, whitespace, curly quotes, dashes, emphasis
   markers), score >= ``grounding_threshold``. A quote found nowhere is a
   hallucination. A quote cited twice counts once.
8. ``evidence_support``: the answer rests on its own quotes, not on the whole
   section: (a) the question shares a content word with the quotes (it asks
   about what they say); (b) every number in the answer (``8``, ``0.5``,
   ``2**13``; not list markers) is in the quotes or the question, else it is an
   invented constant; (c) of the answer's content words that are not in the
   question, the share found in the quotes (stemmed: "fees" matches "fee") is
   at least ``evidence_support_floor``. The question's words are left out
   because they cannot show that what the answer adds is supported.
9. ``unsourced``: the answer adds little the sources never say: of its content
   words not in the question, no more than the share ``unsourced_ceiling``, or
   fewer than ``MIN_UNSOURCED_WORDS``, occur in none of the texts its request
   showed, their titles, or the words inside their identifiers (``excess_blob_gas`` holds
   "excess", "blob", "gas"). A pair that carries a figure is not tested: its
   words may describe the image.
10. ``sources``: a ``MULTI_HOP_REASONING`` answer's evidence holds a sentence of
   its section and one of a related section.
11. ``polarity``: the answer keeps the negations and hedges ("may", "arguably")
   of the quotes it rests on, and a true-or-false verdict agrees with a shown
   sentence that holds every content word of its statement.
12. ``images``: every figure a pair names was attached to its request and its file
   exists.
13. ``duplicate``: within one request, a pair whose answer or question is a near
   copy of an earlier kept pair's (rapidfuzz ``token_sort_ratio`` on normalized
   text >= ``dedup_threshold`` x 100) is dropped; within a document, a question
   whose TF-IDF cosine similarity to an earlier kept question reaches
   ``dedup_threshold`` is dropped, as is an exact repeat of an earlier answer to
   another question of the same type; across documents, exact repeats of a
   question are dropped. Order is deterministic: documents, then requests in
   plan order, then pairs in reply order.

A kept pair's reasoning steps are filtered, not gated: a step that shares no
content word with its question, evidence or source, once filler words
(``models/data/step_filler_words.txt``: "identify", "problem", "process", ...)
are set aside, is dropped ("Identify the problem."), as is one that talks about
its source ("The text states that ..."); a pair left with no step is
written without its ``<think>`` block.

Deliberately no model: these gates are cheap and deterministic. They cannot tell
a paraphrase that contradicts its quote from one that agrees with it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from functools import cached_property, lru_cache
from pathlib import Path

from rapidfuzz import fuzz
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from models.documents import DocumentName
from models.question_types import QUESTION_TYPE_SPECS, QuestionType
from models.records import GatedPair, GateResult, ParsedPair, RequestOutcome, RequestSources
from models.schemas import ReplyLimits
from utilities.facts import quotable_sentences
from utilities.figures import strip_placeholders
from utilities.naming import SELF_NOUNS, SOURCE_NOUNS, name_document, name_document_in_answer
from utilities.sections import TITLE_SEPARATOR
from utilities.settings import Float, SettingsModel, setting
from utilities.text_checks import (
    BLANK,
    asks_only,
    content_stems,
    content_words,
    cut_off,
    dangling_end,
    degenerate_reason,
    normalize,
    short_answer,
    stem,
    value_tokens,
)
from utilities.type_forms import (
    CLOZE_LABEL,
    ITEM_LABEL,
    TIE_WORDS,
    judged_statement,
    type_form_reason,
    verdict,
    without_connective,
)

__all__ = [
    "GATES",
    "GateSettings",
    "apply_gates",
    "content_words",
    "evidence_support",
    "grounding_scores",
    "normalize",
]


class GateSettings(SettingsModel):
    """The quality gates' thresholds."""

    grounding_threshold: Float = setting(
        "90", "fuzzy score (0-100) every evidence quote must reach in its source", ge=0.0, le=100.0
    )
    evidence_support_floor: Float = setting(
        "0.5", "share of an answer's content words that must occur in its own cited evidence", ge=0.0, le=1.0
    )
    unsourced_ceiling: Float = setting(
        "0.35",
        "share of an answer's content words not in its question that may be in no source shown; "
        "1 turns the gate off (its code check too)",
        ge=0.0,
        le=1.0,
    )
    dedup_threshold: Float = setting(
        "0.9", "TF-IDF cosine at which a question is a near-duplicate of an earlier one", ge=0.0, le=1.0
    )


DATA = Path(__file__).resolve().parent.parent / "models" / "data"
PHRASES_FILE = DATA / "context_phrases.txt"
REFERENCES_FILE = DATA / "generic_references.txt"
FILLER_FILE = DATA / "step_filler_words.txt"
FRAME_FILE = DATA / "question_frame_words.txt"

MIN_QUESTION_WORDS = 4  # "What is a crate?" stands on its own; "What is this?" cannot

INSTRUCTION_STARTS = (
    "explain", "describe", "summarize", "summarise", "compare", "contrast", "list", "outline", "give",
    "state", "identify", "name", "define", "discuss", "evaluate", "analyze", "analyse", "assess",
    "fill", "complete", "true or false", "provide", "walk", "suggest", "predict", "justify", "show",
)  # fmt: skip
# Words after "the"/"this" that make a reference to a part of the source rather than a modifier.
REFERENCE_MODIFIERS = (
    "above", "following", "previous", "preceding", "aforementioned", "given", "said", "mentioned",
    "described", "shown", "earlier", "latter", "former", "two", "three", "four", "both", "new", "proposed",
    "original", "first", "second", "third", "last", "same", "current", "specific", "particular", "provided",
    "presented", "example", "sample", "modified", "updated", "final", "resulting",
)  # fmt: skip
CODE_KEYWORDS = frozenset({
    "if", "else", "for", "while", "loop", "match", "let", "fn", "pub", "mod", "use", "return", "impl", "struct",
    "enum", "true", "false", "none", "null", "self", "mut", "int", "void", "new",
})  # fmt: skip
YES_NO = frozenset({"yes", "no", "true", "false", "correct", "incorrect", "right", "wrong"})
_SMALL_NUMBERS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
)  # fmt: skip
NUMBER_WORDS = {w: str(n) for n, w in enumerate(_SMALL_NUMBERS)} | {
    "thirty": "30", "forty": "40", "fifty": "50", "hundred": "100", "thousand": "1000", "half": "0.5",
}  # fmt: skip

_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_IDENTIFIER = re.compile(
    r"\b(?:[A-Za-z]+[-_]?\d[\w.-]*|\w+_\w+|[a-z]+[A-Z]\w*|[A-Z]\w*[A-Z]\w*|\w+(?:\.\w+)+|\w+::\w+)\b"
)
# "this fee", "these values": a demonstrative points back at text the reader of a pair never saw.
_DEMONSTRATIVE = re.compile(
    r"\b(?:this|these)\s+(?!(?:is|are|was|were|be|been|being|means?|meant|can|could|will|would|should|may|might|"
    r"must|does|do|did|has|have|had|not|also|only|one|ones|way|case|kind|type|time|year|day)\b)[a-z][\w-]*",
    re.IGNORECASE,
)
# An item (a sentence with a blank, a statement to judge) that opens by pointing at what came before it in
# its source: "It sets ...", "This implies ...", "In this light, ...", "Such a fee ...".
_ITEM_OPENING = ITEM_LABEL + r"\W+"
_ITEM_POINTS_BACK = re.compile(
    _ITEM_OPENING + r"(?P<opener>it|its|they|their|them|this|these|those|that|such|here|there|in this \w+|as a result|"
    r"for this reason|however|thus|therefore|hence|instead|then|otherwise|consequently|as such|in turn|alternatively|"
    r"similarly|likewise|moreover|furthermore|additionally|in addition|conversely|meanwhile|besides|also)\b",
    re.IGNORECASE,
)
_ITEM = re.compile(_ITEM_OPENING, re.IGNORECASE)
# "the proposed reserve fee", "the original data", "the new value": an adjective that places its noun relative to
# the source's own story (what it proposes, what came before) points at one thing of it, whatever the noun; a
# name right after it is that thing's, and still leaves "new" to the story ("the *new* `blobSchedule.max`").
_RELATIVE = re.compile(
    r"\bthe\s+[*_]*(?P<relative>new|original|proposed|resulting|previous|preceding|aforementioned|above|same)[*_]*\s+"
    r"(?!(?:time|times|way|ways|as|one|ones|thing|kind|type|sort)\b)(?:`[^`\n]+`|[\w-]+)",
    re.IGNORECASE,
)
# a sentence ends on ".", "!" or "?" (closing marks aside); a heading or a table row does not
_SENTENCE_END = re.compile(r"[.!?][*_)\"'’”]*$")
_NEXT_TOKEN = re.compile(r"\s*(`[^`\n]+`|[\w.()-]+)")
# 'the chapter "Making Your Own Image Filters"': a title in quotes right after the noun names the source (as the
# gates' own naming writes a document with no number, ``naming.name_document``)
_QUOTED_NAME = re.compile(r'\s*["“][^"”\n]*[A-Za-z0-9][^"”\n]*["”]')
# a reference that opens on a demonstrative ("these documentation comments") points back at what its source just said
_POINTING = re.compile(r"(?:this|these|that|those)\b", re.IGNORECASE)
# "this" or "these" standing alone at the end of a clause: "are there risks associated with this?" points
# at something its source said before, which a name elsewhere in the question does not tell.
_BARE_DEMONSTRATIVE = re.compile(r"\b(?:this|these|those)\s*(?=[?.,;:!]|$)", re.IGNORECASE)
_FIGURE_REFERENCE = re.compile(
    r"\b(?P<kind>figures?|fig\.?|tables?|listings?|chapters?|sections?|equations?|examples?|steps?)\s+"
    r"(?P<number>\d+(?:[.-]\d+)*)",
    re.I,
)
# How a text points at a figure's marks without a number: a colour or a line style and the mark it draws ("the
# vertical blue line", "a dashed curve"), a mark or a colour in parentheses ("the equilibrium (squares)", "(red)"),
# colours as a key ("indicated in darker colors"). A reader of the pair does not see that figure unless it carries it.
_COLOURS = r"red|blue|green|orange|purple|black|gr[ae]y|yellow|pink|brown|cyan|magenta"
_FIGURE_MARK = re.compile(
    rf"\b(?:{_COLOURS}|dashed|dotted|solid|shaded|vertical|horizontal)(?:\s+(?:{_COLOURS}|dashed|dotted))?\s+"
    r"(?:lines?|curves?|bars?|dots?|areas?|regions?|arrows?|squares?|circles?|markers?|boxes?)\b"
    rf"|\((?:squares?|circles?|arrows?|dots?|triangles?|crosses|diamonds?|markers?|{_COLOURS})\)"
    r"|\b(?:in|by) (?:the )?(?:darker|lighter|different|bold) colou?rs?\b"
    rf"|\b(?:shown|illustrated|drawn|plotted|depicted|marked|highlighted) (?:in|as|by) (?:a |the )?(?:{_COLOURS})\b",
    re.IGNORECASE,
)
# "The figure indicates that ...", "this diagram": a figure named by no number, which a pair that carries no figure
# points at without showing (not "graph", "chart" or "plot": a commit graph, a Helm chart, a story's plot)
_UNNUMBERED_FIGURE = re.compile(
    r"\b(?:the|this|that|these|those)\s+(?:(?:above|following|attached|accompanying|previous)\s+)?"
    r"(?:figure|diagram)s?\b(?!\s*\d)",
    re.IGNORECASE,
)
# "(also applicable below)", "as shown above": where in its source a statement's subject is, which a pair lacks
_SOURCE_POSITION = re.compile(
    r"\b(?:see|as|shown|described|discussed|listed|explained|given|defined|applicable|mentioned|noted|detailed)"
    r"\s+(?:above|below|earlier|later)\b(?!\s+(?:the|a|an|\$|\d))|\((?:see )?(?:above|below)\)",
    re.IGNORECASE,
)
# "$c$ is fixed", "below which $b$ cannot be reduced": a one-letter symbol that no noun before it names ("the blob
# base fee $b$") stands for something its source defined elsewhere
_BARE_SYMBOL = re.compile(
    r"(?:^|[(,;:]\s*|\b(?:a|an|the|of|which|that|and|or|if|when|where|is|are|to|by|for|with|from|on|in|at|as|then)\s+)"
    r"(?P<symbol>\$[A-Za-z](?:_\{?\w+\}?)?\$)",
    re.IGNORECASE,
)
# "This would however be another reason ...": a statement that opens on a pronoun standing for what came before
_OPENS_ON_DEMONSTRATIVE = re.compile(
    r"^\W*(?:this|these|that|those)\s+(?:is|are|was|were|would|will|can|could|may|might|should|has|have|means?|"
    r"shows?|implies|suggests)\b",
    re.IGNORECASE,
)
# "I thought it would show travel", "my photos": a sentence in its author's own voice tells the author's story,
# which no reader of a pair can recall ("I" as a word, not "I/O" or "I-beam")
_FIRST_PERSON = re.compile(r"(?<![\w'’/])I(?![\w/.-])|\b(?:[Mm]e|[Mm]y|[Mm]ine|[Mm]yself)\b")
# "under such circumstances", "such a fee": "such" as a determiner points back at what its source just said
_SUCH = re.compile(r"\bsuch\s+(?!as\b|that\b)(?:an?\s+)?[a-z][\w-]*", re.IGNORECASE)
# "The first two are the red value": an ordinal and a count with no noun stand for things named before the sentence
_ELLIPTICAL_COUNT = re.compile(
    r"\bthe\s+(?:first|second|third|fourth|last|next|other|remaining)\s+(?:two|three|four|five|six|few)"
    r"(?=\s+(?:are|is|were|was|have|has|the|an?)\b|\s*[,;.])",
    re.IGNORECASE,
)
_DOCUMENT_PARTS = re.compile(r"\b(?:figure|table|listing|section|chapter|equation|step|example|fig)\.?\s+[\d.-]+", re.I)
_CAPITALIZED = re.compile(r"(?<![.:?!]\s)(?<!^)\b[A-Z][a-z]+\b")
# An answer that talks about its source instead of its subject: a model trained on it learns to cite a passage
# it will not have ("According to the passage, ...", "as stated in the text", "This is stated in the sentence").
_SOURCE_NOUN = r"(?:passage|text|document|section|source|excerpt|article|paragraph|sentence|chapter|abstract)s?"
_SOURCE_TALK = re.compile(
    rf"\baccording to (?:the|this|these) {_SOURCE_NOUN}\b"
    rf"|\b(?:as|is|are|was|were) (?:\w+ly )?(?:stated|mentioned|described|explained|noted|said|given) in (?:the|this) "
    rf"{_SOURCE_NOUN}\b"
    rf"|\b(?:the|this) {_SOURCE_NOUN} (?:\w+ly )?"
    r"(?:states|says|mentions|describes|explains|notes|suggests|indicates|lists)\b",
    re.IGNORECASE,
)
# a date names when, not what: "In March 2025, the proposed fee ..." still leans on an unnamed proposal
CALENDAR_NAMES = frozenset({
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
    "December", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
})  # fmt: skip
MIN_TERM_USES = 2  # a term of the source: two words it uses together at least this often
_NEXT_WORD = re.compile(r"\s+([A-Za-z][\w-]*)")
_NUMBER = re.compile(r"(?<![\w.-])\d+(?:,\d{3})*(?:\.\d+)?(?:\s*(?:\*\*|\^)\s*\d+)?(?![\w])(?!-\d)")
_ENUMERATOR = re.compile(r"(?:^|\n|[:;.]\s)\s*\(?\d{1,2}[.)]\s|\bsteps?\s+\d+", re.IGNORECASE)


def _data_lines(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@lru_cache(maxsize=1)
def context_phrases() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(phrase, whole-word pattern) for each line of the phrase file."""
    phrases = [normalize(line) for line in _data_lines(PHRASES_FILE)]
    return tuple((p, re.compile(rf"(?<!\w){re.escape(p)}(?!\w)")) for p in phrases)


@lru_cache(maxsize=1)
def _reference_pattern() -> re.Pattern[str]:
    """A determiner, optional modifiers, a generic noun: "the two curves", "the `if` clause", "this change"."""
    rows = [line.split() for line in _data_lines(REFERENCES_FILE)]
    strong = "|".join(re.escape(noun) for kind, noun in rows if kind == "strong")
    weak = "|".join(re.escape(noun) for kind, noun in rows if kind == "weak")
    modifier = "|".join(REFERENCE_MODIFIERS)
    plural = r"(?:s|es)?\b(?![-./]?\w)"  # not "the hooks/update script": a path
    word = r"(?:`[^`\n]+`|[\w-]+)"
    return re.compile(
        rf"\b(?:the|this|these|that|those)\s+(?:(?:{modifier})\s+)?"
        rf"(?:(?P<word>{word}(?:\s+{word})?)\s+(?:{strong}){plural}|(?:{strong}|{weak}){plural})",
        re.IGNORECASE,
    )


@lru_cache(maxsize=1)
def _filler_words() -> frozenset[str]:
    return frozenset(stem(w.lower()) for w in _data_lines(FILLER_FILE))


def check_form(pair: ParsedPair, question_type: QuestionType, source_words: int | None = None) -> str | None:
    """``source_words``: the length of the request's section; a summary of a 25-word section may be
    shorter than a summary's usual minimum, so the minimum is at most half the section."""
    for name in ("question", "answer"):
        if not getattr(pair, name).strip():
            return f"empty {name}"
    if any(not s.strip() for s in pair.reasoning_steps) or any(not e.strip() for e in pair.evidence):
        return "empty reasoning step or evidence quote"
    question = normalize(pair.question)
    if len(question.split()) < MIN_QUESTION_WORDS:
        return f"question shorter than {MIN_QUESTION_WORDS} words cannot stand on its own"
    if not (question.endswith("?") or question.startswith(INSTRUCTION_STARTS) or BLANK.search(pair.question)):
        return "question has no question form (no '?' and no instruction such as 'Explain')"
    min_words = QUESTION_TYPE_SPECS[question_type].answer.min_words
    if source_words is not None:
        min_words = max(1, min(min_words, source_words // 2))
    if len(pair.answer.split()) < min_words:
        return f"answer shorter than {min_words} words, the least for {question_type.value}"
    built = pair.question.startswith(CLOZE_LABEL) and short_answer(pair.answer)  # a term: type_form judges the item
    if (cut_off(pair.answer, pair.question) or dangling_end(pair.answer)) and not built:
        return "answer is cut off mid-sentence"
    return None


def _names_something(text: str, subject_names: frozenset[str]) -> str | None:
    """The first name in ``text``: a naming code span, an identifier, a capitalized word, a title name."""
    for span in _CODE_SPAN.findall(text):
        if len(span.strip()) >= 3 and span.strip().lower() not in CODE_KEYWORDS:
            return span
    prose = BLANK.sub(" ", _DOCUMENT_PARTS.sub(" ", _CODE_SPAN.sub(" ", text)))  # a blank names nothing
    for pattern in (_IDENTIFIER, _CAPITALIZED):
        for match in pattern.finditer(prose.strip()):
            word = match.group(0)
            if not (pattern is _CAPITALIZED and (stem(word.lower()) in _generic_nouns() or word in CALENDAR_NAMES)):
                return word
    words = {stem(w) for w in re.findall(r"[\w.-]+", prose.lower())}
    return next(iter(sorted(words & subject_names)), None)


@lru_cache(maxsize=1)
def _generic_nouns() -> frozenset[str]:
    return frozenset(line.split()[1] for line in _data_lines(REFERENCES_FILE)) | {"i", "what", "how", "why"}


def check_self_contained(question: str, subject_names: frozenset[str] = frozenset(), source: str = "") -> str | None:
    """Why the question cannot stand without its source, or None.

    A generic noun that opens a term of the source names it: "the purpose of documentation
    comments" is about the source's "documentation comments", not about some documentation.
    """
    text = normalize(question)
    for phrase, pattern in context_phrases():
        if any(not _QUOTED_NAME.match(text, m.end()) for m in pattern.finditer(text)):
            return f"question leans on its source: {phrase!r}"
    if opener := _ITEM_POINTS_BACK.match(question):
        return f"the item opens on {opener.group('opener')!r}, which points at source text it does not show"
    if leans := _leans_on_context(question):  # as an answer or an item's sentence may: "this" bare, "such", "I"
        return f"question {leans}"
    references = [
        *_reference_pattern().finditer(question),
        *_DEMONSTRATIVE.finditer(question),
        *_RELATIVE.finditer(question),
    ]
    references = [
        m for m in references if not _refers_back(question, m) and not _opens_source_term(question, m, source)
    ]
    if not references:
        return None
    if _ITEM.match(question):  # a sentence of its source: "the function" there is one it named before
        unnamed = [m for m in references if _pointer(m) and not _named_in_place(question, m, subject_names)]
        if unnamed:
            return f"the item refers to {unnamed[0].group(0)!r} without naming it"
    rest = _RELATIVE.sub(" ", _DEMONSTRATIVE.sub(" ", _reference_pattern().sub(" ", question)))
    if _names_something(rest, subject_names):
        return None
    if any(_named_in_place(question, m, subject_names) for m in references):
        return None
    return f"question refers to {references[0].group(0)!r} without naming it"


def _pointer(reference: re.Match[str]) -> bool:
    """The reference's noun is a strong one of ``generic_references.txt`` ("function", "curve", "clause"), or an
    adjective places it in the source ("the proposed reserve fee"): it points at one thing of the source, where
    a weak one ("the current mechanism") may be general."""
    if reference.groupdict().get("relative"):
        return True
    return any(w in _strong_nouns() for w in _singulars(reference.group(0).split()[-1].strip("`")))


@lru_cache(maxsize=1)
def _strong_nouns() -> frozenset[str]:
    return frozenset(noun for kind, noun in map(str.split, _data_lines(REFERENCES_FILE)) if kind == "strong")


def _named_in_place(question: str, reference: re.Match[str], subject_names: frozenset[str]) -> bool:
    """The reference names its thing where it stands: "the `calc_excess_blob_gas` function", "the function
    `calc_excess_blob_gas()`". A name elsewhere in a long item ("When the reserve price is above
    `GAS_PER_BLOB * base_fee_per_blob_gas`, the function ...") does not say which function. A blank right after
    the determiner is the name a learner fills in: "The ____ method is called for every animation" (not "the
    *new* ____", whose thing the source's story places)."""
    if BLANK.match(reference.group(0).split(None, 1)[-1]) or _QUOTED_NAME.match(question, reference.end()):
        return True
    word = reference.groupdict().get("word")
    if word and _names_something(f"a {word}", subject_names):
        return True
    following = _NEXT_TOKEN.match(question, reference.end())
    return bool(following and _names_something(f"a {following.group(1)}", subject_names))


def _singulars(word: str) -> tuple[str, ...]:
    """The forms a noun may have in the singular: "curves" -> "curve", "classes" -> "class". ``_singular`` gives
    one stem, which is "curv" for "curves" and does not match "curve" in a list of nouns."""
    word = word.lower()
    return (word, word[:-1] if word.endswith("s") else "", word[:-2] if word.endswith("es") else "")


def _singular(word: str) -> str:
    """A noun in either number, for matching: "comments" and "comment" -> "comment"."""
    return re.sub(r"(?<=\w{3})(?:es|s)$", "", word.lower())


def _refers_back(question: str, reference: re.Match[str]) -> bool:
    """The reference's noun is one the question already used: "the equilibrium blob base fee rises once demand
    at this fee is above target" points at its own "blob base fee", not at the source."""
    head = _singular(reference.group(0).split()[-1].strip("`"))
    return bool(re.search(rf"(?<!\w){re.escape(head)}", question[: reference.start()], re.IGNORECASE))


def _opens_source_term(question: str, reference: re.Match[str], source: str) -> bool:
    """The reference's last word and the word after it make a term the source uses again and again
    ("documentation comments"), not once in passing as a noun and its verb ("the function returns"). Not for
    "the proposed reserve fee": its adjective places any term in the source's story; nor, in a question, for "these
    documentation comments": a demonstrative points back at the ones its source just showed, term or not. An item
    is a sentence of its source: its "this documentation comment" is the one it is about ("We can generate the ____
    from this documentation comment by running `cargo doc`.")."""
    if reference.groupdict().get("relative"):
        return False
    if _POINTING.match(reference.group(0)) and not _ITEM.match(question):
        return False
    following = _NEXT_WORD.match(question, reference.end())
    if not following or following.group(1).lower() in ENGLISH_STOP_WORDS:
        return False
    head = _singular(following.group(1))
    term = rf"(?<!\w){re.escape(reference.group(0).split()[-1].lower())}\s+{re.escape(head)}(?:s|es)?(?!\w)"
    return len(re.findall(term, source.lower())) >= MIN_TERM_USES


def subject_names(outcome: RequestOutcome) -> frozenset[str]:
    """Names in the request's document and section titles (``title_names``)."""
    return title_names(outcome.request.titles)


@lru_cache(maxsize=1024)
def title_names(titles: tuple[str, ...]) -> frozenset[str]:
    """Names in document and section titles.

    In a title-case heading (its first two content words capitalized: "Installing Binaries with
    cargo install") the lowercase words are code names; in a sentence-case one ("Blob base fee
    bounded by execution cost") the capitalized words after the first; identifiers anywhere
    ("Crates.io", "EIP-7918").
    """
    names: set[str] = set()
    for title in titles:
        for heading in title.split(TITLE_SEPARATOR):
            names.update(m.group(0).lower() for m in _IDENTIFIER.finditer(heading))
            names.update(s.lower() for s in _CODE_SPAN.findall(heading))
            words = [w for w in re.findall(r"[A-Za-z][\w'-]*", heading) if w.lower() not in ENGLISH_STOP_WORDS]
            if len(words) >= 2 and words[0][0].isupper() and words[1][0].isupper():  # title case
                names.update(w.lower() for w in words if w[0].islower())
            else:
                names.update(w.lower() for w in words[1:] if w[0].isupper())
    return frozenset(stem(n) for n in names if len(n) > 1)


def check_tautology(question: str, answer: str) -> str | None:
    """The answer is already in its question ("What is the name of the installed binary `rg`?" -> "`rg`.")."""
    q = normalize(question)
    if re.search(r"\bor\b", q) or q.startswith("true or false"):
        return None  # choosing one option of the question is an answer
    a = normalize(answer).strip(" .!?;:")
    if a and re.search(rf"(?<!\w){re.escape(a)}(?!\w)", q) and a not in YES_NO:
        return "the answer is a part of its question"
    answer_words = {stem(w) for w in re.findall(r"[\w.-]+", a) if w not in ENGLISH_STOP_WORDS} - YES_NO
    question_words = {stem(w) for w in re.findall(r"[\w.-]+", q)}
    spans = {normalize(s) for s in _CODE_SPAN.findall(answer)}
    if answer_words and answer_words <= question_words and all(s in q for s in spans):
        return "every word of the answer is in its question"
    return (
        spelled_out_reason(question, answer)
        or linked_reason(question, answer)
        or restated_reason(question, answer)
        or echoed_reason(question, answer)
    )


MAX_ECHO_WORDS = 1  # content words an answer may add to its question's and still say nothing it did not
MIN_ECHOED_WORDS = 2  # of the question's content words, that an answer must repeat to echo it
# a name an answer may add to its question's words: a number, an identifier (dav_module, baseFee, EIP-7840)
_NAMED_VALUE = re.compile(r"\w*\d\w*|\w+_\w+|[a-z]+[A-Z]\w*")


def echoed_reason(question: str, answer: str) -> str | None:
    """An open question answered by repeating its words (``MIN_ECHOED_WORDS`` or more) and adding at most
    ``MAX_ECHO_WORDS``, with no value or name it lacks: "How do Rust and Cargo make published packages easier for
    people to find and use?" answered "Rust and Cargo have features that make your published package easier for
    people to find and use.". A new number, code span or identifier is an answer on its own ("The default
    `opt-level` of `dev` is `0`."; "The dav_module is loaded."). Not judged: items (a blank, a verdict) and yes or
    no answers; ``check_tautology`` leaves out questions that offer options ("X or Y?") before it asks.

    >>> echoed_reason("What in Cargo makes crates easy to find?", "Cargo has features that make crates easy to find.")
    "the answer adds only 'featur' to its question's words"
    >>> echoed_reason("What in Cargo makes crates easy to find?", "Its `description` field makes them easy to find.")
    """
    if BLANK.search(question) or verdict(question, answer):
        return None
    if normalize(answer).split(" ", 1)[0].strip(",.;:!") in YES_NO:
        return None  # a polar question's verdict
    said, asked = content_stems(_identifier_words(answer)), content_stems(_identifier_words(question))
    if len(said & asked) < MIN_ECHOED_WORDS:
        return None  # a short answer in its own words ("Reserve.")
    added = said - asked
    names = _added(_NAMED_VALUE, answer, question)
    if len(added) > MAX_ECHO_WORDS or value_tokens(answer) - value_tokens(question) or names:
        return None
    new = f"only {next(iter(added))!r}" if added else "nothing"
    return f"the answer adds {new} to its question's words"


def _added(pattern: re.Pattern[str], answer: str, question: str) -> set[str]:
    """What ``pattern`` finds in ``answer`` and not in ``question``, case aside: the names an answer adds."""
    return {m.group(0).lower() for m in pattern.finditer(answer)} - {
        m.group(0).lower() for m in pattern.finditer(question)
    }


_ADDRESS = re.compile(r"\]\(([^)\s]+)\)|\b(?:https?|ftp)://\S+")


def linked_reason(question: str, answer: str) -> str | None:
    """A link's address in the item spells out its blanked term: "we will call [____](http://processing.org/
    reference/noLoop_.html)" answered "`noLoop()`".

    >>> linked_reason("Fill in the blank: we call [____](http://p5.org/reference/noLoop_.html) once.", "`noLoop()`")
    "a link's address in the item gives its term away"
    >>> linked_reason("Fill in the blank: we call [____](http://p5.org/reference/) once.", "`noLoop()`")
    """
    term = re.sub(r"[^a-z0-9]", "", answer.lower())
    addresses = re.sub(r"[^a-z0-9]", "", " ".join(m.group(0) for m in _ADDRESS.finditer(question)).lower())
    if BLANK.search(question) and len(term) >= MIN_LINKED_TERM_CHARS and term in addresses:
        return "a link's address in the item gives its term away"
    return None


MIN_LINKED_TERM_CHARS = 3  # "io" may be in any address by chance


def spelled_out_reason(question: str, answer: str) -> str | None:
    """A blank in parentheses whose term is the initials of the words just before it: "Execution layer (____)"
    answered "EL" gives its answer away.

    >>> spelled_out_reason("Fill in the blank: Execution layer (____) nodes validate blobs.", "EL")
    'the blanked acronym is spelled out before it'
    >>> spelled_out_reason("Fill in the blank: EL nodes verify `CELLS_PER_EXT_BLOB` (____) proofs.", "128")
    """
    blank = re.search(r"\(\s*_{2,}\s*\)", question)
    term = re.sub(r"[^A-Za-z]", "", answer)
    if not blank or not 2 <= len(term) <= 8:
        return None
    words = re.findall(r"[A-Za-z][\w-]*", question[: blank.start()])[-len(term) :]
    initials = "".join(w[0] for w in words)
    return "the blanked acronym is spelled out before it" if initials.lower() == term.lower() else None


_WHY = re.compile(
    r"^\s*(?:why\b|what is the reason\b|for what reason\b"
    r"|how (?:does|do|did|can|could|is|are|was|were|will|would|should)\b"
    r"(?=.*\b(?:ensur|guarant|achiev|prevent|avoid|keep|maintain|allow|enabl|help|improv|reduc|bring|alleviat|"
    r"address|solv|fix|protect|limit)\w*))",
    re.IGNORECASE,
)  # "how does X ensure Y?" asks for a means; "how do you compute X?" may be answered by a formula
# What opens a reason, a condition or a means: the clause after it is the answer to a "why" (not the "as" of "such
# as" or "as well as", which opens examples or more of the same)
_REASON_MARK = re.compile(
    r"\b(?:because|since|(?<!such )(?<!well )as|due to|owing to|so that|so|therefore|thus|hence|in order to|given|"
    r"if|when|whenever|once|unless|by|through|via|otherwise|which means|meaning|"
    r"to (?:avoid|prevent|ensure|keep|allow|make|fix|reduce|enable|let|help|limit|protect))\b",
    re.IGNORECASE,
)
MIN_REASON_WORDS = 2  # content words a reason adds to its question: one may be a name the question left out


def restated_reason(question: str, answer: str) -> str | None:
    """Asked why (or how, for a means), the answer gives no reason the question does not already hold: no
    clause opened by "because", "if", "by", "so that" and their kin adds ``MIN_REASON_WORDS`` content words
    (or a value) to the question. The 1.5B turns a source sentence into "Why does X ensure Y?" or "How does X
    ensure Y?" and answers "X ensures Y." (17 such pairs in the labelled sets, all bad; no good pair fails it.)

    >>> restated_reason("Why are fixed thresholds not sustainable?",
    ...                 "Fixed thresholds not relating to blob quantity may not be sustainable.")
    'asked why, the answer gives no reason that the question does not already hold'
    >>> restated_reason("Why can blocks pass before the fee catches up?",
    ...                 "If the execution base fee rises quickly, blocks pass before the fee catches up.")
    """
    if not (how := _WHY.match(question)):
        return None
    asked = content_stems(_identifier_words(question))
    for mark in _REASON_MARK.finditer(answer):
        clause = re.split(r"[,.;:]", answer[mark.end() :], maxsplit=1)[0]
        added = content_stems(_identifier_words(clause)) - asked
        if len(added) >= MIN_REASON_WORDS or value_tokens(clause) - value_tokens(question):
            return None
    kind = "how" if how.group(0).strip().lower().startswith("how") else "why"
    return f"asked {kind}, the answer gives no reason that the question does not already hold"


@lru_cache(maxsize=1)
def _frame_words() -> frozenset[str]:
    return frozenset(stem(w.lower()) for w in _data_lines(FRAME_FILE))


# "What is the unit cost of data services?" asks what a thing is; these frames ask how it relates, acts or changes
_WHAT_IS = re.compile(r"^what (?:is|are|was|were) (?P<asked>(?:the |an? )?[^?]+)\?$", re.IGNORECASE)
_HOW_FRAMES = frozenset((
    "relationship", "relation", "effect", "effects", "impact", "reason", "reasons", "reasoning", "rationale",
    "role", "purpose", "goal", "trend", "change", "changes", "difference", "differences", "significance",
    "function", "use", "consequence", "consequences", "result",
))  # fmt: skip
# a finite verb of change: what a thing does over time, not what it is ("brings down", "should fall")
_CHANGE = re.compile(
    r"\b(?:falls?|fell|rises?|rose|drops?|dropped|declines?|declined|grows?|grew|shrinks?|shrank|"
    r"(?:increases?|decreases?)(?! (?:of|in)\b)|brings? down|goes? (?:up|down)|went (?:up|down))\b",
    re.IGNORECASE,
)


# words that place or qualify what "What is X?" asks for: "the fee of X", "the value used by Y", "the price that ..."
_PLACING_WORDS = frozenset((
    "of", "for", "in", "by", "to", "that", "which", "used", "when", "with", "on", "from", "between", "mentioned",
    "assigned", "introduced", "called",
))  # fmt: skip
MAX_BARE_WORDS = 4  # "the blob base fee": a thing asked for by its name alone, not a phrase that places it
# what says what a thing is: a copula or a verb of definition in the answer's first sentence, or an opening "A ..."
_DEFINES = re.compile(
    r"^\W*(?:an?|it is|they are)\b|\b(?:is|are|was|were|refers?|means?|denotes?|stands? for|represents?|describes?|"
    r"equals?|consists? of|measures?)\b|:",
    re.IGNORECASE,
)


def undefined_reason(question: str, answer: str) -> str | None:
    """Asked what a bare thing is ("What is the blob base fee?"), the answer's first sentence never says what it
    is: no "is", "are", "refers to", "means", "denotes" after the thing, no colon, no opening "A ...". The 1.5B
    answers such a question with any sentence about the thing ("The blob base fee will settle at a level where
    ..."), or one that names it after its verb, so that the sentence says what something else is ("What is
    silver halide crystals?" answered "Photographic film is covered in silver halide crystals.").

    >>> undefined_reason("What is the blob base fee?", "Ethereum uses an auction to set the blob base fee.")
    'asked what the blob base fee is, the answer never says what it is'
    >>> undefined_reason("What is the target blob gas?", "The target blob gas is defined as GAS_PER_BLOB times two.")
    >>> undefined_reason("What is the fee of EIP-7918?", "EIP-7918 sets a reserve price.")
    >>> undefined_reason("What is EIP-7594?", "EIP-7594 introduces PeerDAS.")
    >>> undefined_reason("What is the threshold level?", "Thresholding is applied to the data.")
    'asked what the threshold level is, the answer never says what it is'
    """
    asked = _WHAT_IS.match(question.strip())
    thing = re.sub(r"^(?:the|an?)\s+", "", asked.group("asked"), flags=re.IGNORECASE) if asked else ""
    words = set(re.findall(r"[a-z]+", thing.lower()))
    if not asked or len(thing.split()) > MAX_BARE_WORDS or words & (_PLACING_WORDS | _HOW_FRAMES) or _names(thing):
        return None  # a name ("What is EIP-7594?") is answered by what it does; a purpose by what it is for
    first = re.split(r"(?<=[.!?])\s", answer.strip(), maxsplit=1)[0]
    head = content_stems(thing.split()[-1])  # "crystals" of "silver halide crystals"
    for defines in _DEFINES.finditer(first):
        opens, colon = defines.start() == 0, defines.group(0) == ":"
        if not head or opens or colon or head & content_stems(first[: defines.start()]):
            return None
    return f"asked what {asked.group('asked')} is, the answer never says what it is"


def trend_reason(question: str, answer: str) -> str | None:
    """Asked what a thing is, the answer says only how it changes, with no value or name ("What is the unit
    cost of data services?" answered "Technological progress generally brings down the unit cost of data
    services."; "What is the upper bound on the blob base fee?" answered "a bound that falls as Ethereum
    scales").

    >>> trend_reason("What is the ETH-denominated price per blob?", "It should likewise fall as throughput grows.")
    'asked what the ETH-denominated price per blob is, the answer says only how it changes'
    >>> trend_reason("What is the effect of a quick rise in fees?", "The blob base fee falls behind for a few blocks.")
    """
    asked = _WHAT_IS.match(question.strip())
    if not asked or set(re.findall(r"[a-z]+", asked.group("asked").lower())) & _HOW_FRAMES:
        return None
    if not _CHANGE.search(answer) or value_tokens(answer) - value_tokens(question):
        return None
    return f"asked what {asked.group('asked')} is, the answer says only how it changes"


# A question that asks for an amount: "What is the value of X?", "the maximum fee", "How many blocks ...?"
_ASKS_AMOUNT = re.compile(
    r"^\W*(?:what (?:is|are|was|were) the (?:[\w-]+ )?(?:values?|number|amount|size|percentage|ratio|factor|rate|"
    r"price|level|threshold|limit)\b|how (?:many|much|long|often)\b)",
    re.IGNORECASE,
)
# words that give an amount without a number: "a few blocks", "twice the fee", "at least the execution cost"
_AMOUNT_WORDS = re.compile(
    r"\b(?:few|several|many|dozens?|hundreds?|thousands?|millions?|twice|double|triple|half|quarter|once|zero|"
    r"none|equal|same as|at least|at most|times|percent|ratio|fraction)\b",
    re.IGNORECASE,
)


_ASKS_NAME = re.compile(r"^\W*what (?:is|are|was|were) the names?\b", re.IGNORECASE)


def _names(text: str) -> set[str]:
    """Identifiers, code spans and capitalized words after a sentence's first word: what names a thing."""
    capitalized = re.findall(r"(?<!^)(?<![.?!]\s)\b[A-Z][\w-]*", text.strip())
    found = {m.group(0) for m in _IDENTIFIER.finditer(text)} | set(_CODE_SPAN.findall(text)) | set(capitalized)
    return {n.lower() for n in found}


def amountless_reason(question: str, answer: str) -> str | None:
    """Asked for an amount (a value, a number, a size, a level; how many, how much, how long), the answer gives
    none the question lacks: no number, code span, identifier, symbol or formula, nor a word of quantity ("a few",
    "twice", "at least"). "What is the value of BLOB_BASE_COST?" answered "The blob base fee will settle at a
    level where a blob costs ..." talks about the constant and never says it. Asked for a name ("What is the name
    of ...?"), the answer gives an identifier, code span or capitalized word the question lacks.

    >>> amountless_reason("What is the maximum value for the blob base fee?", "It is set by execution costs.")
    'asked for an amount, the answer gives none'
    >>> amountless_reason("What is the value of `BLOB_BASE_COST`?", "It is `2**13`.")
    >>> amountless_reason("How long does the fee take to catch up?", "A few blocks.")
    >>> amountless_reason("What is the name of Ethereum's auction?", "Ethereum uses an auction to set the fee.")
    'asked for a name, the answer gives none'
    """
    if _ASKS_NAME.match(question):
        return None if _names(answer) - _names(question) else "asked for a name, the answer gives none"
    if not _ASKS_AMOUNT.match(question):
        return None
    given = (value_tokens(answer) | _numbers(answer)) - value_tokens(question) - _numbers(question)
    names = _added(_IDENTIFIER, answer, question)
    if given or names or re.search(r"[$*/+=<>×÷^%]", answer) or _AMOUNT_WORDS.search(answer):
        return None
    return "asked for an amount, the answer gives none"


def off_target_reason(question: str, answer: str) -> str | None:
    """The answer mentions under ``ON_TARGET_SHARE`` of the terms its question asks about: it answers
    something else, most often a neighbouring sentence copied whole ("What is the cost of KZG proof
    verification on a node?" answered with a sentence about batching cell proofs). The terms are the
    question's content words less those that only frame it (``question_frame_words.txt``: "purpose",
    "difference"). Not judged: a question with fewer than ``MIN_ASKED_TERMS`` of them, and an answer of
    fewer than ``MIN_JUDGED_ANSWER_WORDS`` content words or one that opens with the condition, cause, means
    or aim asked for ("When ...", "Because ...", "By ...", "To ..."): a direct answer names only what was
    asked for ("What bounds the blob base fee from below?" "A reserve price.").

    >>> off_target_reason(
    ...     "What smoothing technique is used in the histogram?",
    ...     "A four-month period from November 2024 through March 2025 was analyzed at a daily resolution.",
    ... )
    'the answer mentions 0 of the 3 terms its question asks about (missing: histogram, smooth, techniqu)'
    >>> off_target_reason("What is the purpose of the reserve price?", "The reserve price keeps fees responsive.")
    """
    asked = content_stems(_identifier_words(question)) - _frame_words()
    said = content_stems(_identifier_words(answer))
    if len(asked) < MIN_ASKED_TERMS or len(said) < MIN_JUDGED_ANSWER_WORDS or _DIRECT_OPENER.match(answer):
        return None
    missing = asked - said
    mentioned = len(asked) - len(missing)
    if mentioned >= ON_TARGET_SHARE * len(asked):
        return None
    terms = ", ".join(sorted(missing)[:5])
    return f"the answer mentions {mentioned} of the {len(asked)} terms its question asks about (missing: {terms})"


def grounding_scores(evidence: Iterable[str], contexts: Iterable[str]) -> list[float]:
    """Best partial-match score of each quote against the request's context texts, placeholders
    blanked on both sides as in the sentences a request offers (``facts.quotable_sentences``)."""
    normalized = [normalize(strip_placeholders(c)) for c in contexts]
    return [
        max((fuzz.partial_ratio(normalize(strip_placeholders(q)), c) for c in normalized), default=0.0)
        for q in evidence
    ]


def distinct_quotes(evidence: Iterable[str]) -> list[str]:
    """The quotes, each normalized form once (a model often cites one sentence three times)."""
    return list({normalize(q): q for q in reversed(list(evidence))}.values())[::-1]


def _numbers(text: str) -> set[str]:
    """Numbers written in the text, as they are compared: "1,000" -> "1000", "2 ** 13" -> "2**13", "eight" -> "8".
    A power also counts as its value, so an answer may say 8192 for a source's 2**13.

    >>> sorted(_numbers("1. Set `BLOB_BASE_COST` to 2**13, about eight times 1,024; see EIP-7918."))
    ['1024', '2**13', '8', '8192']
    """
    text = unicodedata.normalize("NFKC", text).lower().replace("`", "")
    text = _ENUMERATOR.sub(" ", text)
    found = {re.sub(r"[,\s]", "", m.group(0)).replace("^", "**") for m in _NUMBER.finditer(text)}
    for power in [n for n in found if re.fullmatch(r"\d{1,4}\*\*\d{1,3}", n)]:
        base, exponent = map(int, power.split("**"))
        if base**exponent < 10**30:
            found.add(str(base**exponent))
    found |= {NUMBER_WORDS[w] for w in re.findall(r"[a-z]+", text) if w in NUMBER_WORDS}
    return found


ON_TARGET_SHARE = 0.5  # share of the terms a question asks about that its answer must mention
MIN_ASKED_TERMS = 2  # a question naming fewer terms than this is not judged on target
MIN_JUDGED_ANSWER_WORDS = 8  # content words of an answer long enough to have said what it answers
# an answer opening with the condition, cause, means or aim its question asks for answers it directly
_DIRECT_OPENER = re.compile(
    r"\s*(?:when|whenever|because|since|if|unless|once|after|before|by|to|so that|in order to)\b", re.IGNORECASE
)
MIN_UNSOURCED_WORDS = 2  # one new word may be a paraphrase ("crucial"); two or more that are a share are inventions
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def source_vocabulary(texts: Iterable[str]) -> set[str]:
    """The content words (stemmed) of ``texts``, and of the words inside their identifiers.

    >>> sorted(source_vocabulary(["Set `baseFeeUpdateFraction` from excess_blob_gas."]) - {"set"})
    ['base', 'basefeeupdatefraction', 'blob', 'excess', 'excess_blob_ga', 'fee', 'fraction', 'gas', 'updat']
    """
    text = " ".join(texts)
    return content_stems(text) | content_stems(_identifier_words(text))


@lru_cache(maxsize=16)
def _request_vocabulary(texts: tuple[str, ...]) -> frozenset[str]:
    """``source_vocabulary`` of a request's texts, once for all the pairs of its reply."""
    return frozenset(source_vocabulary(texts))


def _identifier_words(text: str) -> str:
    """``text`` with each identifier split into its words: baseFeeUpdateFraction, excess_blob_gas."""
    return _CAMEL.sub(" ", text).replace("_", " ")


def evidence_terms(text: str) -> set[str]:
    """What evidence must cover of an answer: its content words (stemmed) and its numbers.

    >>> sorted(evidence_terms("The range of `opt-level` is 0 to 3."))
    ['0', '3', 'opt-level', 'rang']
    """
    return source_vocabulary([text]) | _numbers(text)


def evidence_support(question: str, answer: str, quotes: Iterable[str]) -> float:
    """Share of the answer's content words not in its question that occur in its quotes (stemmed; a number
    also as its quote's worked-out power); 1.0 when none."""
    new = content_stems(answer) - content_stems(question)
    if not new:
        return 1.0
    cited = set().union(*(evidence_terms(q) for q in quotes))
    return len(new & cited) / len(new)


def check_evidence_support(pair: ParsedPair, quotes: list[str], floor: float) -> tuple[float, str | None]:
    cited = set().union(*(source_vocabulary([q]) for q in quotes))
    if not content_stems(pair.question) & cited:
        return 0.0, "the question shares no content word with its quotes"
    invented = _numbers(pair.answer) - set().union(_numbers(pair.question), *(_numbers(q) for q in quotes))
    if invented:
        return 0.0, f"the answer's number {sorted(invented)[0]} is in neither its quotes nor its question"
    support = evidence_support(pair.question, pair.answer, quotes)
    if support < floor:
        return support, f"{support:.0%} of the answer's new content words are in its quotes"
    return support, None


def unsourced_words(question: str, answer: str, vocabulary: frozenset[str]) -> tuple[set[str], set[str]]:
    """(the answer's new content words that are in no source, its new content words): new means not in
    the question, whose words cannot show what the answer adds."""
    new = content_stems(answer) - content_stems(question)
    return {w for w in new if w not in vocabulary and not _identifier_parts(w) <= vocabulary}, new


def _identifier_parts(word: str) -> set[str]:
    """The stemmed words inside an identifier ("base_fee_per_blob" -> base, fee, blob); a plain word itself."""
    if "_" not in word.strip("_"):
        return {word}
    return content_stems(_identifier_words(word)) or {word}


def useful_steps(pair: ParsedPair, contexts: Iterable[str]) -> tuple[str, ...]:
    """The reasoning steps that share a content word (not a filler word) with the question, evidence or source,
    and do not talk about the source ("The text states that ..."): a model trained on them would reason from a
    text it will not have."""
    known = set().union(*(content_stems(t) for t in (pair.question, *pair.evidence, *contexts)))
    filler = _filler_words()
    return tuple(
        s for s in pair.reasoning_steps if (content_stems(s) - filler) & known and not _SOURCE_TALK.search(normalize(s))
    )


def choose_evidence(
    answer: str, quotes: tuple[str, ...], limit: int = 3, words_of: Callable[[str], set[str]] = content_words
) -> tuple[str, ...]:
    """Up to ``limit`` quotes that cover the answer's content words, picked greedily: each time the quote
    with the most words not yet covered (the first of equals), while one adds any.

    >>> choose_evidence("Blob fees double when blocks are full.",
    ...                 ("Blocks hold blobs.", "Blob fees double when blocks are full.", "Fees are burned."))
    ('Blob fees double when blocks are full.',)
    >>> choose_evidence("Penguins swim.", ("Blocks hold blobs.",))
    ()
    """
    wanted = set(words_of(answer))
    words = [words_of(q) for q in quotes]
    chosen: list[str] = []
    while wanted and words and len(chosen) < limit:
        best = max(range(len(quotes)), key=lambda i: len(words[i] & wanted))
        if not words[best] & wanted:
            break
        chosen.append(quotes[best])
        wanted -= words[best]
    return tuple(chosen)


def anchor_on_question(question: str, chosen: tuple[str, ...], quotes: tuple[str, ...]) -> tuple[str, ...]:
    """``chosen`` as it is when it shares a content word with the question; else with the shown sentence
    that shares the most (the first of equals) in place of its last one when it is full, so that the
    evidence is about what is asked as well as what is answered.

    >>> anchor_on_question("What does the `if`-clause change?", ("Fees rise.",), ("Fees rise.", "An `if`-clause."))
    ('Fees rise.', 'An `if`-clause.')
    """
    asked = content_stems(question)
    if not chosen or not asked or any(content_stems(q) & asked for q in chosen):
        return chosen
    best = max(quotes, key=lambda q: len(content_stems(q) & asked), default="")
    if not content_stems(best) & asked:
        return chosen
    return (*chosen[: MAX_FOUND_QUOTES - 1], best)


MAX_FOUND_QUOTES = ReplyLimits.model_fields["max_evidence"].default  # as many sentences as a reply may cite


@dataclass(frozen=True)
class Verdict:
    """A gate's judgement of one pair: ``problem`` is None when it passes; the rest are what it measured."""

    problem: str | None = None
    grounding: float | None = None
    support: float | None = None
    evidence: tuple[str, ...] = ()  # the quotes that support the answer: the model's, or found among those shown
    evidence_from: str | None = None  # "model" or "found"


@dataclass(frozen=True)
class Candidate:
    """What a gate sees: one pair, the request it answered, and the run's settings."""

    pair: ParsedPair
    request: RequestSources
    settings: GateSettings
    docs_root: Path
    names: frozenset[str]  # subject names of its request's titles (``subject_names``)

    @cached_property
    def quotes(self) -> list[str]:
        return distinct_quotes(self.pair.evidence)

    @cached_property
    def support(self) -> Verdict:
        """The model's quotes when they support the answer, else the sentences shown that do (found)."""
        floor = self.settings.evidence_support_floor
        support, problem = check_evidence_support(self.pair, self.quotes, floor)
        if problem is None:
            return Verdict(support=support, evidence=tuple(self.quotes), evidence_from="model")
        question, answer = self.pair.question, self.pair.answer
        new = (content_stems(answer) - content_stems(question)) | (_numbers(answer) - _numbers(question))
        if not new:  # a verdict ("True") or a term the question holds: the statement judged is the question's
            new = content_stems(question) | _numbers(question)
        found = anchor_on_question(
            question,
            choose_evidence(" ".join(sorted(new)), self.request.quotes, MAX_FOUND_QUOTES, evidence_terms),
            self.request.quotes,
        )
        if found:
            found_support, found_problem = check_evidence_support(self.pair, list(found), floor)
            if found_problem is None:
                return Verdict(support=found_support, evidence=found, evidence_from="found")
        return Verdict(f"{problem}, and no sentence shown supports it", support=support)


@dataclass(frozen=True)
class Gate:
    """One gate: its name (the reject reason and the report's column) and its check of a pair."""

    name: str
    check: Callable[[Candidate], Verdict]


def _form(c: Candidate) -> Verdict:
    return Verdict(check_form(c.pair, c.request.planned.question_type, len(c.request.context[0].split())))


def _type_form(c: Candidate) -> Verdict:
    return Verdict(type_form_reason(c.request.planned.question_type, c.pair.question, c.pair.answer))


def _degenerate(c: Candidate) -> Verdict:
    if asks_only(c.pair.answer):
        return Verdict("the answer asks a question instead of answering")
    return Verdict(degenerate_reason(c.pair.answer, c.pair.question, " ".join(c.request.context)))


def unseen_parts(text: str, figures: Iterable[str]) -> str | None:
    """A "Figure 2", "Table 11.1", "Listing 14-1", "Chapter 3" or "step 5" the text points at that its record does
    not carry: a table, listing, chapter, section, equation, example or a how-to's numbered step never; a figure
    when the pair carries no figure, or carries several (ids like ``FIGURE_11.9``) and none has its number. One
    carried figure may be the "Figure 1" the text names. A figure's marks ("the vertical blue line", "(squares)",
    "illustrated in black") or a figure by no number ("The figure indicates ...", "this diagram") when the pair
    carries no figure. Where in its source the text's subject is ("(also applicable below)", "as described above").

    >>> unseen_parts("The supply curve (vertical blue line) is inelastic.", ())
    'vertical blue line'
    >>> unseen_parts("The supply curve (vertical blue line) is inelastic.", ("FIGURE_1.1",))
    >>> unseen_parts("The figure shows heavy compute.", ()), unseen_parts("The figure shows it.", ("FIGURE_5.1",))
    ('The figure', None)
    """
    figures = tuple(figures)
    if not figures and (mark := _FIGURE_MARK.search(text) or _UNNUMBERED_FIGURE.search(text)):
        return mark.group(0)
    if position := _SOURCE_POSITION.search(text):
        return position.group(0)
    carried = {f.split("_", 1)[-1] for f in figures}
    for match in _FIGURE_REFERENCE.finditer(text):
        is_figure = match.group("kind").lower().startswith("fig")
        # a document may number a figure "Figure 1" under the placeholder FIGURE_1.1: any carried figure may be it
        if not is_figure or not figures or (match.group("number") not in carried and len(figures) > 1):
            return match.group(0)
    return None


def _self_contained(c: Candidate) -> Verdict:
    problem = check_self_contained(c.pair.question, c.names, " ".join(c.request.context))
    if problem:
        return Verdict(problem)
    if BLANK.search(c.pair.question) and _reference_pattern().fullmatch(c.pair.answer.strip(" `.")):
        return Verdict(f"the blank's term {c.pair.answer.strip()!r} names nothing a learner could recall")
    if leans := _leans_on_context(c.pair.answer, c.pair.question):
        return Verdict(f"the answer {leans}")
    for name in ("question", "answer"):
        part = unseen_parts(getattr(c.pair, name), c.pair.figures)
        if part:
            return Verdict(f"the {name} points at {part!r}, which the pair does not carry")
    return Verdict()


def _leans_on_context(text: str, asked: str = "") -> str | None:
    """How a statement leans on the text around it: it talks about its source ("as stated in the text"),
    ends a clause on a bare "this" ("no security risks associated with this."), opens on one ("This would
    however be another reason ..."), uses a one-letter symbol no noun names ("$c$ is fixed"), counts with no noun
    ("The first two are the red value"), or points back with "such"
    ("may under such circumstances shift the total cost"), unless its ``asked`` question names that thing
    ("What makes Ethereum's auction work?" "Such an auction works when ...").

    >>> _leans_on_context("Such an auction works when fees signal demand.", "What makes the fee auction work?")
    >>> _leans_on_context("Such an auction works when fees signal demand.")
    "points back with 'Such an auction'"
    """
    if talk := _SOURCE_TALK.search(normalize(text)):
        return f"leans on its source: {talk.group(0)!r}"
    if bare := _BARE_DEMONSTRATIVE.search(text):
        return f"ends a clause on {bare.group(0).strip()!r} with nothing it points at"
    if voice := authors_voice(text):
        return f"speaks in its author's voice ({voice!r})"
    if opener := _OPENS_ON_DEMONSTRATIVE.match(text):
        return f"opens on {opener.group(0).strip()!r}, which stands for what came before it"
    if symbol := _BARE_SYMBOL.search(text):
        return f"uses the symbol {symbol.group('symbol')!r} without saying what it stands for"
    if count := _ELLIPTICAL_COUNT.search(text):
        return f"counts with {count.group(0)!r} and names nothing it counts"
    such = _SUCH.search(text)
    if such and not re.search(rf"(?<!\w){re.escape(_singular(such.group(0).split()[-1]))}", asked, re.IGNORECASE):
        return f"points back with {such.group(0)!r}"
    return None


def authors_voice(text: str) -> str | None:
    """The word by which ``text`` speaks in its author's own voice ("I", "my"; code spans aside), or None.

    >>> authors_voice("Reading the zlib source, I found that it failed."), authors_voice("`I` is an index.")
    ('I', None)
    """
    voice = _FIRST_PERSON.search(_CODE_SPAN.sub(" ", text))
    return voice.group(0) if voice else None


def item_source_problem(sentence: str, names: frozenset[str], source: str, called: DocumentName | None) -> str | None:
    """Why a fill-in-the-blank item built from ``sentence`` would fail the gates whatever term it blanks, or
    None: the item opens by pointing back ("However, ..."), refers to "the function" or "the two curves"
    without naming it, points at a figure the item does not carry, ends a clause on a bare "this" ("no
    security risks associated with this."), talks about its source, or is no sentence (a heading, a line that
    stops at a colon). The prompt offers a cloze only the sentences that pass (``utilities/prompts.py``), so
    its items are not spent on them.
    ``names``: ``title_names`` of the request's titles; ``source``: the text it shows; ``called``: its
    document's name, which the gates put in place of "this EIP" first (``name_document``)."""
    if not _SENTENCE_END.search(sentence.strip()):
        return "not a sentence: a heading, a table row, or a line that a colon, an equation or a list completes"
    if sentence.strip().rstrip("*_)\"'’”").endswith("?"):
        return "a question, not a statement of fact"
    item = name_document(CLOZE_LABEL + without_connective(sentence), called, source)
    if problem := check_self_contained(item, names, source):
        return problem
    if part := unseen_parts(item, ()):
        return f"points at {part!r}"
    return _leans_on_context(sentence)


def _tautology(c: Candidate) -> Verdict:
    return Verdict(check_tautology(c.pair.question, c.pair.answer))


def _on_target(c: Candidate) -> Verdict:
    """Not judged for a true-or-false or fill-in-the-blank item: a verdict or a filled term is its answer."""
    if c.request.planned.question_type is QuestionType.TRUE_FALSE_FILL_BLANK or verdict(c.pair.question, c.pair.answer):
        return Verdict()
    question, answer = c.pair.question, c.pair.answer
    return Verdict(
        off_target_reason(question, answer)
        or trend_reason(question, answer)
        or amountless_reason(question, answer)
        or undefined_reason(question, answer)
    )


def _grounding(c: Candidate) -> Verdict:
    if not c.quotes:
        return Verdict("no evidence quote")
    scores = grounding_scores(c.quotes, c.request.context)
    worst = min(range(len(scores)), key=scores.__getitem__)
    problem = None
    if scores[worst] < c.settings.grounding_threshold:
        problem = f"quote not found in its context (score {scores[worst]:.0f}): {c.quotes[worst][:120]!r}"
    return Verdict(problem, grounding=sum(scores) / len(scores))


def _evidence_support(c: Candidate) -> Verdict:
    return c.support


def unsourced_code(question: str, answer: str, texts: Iterable[str]) -> str | None:
    """The first code span of ``answer`` that neither ``question`` nor any of ``texts`` holds, spaces aside, or
    None: a name or formula the model made up or garbled ("`GAS_PER_BLOB * base_fee_per_gas`", where its source
    has `GAS_PER_BLOB * base_fee_per_blob_gas`). A number alone is the number rule's (``evidence_support``).

    >>> unsourced_code("When?", "When `a*b` exceeds `c` and `8192`.", ["if a * b > c: 2**13"])
    >>> unsourced_code("When?", "When `a*d` exceeds `c`.", ["if a * b > c"])
    'a*d'
    """
    spans = [s for s in _CODE_SPAN.findall(answer) if not _NUMBER.fullmatch(s.strip())]
    if not spans:
        return None
    asked, held = "".join(question.split()), _spaceless(tuple(texts))
    return next((s for s in spans if "".join(s.split()) not in asked and "".join(s.split()) not in held), None)


@lru_cache(maxsize=16)
def _spaceless(texts: tuple[str, ...]) -> str:
    """A request's texts without their whitespace, once for all the pairs of its reply."""
    return "".join("".join(texts).split())


MIN_COPIED_WORDS = 5  # words in a row an answer shares with one sentence, two of them content words: its claim
_CLAUSE_TOKEN = re.compile(r"[\w'’.-]*\w|[.;:!?]")
_CLAUSE_ENDS = frozenset(".;:!?")
# "In Rust, release profiles are ...": a short place or time before a sentence's subject, which the copy then holds
_PLACE_WORDS = frozenset({
    "in", "on", "at", "for", "with", "by", "from", "under", "after", "before", "during", "within",
})  # fmt: skip
MAX_PLACE_WORDS = 3
# the verbs, negations and ties between a subject and the rest of its clause ("it can't apply ...")
_AUXILIARIES = TIE_WORDS | {
    "can't", "cannot", "couldn't", "won't", "wouldn't", "shall", "shouldn't", "does", "doesn't", "do", "don't", "did",
    "didn't", "isn't", "aren't", "wasn't", "weren't", "hasn't", "haven't", "not", "no", "also",
}  # fmt: skip
# the words that open a clause of its own after them ("specifically when ____", "so ____")
_CLAUSE_OPENERS = TIE_WORDS | {"when", "if", "because", "then", "so"}


def reattributed(answer: str, sentences: Iterable[str]) -> tuple[str, str, str] | None:
    """(the answer's words before the copy, the sentence's, the copy) when the answer copies ``MIN_COPIED_WORDS``
    or more words in a row of one of ``sentences`` after a clause opening that shares no content word with the one
    the sentence puts before them: it says of one thing what its source says of another. "The trunk management
    refers to keeping a completely linear history without any merges." where the source has "Some projects want to
    keep a completely linear history without any merges."; "Git follows a linear history ..." of the same
    sentence. Not when the sentence's opening ends on a word that ties it to the copy (a preposition, "and", "is",
    "when": the copy is an object or a clause with its own subject: "the HTML displays the contents of
    documentation comments ..."), is a short place or time ("In Rust, release profiles are ..."), or names only its
    document ("This EIP assigns ...", which the answer names: "EIP-7918 assigns ...").

    >>> reattributed("Git follows a linear history without any merges.", ["Some projects keep a linear history \
without any merges."])
    ('git follows', 'some projects keep', 'a linear history without any merges')
    >>> reattributed("EIP-7918 assigns a reserve price to blobs.", ["This EIP assigns a reserve price to blobs."])
    """
    said = _clause_tokens(answer)
    matcher = SequenceMatcher(None, autojunk=False)
    matcher.set_seq2(said)  # the matcher indexes its second sequence once: the answer, for every sentence
    best: tuple[int, int, int, tuple[str, ...]] | None = None
    for source in _sentence_tokens(tuple(sentences)):
        matcher.set_seq1(source)
        match = matcher.find_longest_match(0, len(source), 0, len(said))
        copy = said[match.b : match.b + match.size]
        longer = best is None or match.size > best[0]
        if longer and match.size >= MIN_COPIED_WORDS and len(content_stems(" ".join(copy))) >= 2:
            best = (match.size, match.b, match.a, source)
    if best is None:
        return None
    size, start, at, source = best
    mine, theirs = said[_clause_start(said, start) : start], source[_clause_start(source, at) : at]
    if not theirs or theirs[-1] in _CLAUSE_OPENERS:
        return None
    if theirs[0] in _PLACE_WORDS and len(theirs) <= MAX_PLACE_WORDS:
        return None
    subject = [t for t in mine if t not in _AUXILIARIES]
    if subject and subject[-1] in ("it", "they"):  # "If true, it will not subtract ...": whose "it", words do not say
        return None
    own, other = content_stems(" ".join(mine)), content_stems(" ".join(theirs))
    if not own or not other or own & other or other <= _document_stems():
        return None
    copy = [t for t in said[start : start + size] if t not in _CLAUSE_ENDS]
    return " ".join(mine), " ".join(theirs), " ".join(copy)


def _clause_tokens(text: str) -> tuple[str, ...]:
    return tuple(_CLAUSE_TOKEN.findall(normalize(text).replace("`", " ")))


@lru_cache(maxsize=16)
def _sentence_tokens(sentences: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """The tokens of a request's shown sentences, once for all the pairs of its reply."""
    return tuple(_clause_tokens(s) for s in sentences)


def _clause_start(tokens: tuple[str, ...], end: int) -> int:
    """Where the clause that holds ``tokens[end]`` begins: after the last sentence or clause mark before it."""
    return next((i + 1 for i in range(end - 1, -1, -1) if tokens[i] in _CLAUSE_ENDS), 0)


@lru_cache(maxsize=1)
def _document_stems() -> frozenset[str]:
    return frozenset(stem(n) for n in (*SELF_NOUNS, *SOURCE_NOUNS))


def _unsourced(c: Candidate) -> Verdict:
    """The answer does not add what no source says ("digital sensors" in an answer about film photographs), nor a
    code span none holds, nor say of one thing what a shown sentence says of another."""
    if c.pair.figures or c.settings.unsourced_ceiling >= 1:
        return Verdict()
    texts = (*c.request.context, *c.request.titles)
    if code := unsourced_code(c.pair.question, c.pair.answer, texts):
        return Verdict(f"the answer's code `{code}` is in no source shown")
    item = BLANK.search(c.pair.question) or verdict(c.pair.question, c.pair.answer)
    if not item and (moved := reattributed(c.pair.answer, c.request.quotes)):  # the sentences shown, as support reads
        mine, theirs, copy = moved
        return Verdict(f"the answer says of {mine!r} what its source says of {theirs!r}: {copy[:60]!r}")
    unsourced, new = unsourced_words(c.pair.question, c.pair.answer, _request_vocabulary(texts))
    if len(unsourced) < MIN_UNSOURCED_WORDS or len(unsourced) <= c.settings.unsourced_ceiling * len(new):
        return Verdict()
    words = ", ".join(sorted(unsourced)[:6])
    return Verdict(f"{len(unsourced)} of the answer's {len(new)} new content words are in no source shown ({words})")


def _sources(c: Candidate) -> Verdict:
    """A MULTI_HOP_REASONING pair's evidence holds a sentence of its section and one of a related section."""
    if c.request.planned.question_type is not QuestionType.MULTI_HOP_REASONING or len(c.request.context) < 2:
        return Verdict()
    main, related = c.request.context[0], c.request.context[1:]
    threshold = c.settings.grounding_threshold
    quotes = distinct_quotes(c.support.evidence)
    if any(grounding_scores([q], [main])[0] >= threshold for q in quotes) and any(
        max(grounding_scores([q], related)) >= threshold for q in quotes
    ):
        return Verdict()
    return Verdict("a multi-hop answer whose evidence is not from both its section and a related section")


_NEGATION = re.compile(r"\b(?:not|no|never|none|nor|neither|cannot|without|nothing|nobody|no longer)\b|n['’]t\b", re.I)
_HEDGE = re.compile(r"\b(?:may|might|could|arguably|likely|possibly|perhaps|probably|potentially)\b", re.I)
POLARITY_OVERLAP = 0.5  # share of an answer sentence's content words in a quote that make it that quote's claim


MIN_JUDGED_WORDS = 4  # content words of a judged statement before a sentence holding them all settles its verdict


def _stated_verdict(statement: str, sources: Iterable[str]) -> tuple[str, str] | None:
    """The verdict a shown sentence gives a true-or-false ``statement`` when it holds every content word of
    it: "True" when both or neither have a negation, else "False"; with that sentence. None when no
    sentence holds them all (the statement rewords, joins two sentences or changes a word).

    >>> _stated_verdict("The function subtracts target gas", ["The function no longer subtracts `target_gas`."])
    ('False', 'The function no longer subtracts `target_gas`.')
    """
    words = content_stems(_identifier_words(statement))  # excess_blob_gas: excess, blob, gas
    if len(words) < MIN_JUDGED_WORDS:
        return None
    negated = bool(_NEGATION.search(statement))
    for sentence, vocabulary in _sentence_vocabularies(tuple(sources)):
        if words <= vocabulary:
            return ("True" if bool(_NEGATION.search(sentence)) == negated else "False"), sentence
    return None


@lru_cache(maxsize=16)
def _sentence_vocabularies(texts: tuple[str, ...]) -> tuple[tuple[str, frozenset[str]], ...]:
    """Each quotable sentence of a request's texts with its ``source_vocabulary``, once for all its pairs."""
    return tuple((s, frozenset(source_vocabulary([s]))) for text in texts for s in quotable_sentences(text))


def _polarity(c: Candidate) -> Verdict:
    """The answer keeps its evidence's negations and hedges: "Cate doesn't exactly live in Colombia" does not
    support "Cate lives in Colombia", nor "a 10% change may shift the cost by 0.0000001%" an answer that says
    it does. Checked for each of the two when neither the question nor the answer has one and a sentence of
    the answer rests on a quote that has (half its content words are the quote's). A true-or-false verdict
    is checked against a shown sentence that holds every content word of its statement (``_stated_verdict``):
    the 1.5B answers a sentence of its source False when it writes no reasoning first."""
    said = verdict(c.pair.question, c.pair.answer)
    statement = judged_statement(c.pair.question) if said else None
    stated = _stated_verdict(statement, c.request.context) if statement else None
    if stated is not None and stated[0] != said:
        return Verdict(f"answered {said}, but a shown sentence says the statement is {stated[0]}: {stated[1][:100]!r}")
    if BLANK.search(c.pair.question):  # a term that fills a blank: its sentence, the question, keeps its negations
        return Verdict()
    for kind, pattern in (("negation", _NEGATION), ("hedge", _HEDGE)):
        if pattern.search(c.pair.answer) or (kind == "hedge" and pattern.search(c.pair.question)):
            continue
        for sentence in re.split(r"(?<=[.!?])\s+", c.pair.answer):
            words = content_stems(sentence)
            for quote in c.support.evidence:
                rests = words and len(words & content_stems(quote)) >= POLARITY_OVERLAP * len(words)
                if rests and pattern.search(quote):
                    return Verdict(f"the answer drops the {kind} of its evidence: {quote[:100]!r}")
    return Verdict()


def _images(c: Candidate) -> Verdict:
    for figure in c.pair.figures:
        path = c.request.figure_paths.get(figure)
        if path is None:  # the request's figure paths are those of its attached figures
            return Verdict(f"figure {figure} was not attached to this request")
        if not (c.docs_root / path).is_file():
            return Verdict(f"image file {path} does not exist")
    return Verdict()


PAIR_GATES = (
    Gate("form", _form),
    Gate("type_form", _type_form),
    Gate("degenerate", _degenerate),
    Gate("self_contained", _self_contained),
    Gate("tautology", _tautology),
    Gate("on_target", _on_target),
    Gate("grounding", _grounding),
    Gate("evidence_support", _evidence_support),
    Gate("unsourced", _unsourced),
    Gate("sources", _sources),
    Gate("polarity", _polarity),
    Gate("images", _images),
)
DUPLICATE = "duplicate"  # across the pairs of a document, after every pair gate (``_dedup_document``)
GATES = (*(g.name for g in PAIR_GATES), DUPLICATE)  # the gate order: reject reasons and the report's columns


def _check_pair(gated: GatedPair, candidate: Candidate) -> None:
    """Run the pair gates in order; the first failure wins. Records on ``gated`` what the gates measured."""
    for gate in PAIR_GATES:
        verdict = gate.check(candidate)
        if verdict.grounding is not None:
            gated.grounding = verdict.grounding
        if verdict.support is not None:
            gated.support = verdict.support
        if verdict.evidence_from is not None:
            gated.evidence, gated.evidence_from = verdict.evidence, verdict.evidence_from
        if verdict.problem:
            gated.gate, gated.detail = gate.name, verdict.problem
            return
    gated.steps = useful_steps(gated.pair, candidate.request.context)


def apply_gates(
    outcomes: list[RequestOutcome],
    settings: GateSettings,
    docs_root: Path,
    seen_questions: set[str] | None = None,
) -> GateResult:
    """Gate every pair of every accepted request.

    ``seen_questions``: the questions kept for earlier documents of the run (when the run is
    gated a group of documents at a time); this call adds its own.
    """
    result = GateResult()
    survivors: dict[str, list[GatedPair]] = {}
    for outcome in outcomes:
        if outcome.status != "accepted":
            continue
        document = outcome.request.planned.document
        names = subject_names(outcome)
        shown = " ".join(outcome.request.context)
        for position, written in enumerate(outcome.pairs):
            # "the proposal" -> "EIP-7918": the pair the gates judge and the dataset keeps names its document, in the
            # question and, by the nouns the document calls itself, in the answer ("This EIP assigns ...")
            called = outcome.request.document_name
            named = name_document(written.question, called, shown)
            answer = name_document_in_answer(written.answer, called)
            pair = (
                written
                if (named, answer) == (written.question, written.answer)
                else replace(written, question=named, answer=answer)
            )
            gated = GatedPair(pair, outcome, position)
            if named != written.question:
                gated.question_as_written = written.question
            if answer != written.answer:
                gated.answer_as_written = written.answer
            _check_pair(gated, Candidate(pair, outcome.request, settings, docs_root, names))
            if gated.gate is None:
                survivors.setdefault(document, []).append(gated)
            else:
                result.rejected.append(gated)
    seen_questions = set() if seen_questions is None else seen_questions
    for document in survivors:  # insertion order: the plan's order
        kept = _dedup_document(survivors[document], settings.dedup_threshold, result.rejected)
        for gated in kept:
            key = normalize(gated.pair.question)
            if key in seen_questions:
                gated.gate, gated.detail = DUPLICATE, "the same question was kept for another document"
                result.rejected.append(gated)
                continue
            seen_questions.add(key)
            result.accepted.append(gated)
    return result


def _other_blank(pair: ParsedPair, other: ParsedPair) -> bool:
    """Two fill-in-the-blank items of one sentence that blank different terms ask for different facts (as cloze
    cards of one sentence do): their near-identical text does not make them copies."""
    if not (BLANK.search(pair.question) and BLANK.search(other.question)):
        return False
    return normalize(pair.answer) != normalize(other.answer)


def _copy_in_request(gated: GatedPair, kept: list[GatedPair], threshold: float) -> str | None:
    """A near copy of an earlier kept pair of the same reply (``kept``): its answer or its question."""
    for other in kept:
        if _other_blank(gated.pair, other.pair):
            continue
        # a short answer ("True", "8192") is shared by different questions: only its question can be a copy
        for name in ("question",) if short_answer(gated.pair.answer) else ("answer", "question"):
            mine, theirs = normalize(getattr(gated.pair, name)), normalize(getattr(other.pair, name))
            score = fuzz.token_sort_ratio(mine, theirs)
            if score >= threshold * 100:
                return f"near copy ({score:.0f}) of the {name} of pair {other.position + 1} of the same reply"
    return None


SIMILARITY_ROWS = 256  # questions compared with all others at a time: 256 x 50,000 pairs is 100 MB


def _dedup_document(pairs: list[GatedPair], threshold: float, rejected: list[GatedPair]) -> list[GatedPair]:
    kept: list[GatedPair] = []
    if not pairs:
        return kept
    questions = [normalize(g.pair.question) for g in pairs]
    try:
        matrix = TfidfVectorizer(token_pattern=r"(?u)\b\w+\b").fit_transform(questions)
    except ValueError:  # no word at all in any question
        matrix = None
    answers_seen: dict[tuple[QuestionType, str], str] = {}
    kept_indices: list[int] = []
    kept_by_reply: dict[int, list[GatedPair]] = {}
    for i, gated in enumerate(pairs):
        if i % SIMILARITY_ROWS == 0 and matrix is not None:  # a block of rows against all: memory stays bounded
            block = (matrix[i : i + SIMILARITY_ROWS] @ matrix.T).toarray()
        copy = _copy_in_request(gated, kept_by_reply.get(id(gated.outcome), []), threshold)
        if copy:
            gated.gate, gated.detail = DUPLICATE, copy
            rejected.append(gated)
            continue
        if matrix is not None:
            row = block[i % SIMILARITY_ROWS]
            match = next(
                (j for j in kept_indices if row[j] >= threshold and not _other_blank(gated.pair, pairs[j].pair)), None
            )
            if match is not None:
                gated.gate = DUPLICATE
                gated.detail = f"near-duplicate (cosine {row[match]:.2f}) of: {pairs[match].pair.question[:100]!r}"
                rejected.append(gated)
                continue
        answer_key = (gated.outcome.request.planned.question_type, normalize(gated.pair.answer))
        earlier = answers_seen.get(answer_key)
        if earlier is not None and earlier != questions[i] and not short_answer(gated.pair.answer):
            gated.gate, gated.detail = DUPLICATE, "the same answer was kept for another question of this type"
            rejected.append(gated)
            continue
        answers_seen[answer_key] = questions[i]
        kept_indices.append(i)
        kept.append(gated)
        kept_by_reply.setdefault(id(gated.outcome), []).append(gated)
    return kept

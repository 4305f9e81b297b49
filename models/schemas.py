"""The reply schema: one pydantic model per request shape, used three ways.

``build_reply_model(n_pairs, figure_ids, limits, answer, quotes)`` returns a
model class whose JSON schema is sent to the engine for constrained decoding,
whose shape the prompt shows (field names, descriptions, order and bounds, so a
server that falls back to ``json_object`` still gets the shape: what every request
shares once in the system prompt, ``describe_shared_fields``, and each type's own
fields in its task, ``describe_task_fields``), and which validates the reply. Because the three come from one class
they cannot drift apart.

Fields are in decoding order: ``evidence`` first, then ``figures``, then the
``question``, the ``reasoning_steps`` and last the ``answer``, so the answer is
decoded after, and conditioned on, what it rests on. Recall types have no
``reasoning_steps`` (their ``PairForm``): steps there only restate the evidence. A cloze
form (fill-in-the-blank items) replies with the one sentence (of those its request offers)
and then its ``missing_term``, and the pipeline builds the item (``utilities/type_forms.py``
``cloze_item``). Every string is
length-bounded (the answer by its question type's ``AnswerBudget``): small
models otherwise loop inside a string until the token cap. ``figures`` is an
enum of the ids attached to this request, so a model cannot invent a path.
(No ``pattern`` on the question: llama.cpp's grammar rejects its own output
under one, measured 3 failures in 4; the form gate checks questions instead.)

Evidence has two forms (``EVIDENCE_FORMAT``): ``ids``, the numbers of the
source sentences the prompt marks ``[n]`` (a few tokens each; the pipeline
expands them to the sentences), or ``quotes``, an enum of the sentences
themselves (verbatim by construction, ~40 tokens each). Either way a quote is
a real source sentence; the grounding gate checks again (a server that falls
back to ``json_object`` decodes without the schema).
"""

from __future__ import annotations

import functools
from enum import Enum, IntEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from models.question_types import OPEN_QUESTION, AnswerBudget, PairForm
from utilities.settings import Int, SettingsModel, choice, setting

EVIDENCE_FORMATS = ("ids", "quotes")


class ReplyLimits(SettingsModel):
    """What a reply may hold; MAX_ANSWER_CHARS and EVIDENCE_FORMAT are settings, the rest fixed."""

    max_question_chars: int = 300
    max_answer_chars: Int = setting(  # a cap over every type's own budget
        "1200", "cap on every question type's own answer length bound", ge=1, run_key=True, curate_key=True
    )
    max_steps: int = 3
    max_step_chars: int = 160
    max_evidence: int = 3
    max_evidence_chars: int = 300
    evidence_format: choice(*EVIDENCE_FORMATS) = setting(
        "ids",
        "how replies cite the source: ids (numbers of [n]-marked sentences) or quotes (the sentences verbatim)",
        run_key=True,
        curate_key=True,
    )


MAX_QUOTE_CHOICES = 300

# What the fields every request shares mean: stated once, in the system prompt (``describe_shared_fields``),
# so the requests of a run share them as a cached prefix instead of repeating them after each section.
EVIDENCE_TEXT = {
    "ids": "numbers of the source sentences, marked [n] in the source, that state what the answer says",
    "quotes": "sentences copied word for word from the source that state what the answer says",
}
FREE_QUOTES_TEXT = "quotes copied word for word from the source that state what the answer says"
FIGURES_TEXT = "ids of the attached figures the question is about; empty when it is about none"
STEPS_TEXT = "short steps from the evidence to the answer, each naming the fact it uses"
_CLOZE_SENTENCE = "that states a key fact: the item is this sentence with its key term replaced by ____"
CLOZE_SENTENCE_TEXT = {  # by how a reply cites: sentence ids, or the sentence itself (an enum or free)
    "ids": f"the number of the one source sentence, marked [n], {_CLOZE_SENTENCE}",
    "quotes": f"the one source sentence, copied word for word, {_CLOZE_SENTENCE}",
}
CLOZE_TERM_TEXT = (
    "the key term of that sentence that a learner should recall (a name, value, identifier or short phrase of "
    "one to four words), copied exactly from it"
)
MAX_TERM_CHARS = 48
DEFAULT_BUDGET = AnswerBudget(
    min_words=1, max_chars=ReplyLimits().max_answer_chars, length="as long as the question needs"
)


def quote_choices(quotes: tuple[str, ...], limits: ReplyLimits) -> tuple[str, ...]:
    """The sentences a reply may cite, in order; with ``ids`` the n-th is cited as n (from 1)."""
    return tuple(dict.fromkeys(q for q in quotes if 0 < len(q) <= limits.max_evidence_chars))[:MAX_QUOTE_CHOICES]


def build_reply_model(
    n_pairs: int,
    figure_ids: tuple[str, ...],
    limits: ReplyLimits,
    answer: AnswerBudget = DEFAULT_BUDGET,
    quotes: tuple[str, ...] = (),
    form: PairForm = OPEN_QUESTION,
    cite: range | tuple[int, ...] | None = None,
    terms: tuple[str, ...] = (),
) -> type[BaseModel]:
    """A model for ``{"pairs": [exactly n_pairs pair objects]}``; ``quotes``: the citable sentences,
    of which a reply may cite those numbered in ``cite`` (all when None).

    Models are cached: with ``ids`` a model depends on the numbers it may cite only, so
    a run of 50,000 requests builds a few hundred models rather than 50,000 (each costs
    milliseconds and tens of kilobytes).
    """
    choices = quote_choices(quotes, limits)
    cite = range(1, len(choices) + 1) if cite is None else cite
    key = tuple(cite) if limits.evidence_format == "ids" else tuple(choices[i - 1] for i in cite)
    return _reply_model(n_pairs, figure_ids, limits, answer, key, form, terms)


@functools.lru_cache(maxsize=4096)
def _reply_model(
    n_pairs: int,
    figure_ids: tuple[str, ...],
    limits: ReplyLimits,
    answer: AnswerBudget,
    choices: tuple[int, ...] | tuple[str, ...],
    form: PairForm = OPEN_QUESTION,
    terms: tuple[str, ...] = (),
) -> type[BaseModel]:
    if figure_ids:
        figure_enum = Enum("FigureId", {f"F{i}": fid for i, fid in enumerate(figure_ids)}, type=str)
        figures_field: Any = (
            list[figure_enum],  # type: ignore[valid-type]
            Field(max_length=len(figure_ids), description=FIGURES_TEXT),
        )
    else:
        figures_field = (list[str], Field(max_length=0, description=FIGURES_TEXT))
    step = Annotated[str, Field(min_length=1, max_length=limits.max_step_chars)]
    by_id = bool(choices) and isinstance(choices[0], int)
    if by_id:
        quote: Any = IntEnum("SentenceId", {f"S{i}": i for i in choices})
    elif isinstance(choices, tuple) and choices:
        quote = Enum("Quote", {f"Q{i}": q for i, q in enumerate(choices)}, type=str)
    else:
        quote = Annotated[str, Field(min_length=1, max_length=limits.max_evidence_chars)]
    evidence_text = EVIDENCE_TEXT[limits.evidence_format] if choices else FREE_QUOTES_TEXT
    max_answer = min(answer.max_chars, limits.max_answer_chars)
    steps_field: dict[str, Any] = {}
    if form.reasoning:
        steps_field["reasoning_steps"] = (
            list[step],
            Field(
                min_length=1,
                max_length=limits.max_steps,
                description=STEPS_TEXT,
            ),
        )
    if form.cloze:
        return create_model(
            "Reply",
            __config__=ConfigDict(extra="forbid"),
            pairs=(list[_cloze_model(quote, by_id, terms)], Field(min_length=n_pairs, max_length=n_pairs)),  # type: ignore[misc]
        )
    pair_model = create_model(
        "QAPair",
        __config__=ConfigDict(extra="forbid"),
        evidence=(list[quote], Field(min_length=1, max_length=limits.max_evidence, description=evidence_text)),
        figures=figures_field,
        question=(
            str,
            Field(
                min_length=8,
                max_length=limits.max_question_chars,
                description=form.question,
            ),
        ),
        **steps_field,
        answer=(
            str,
            Field(
                min_length=1,
                max_length=max_answer,
                description=f"{form.answer} in {answer.length}, using only what the evidence says",
            ),
        ),
    )
    return create_model(
        "Reply",
        __config__=ConfigDict(extra="forbid"),
        pairs=(list[pair_model], Field(min_length=n_pairs, max_length=n_pairs)),  # type: ignore[valid-type]
    )


def _cloze_model(quote: Any, by_id: bool, terms: tuple[str, ...]) -> type[BaseModel]:
    """One cited sentence and the term of it to blank (``PairForm.cloze``); the pipeline builds the item.

    ``terms``: the phrases of the sentences offered (``cloze_terms``). They are the term's enum in the JSON schema,
    so constrained decoding writes one its sentences hold (the 1.5B wrote a term its sentence lacks for 31 of 80
    items); validation takes any string, since a server without the schema decodes free text."""
    cites = "ids" if by_id else "quotes"
    guide = {"json_schema_extra": {"enum": list(terms)}} if terms else {}
    return create_model(
        "ClozeItem",
        __config__=ConfigDict(extra="forbid"),
        evidence=(
            list[quote],
            Field(min_length=1, max_length=1, description=CLOZE_SENTENCE_TEXT[cites]),
        ),
        missing_term=(str, Field(min_length=1, max_length=MAX_TERM_CHARS, description=CLOZE_TERM_TEXT, **guide)),
    )


@functools.lru_cache(maxsize=4096)
def reply_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with ``$ref``s inlined (some grammar compilers lack $ref).

    Cached with the models, so requests share one dict: nobody may change it.
    """
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:  # the definition, with the field's own keys (its description) kept
                siblings = {k: inline(v) for k, v in node.items() if k not in ("$ref", "title")}
                return {**inline(defs[node["$ref"].rsplit("/", 1)[-1]]), **siblings}
            return {k: inline(v) for k, v in node.items() if k != "title"}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return inline(schema)


def _bounds(node: dict[str, Any], low: str, high: str, unit: str) -> str:
    lo, hi = node.get(low), node.get(high)
    if lo is not None and hi is not None:
        return f"{lo} to {hi} {unit}" if lo != hi else f"exactly {lo} {unit}"
    if hi is not None:
        return f"at most {hi} {unit}"
    return f"at least {lo} {unit}" if lo is not None else ""


def _kind(node: dict[str, Any]) -> str:
    if node.get("type") == "array":
        items = node.get("items", {})
        count = _bounds(node, "minItems", "maxItems", "items")
        return f"a list of {count}, each {_kind(items)}" if count else f"a list, each {_kind(items)}"
    if "enum" in node and "maxLength" not in node:  # a bounded string's enum guides decoding only (cloze terms)
        values = node["enum"]
        if all(isinstance(v, int) for v in values):
            if sorted(values) == list(range(min(values), max(values) + 1)):
                return f"a number from {min(values)} to {max(values)}"
            return "one of " + ", ".join(map(str, sorted(values)))
        return "one of " + ", ".join(f'"{v}"' for v in values[:8]) + (" ..." if len(values) > 8 else "")
    if node.get("type") == "string":
        size = _bounds(node, "minLength", "maxLength", "characters")
        return f"a string of {size}" if size else "a string"
    return str(node.get("type", "a value"))


def describe_shared_fields(limits: ReplyLimits) -> str:
    """The reply's shape as the system prompt states it, the same for every request of a run.

    Each request's task then names its count and fields (``describe_task_fields``) and states
    only the fields whose meaning is its own: the question and the answer of its type.

    >>> print(describe_shared_fields(ReplyLimits()).splitlines()[3].split(";")[0])
    - "evidence": a list of 1 to 3 items, each a number
    """
    evidence = "a number" if limits.evidence_format == "ids" else "a sentence"
    steps = f"a list of 1 to {limits.max_steps} items, each a string of 1 to {limits.max_step_chars} characters"
    return "\n".join(
        [
            "# Reply shape",
            "",
            'Reply with one JSON object {"pairs": [...]} holding the pair objects the task asks for, each with '
            "the fields the task lists, in its order. The fields mean:",
            f'- "evidence": a list of 1 to {limits.max_evidence} items, each {evidence}; '
            f"{EVIDENCE_TEXT[limits.evidence_format]}",
            f'- "figures": a list of figure ids; {FIGURES_TEXT}',
            '- "question": a string; the question or item the task describes',
            f'- "reasoning_steps", where the task lists it: {steps}; {STEPS_TEXT}',
            '- "answer": a string; the answer the task describes',
        ]
    )


def describe_task_fields(schema: dict[str, Any], shared: str) -> str:
    """The reply's shape as a task states it: the count, the fields in order, and one line, with its
    bounds, for each field whose description ``shared`` (the system prompt's) does not already give.

    >>> print(describe_task_fields({"type": "object", "properties": {"pairs": {"type": "array", "minItems": 1,
    ...     "maxItems": 1, "items": {"type": "object", "properties": {"evidence": {"type": "array",
    ...     "description": "cited"}, "answer": {"type": "string", "maxLength": 9, "description": "the answer"}}}}}},
    ...     shared="- evidence: cited"))
    Reply with exactly 1 pair objects, each with the fields "evidence", "answer", in this order, where:
    - "answer": a string of at most 9 characters; the answer
    """
    pairs = schema["properties"]["pairs"]
    count = _bounds(pairs, "minItems", "maxItems", "pair objects")
    fields = pairs["items"]["properties"]
    names = ", ".join(f'"{name}"' for name in fields)
    lines = [f"Reply with {count}, each with the fields {names}, in this order, where:"]
    for name, node in fields.items():
        description = node.get("description", "")
        if description and description not in shared:
            lines.append(f'- "{name}": {_kind(node)}; {description}')
    return "\n".join(lines)


# --- The verify pass's replies (utilities/verify.py) ---------------------------------------------

JUDGE_CRITERIA = {
    "faithful": "every statement of the answer is stated in, or follows directly from, the source; 1 when it "
    "contradicts the source or adds facts or numbers the source lacks",
    "self_contained": "a reader who has never seen the source understands what the question asks; 1 when it "
    "leans on 'the proposal', 'the function above' or the like without naming it",
    "useful": "the pair teaches something specific and correct about the subject; 1 when it is trivial, "
    "tautological, repetitive or off target (the answer does not answer the question)",
}
MAX_REASON_CHARS = 160


def build_answerability_model(max_answer_chars: int) -> type[BaseModel]:
    """``{"answerable": bool, "answer": str}``: the verifier's own answer from the source alone."""
    return create_model(
        "Answerability",
        __config__=ConfigDict(extra="forbid"),
        answerable=(
            bool,
            Field(description="true when the source states what the question asks; false when it does not"),
        ),
        answer=(
            str,
            Field(
                max_length=max_answer_chars,
                description="the answer from the source alone, short and specific; empty when not answerable",
            ),
        ),
    )


@functools.lru_cache(maxsize=256)
def build_locate_model(n_sentences: int) -> type[BaseModel]:
    """``{"sentence": 0..n}``: the number of the listed source sentence that answers the question, 0 for none."""
    sentence = IntEnum("LocatedSentence", {f"S{i}": i for i in range(n_sentences + 1)})
    return create_model(
        "Located",
        __config__=ConfigDict(extra="forbid"),
        sentence=(
            sentence,
            Field(description="the number of the one sentence that answers the question; 0 when no sentence does"),
        ),
    )


def build_judge_model() -> type[BaseModel]:
    """One ``{"reason": str, "score": 1..5}`` per criterion of ``JUDGE_CRITERIA``, the reason decoded first."""
    score = IntEnum("Score", {f"S{i}": i for i in range(1, 6)})
    rating = create_model(
        "Rating",
        __config__=ConfigDict(extra="forbid"),
        reason=(str, Field(min_length=1, max_length=MAX_REASON_CHARS, description="one line: why this score")),
        score=(score, Field(description="1 (fails) to 5 (fully meets the criterion)")),
    )
    fields: dict[str, Any] = {name: (rating, Field(description=text)) for name, text in JUDGE_CRITERIA.items()}
    return create_model("Judgement", __config__=ConfigDict(extra="forbid"), **fields)


def describe_object(schema: dict[str, Any]) -> str:
    """A flat or one-level-nested object's shape, one line per field, for the verify prompts."""
    lines = ["Reply with one JSON object with these fields in this order:"]
    for name, node in schema["properties"].items():
        description = node.get("description", "")
        if node.get("type") == "object":
            inner = ", ".join(f'"{k}": {_kind(v)}, {v.get("description", "")}' for k, v in node["properties"].items())
            lines.append(f'- "{name}": {{{inner}}}; {description}')
        else:
            lines.append(f'- "{name}": {_kind(node)}' + (f"; {description}" if description else ""))
    return "\n".join(lines)

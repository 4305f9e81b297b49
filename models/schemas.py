"""The reply schema: one pydantic model per request shape, used three ways.

``build_reply_model(n_pairs, figure_ids, limits, answer, quotes)`` returns a
model class whose JSON schema is sent to the engine for constrained decoding,
whose shape the prompt shows (``describe_reply``: field names, descriptions,
order and bounds, so a server that falls back to ``json_object`` still gets the
shape), and which validates the reply. Because the three come from one class
they cannot drift apart.

Fields are in decoding order: ``evidence`` first, then ``figures``, then the
``question``, the ``reasoning_steps`` and last the ``answer``, so the answer is
decoded after, and conditioned on, what it rests on. Recall types have no
``reasoning_steps`` (their ``PairForm``): steps there only restate the evidence. Every string is
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
) -> type[BaseModel]:
    """A model for ``{"pairs": [exactly n_pairs pair objects]}``; ``quotes``: the citable sentences.

    Models are cached: with ``ids`` a model depends on the number of citable sentences only, so
    a run of 50,000 requests builds a few hundred models rather than 50,000 (each costs
    milliseconds and tens of kilobytes).
    """
    choices = quote_choices(quotes, limits)
    key: int | tuple[str, ...] = len(choices) if limits.evidence_format == "ids" else choices
    return _reply_model(n_pairs, figure_ids, limits, answer, key, form)


@functools.lru_cache(maxsize=4096)
def _reply_model(
    n_pairs: int,
    figure_ids: tuple[str, ...],
    limits: ReplyLimits,
    answer: AnswerBudget,
    choices: int | tuple[str, ...],
    form: PairForm = OPEN_QUESTION,
) -> type[BaseModel]:
    if figure_ids:
        figure_enum = Enum("FigureId", {f"F{i}": fid for i, fid in enumerate(figure_ids)}, type=str)
        figures_field: Any = (
            list[figure_enum],  # type: ignore[valid-type]
            Field(
                max_length=len(figure_ids),
                description="ids of the attached figures the question is about; empty when it is about none",
            ),
        )
    else:
        figures_field = (list[str], Field(max_length=0, description="always empty: no figure is attached"))
    step = Annotated[str, Field(min_length=1, max_length=limits.max_step_chars)]
    if isinstance(choices, int) and choices:
        quote: Any = IntEnum("SentenceId", {f"S{i}": i for i in range(1, choices + 1)})
        evidence_text = "numbers of the source sentences, marked [n] above, that state what the answer says"
    elif isinstance(choices, tuple) and choices:
        quote = Enum("Quote", {f"Q{i}": q for i, q in enumerate(choices)}, type=str)
        evidence_text = "sentences copied word for word from the source that state what the answer says"
    else:
        quote = Annotated[str, Field(min_length=1, max_length=limits.max_evidence_chars)]
        evidence_text = "quotes copied word for word from the source that state what the answer says"
    max_answer = min(answer.max_chars, limits.max_answer_chars)
    steps_field: dict[str, Any] = {}
    if form.reasoning:
        steps_field["reasoning_steps"] = (
            list[step],
            Field(
                min_length=1,
                max_length=limits.max_steps,
                description="short steps from the evidence to the answer, each naming the fact it uses",
            ),
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
    if "enum" in node:
        values = node["enum"]
        if all(isinstance(v, int) for v in values):
            return f"a number from {min(values)} to {max(values)}"
        return "one of " + ", ".join(f'"{v}"' for v in values[:8]) + (" ..." if len(values) > 8 else "")
    if node.get("type") == "string":
        size = _bounds(node, "minLength", "maxLength", "characters")
        return f"a string of {size}" if size else "a string"
    return str(node.get("type", "a value"))


def describe_reply(schema: dict[str, Any]) -> str:
    """The reply's shape as the prompt states it: one line per field, in schema order.

    >>> print(describe_reply({"type": "object", "properties": {"pairs": {"type": "array", "minItems": 1,
    ...     "maxItems": 1, "items": {"type": "object", "properties": {"answer": {"type": "string",
    ...     "maxLength": 9, "description": "the answer"}}}}}}))
    Reply with one JSON object {"pairs": [...]} holding exactly 1 pair objects, each with these fields in this order:
    - "answer": a string of at most 9 characters; the answer
    """
    pairs = schema["properties"]["pairs"]
    count = _bounds(pairs, "minItems", "maxItems", "pair objects")
    lines = [f'Reply with one JSON object {{"pairs": [...]}} holding {count}, each with these fields in this order:']
    for name, node in pairs["items"]["properties"].items():
        description = node.get("description", "")
        lines.append(f'- "{name}": {_kind(node)}' + (f"; {description}" if description else ""))
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

"""The reply schema: one pydantic model per request shape, used three ways.

``build_reply_model(n_pairs, figure_ids, limits)`` returns a model class whose
JSON schema is sent to the engine for constrained decoding, whose field
descriptions the prompt shows, and which validates the reply. Because the three
come from one class they cannot drift apart. Every string is length-bounded:
small models otherwise loop inside a string until the token cap. ``figures`` is
an enum of the ids attached to this request, so a model cannot invent a path.
(No ``pattern`` on the question: llama.cpp's grammar rejects its own output under
one, measured 3 failures in 4; the form gate checks questions instead.)
``evidence`` is an enum of the sentences of the request's own source when it has
any, so a quote is verbatim by construction; the grounding gate checks it again
(a server that falls back to ``json_object`` decodes without the schema).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model


@dataclass(frozen=True)
class ReplyLimits:
    max_question_chars: int = 300
    max_answer_chars: int = 1200
    max_steps: int = 4
    max_step_chars: int = 200
    max_evidence: int = 3
    max_evidence_chars: int = 300


MAX_QUOTE_CHOICES = 300


def build_reply_model(
    n_pairs: int, figure_ids: tuple[str, ...], limits: ReplyLimits, quotes: tuple[str, ...] = ()
) -> type[BaseModel]:
    """A model for ``{"pairs": [exactly n_pairs pair objects]}``; ``quotes``: the allowed evidence."""
    if figure_ids:
        figure_enum = Enum("FigureId", {f"F{i}": fid for i, fid in enumerate(figure_ids)}, type=str)
        figures_field: Any = (list[figure_enum], Field(max_length=len(figure_ids)))  # type: ignore[valid-type]
    else:
        figures_field = (list[str], Field(max_length=0))
    step = Annotated[str, Field(min_length=1, max_length=limits.max_step_chars)]
    choices = tuple(dict.fromkeys(q for q in quotes if 0 < len(q) <= limits.max_evidence_chars))[:MAX_QUOTE_CHOICES]
    if choices:
        quote: Any = Enum("Quote", {f"Q{i}": q for i, q in enumerate(choices)}, type=str)
    else:
        quote = Annotated[str, Field(min_length=1, max_length=limits.max_evidence_chars)]
    pair_model = create_model(
        "QAPair",
        __config__=ConfigDict(extra="forbid"),
        question=(
            str,
            Field(
                min_length=8,
                max_length=limits.max_question_chars,
                description="a self-contained question ending with a question mark",
            ),
        ),
        answer=(
            str,
            Field(min_length=1, max_length=limits.max_answer_chars, description="the answer, from the source"),
        ),
        reasoning_steps=(
            list[step],
            Field(min_length=1, max_length=limits.max_steps, description="short steps from the source to the answer"),
        ),
        evidence=(
            list[quote],
            Field(
                min_length=1,
                max_length=limits.max_evidence,
                description="verbatim quotes from the source that support the answer",
            ),
        ),
        figures=figures_field,
    )
    return create_model(
        "Reply",
        __config__=ConfigDict(extra="forbid"),
        pairs=(list[pair_model], Field(min_length=n_pairs, max_length=n_pairs)),  # type: ignore[valid-type]
    )


def reply_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with ``$ref``s inlined (some grammar compilers lack $ref)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: inline(v) for k, v in node.items() if k != "title"}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return inline(schema)

"""Parse and validate one engine reply against its request's reply model.

Strict: the reply must be JSON (a surrounding markdown code fence is the only
thing stripped), match the schema, hold exactly the pairs asked for, and name
only figures attached to its request. Nothing is guessed or salvaged: a reply
that fails is a content failure with one of the ``REASONS`` below, and the raw
text is kept by the caller for the rejects file.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from models.records import BuiltRequest, ParsedPair, ParseOutcome
from utilities.engines.base import EngineResult
from utilities.type_forms import cloze_from

REASONS = {
    "engine_error": "the engine failed to answer (transport, server or runtime error)",
    "truncated": "the reply hit the token limit (finish_reason 'length') before it was complete",
    "empty": "the reply was empty",
    "invalid_json": "the reply is not valid JSON",
    "schema_violation": "the JSON does not match the reply schema",
    "wrong_pair_count": "the reply holds a different number of pairs than asked for",
    "unknown_figure": "a pair names a figure that was not attached to its request",
    "sampling_accident": "most pairs of a valid reply loop, degenerate or stop mid-sentence (re-sent with a new seed)",
}

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*)\n\s*```\s*$", re.DOTALL)
_MARK = re.compile(r"\s?\[(\d{1,3})\](?!\()")  # the prompt's [n] sentence marks, not a markdown link


def strip_marks(text: str, n_quotes: int) -> str:
    """Remove the ``[n]`` marks the prompt put before source sentences (only numbers it used).

    >>> strip_marks("[2] The fee rises [3]. See a[0] and [9].", 3)
    'The fee rises. See a[0] and [9].'
    """
    return _MARK.sub(lambda m: "" if 1 <= int(m.group(1)) <= n_quotes else m.group(0), text).strip()


def _quote(item: Any, quotes: tuple[str, ...]) -> str:
    """A cited sentence: an id (``EVIDENCE_FORMAT=ids``) expanded, or the quote as given."""
    value = getattr(item, "value", item)
    return quotes[value - 1] if isinstance(value, int) else value.strip()


def _fail(reason: str, detail: str) -> ParseOutcome:
    return ParseOutcome(reason=reason, detail=detail[:500])


def decode_json(result: EngineResult) -> tuple[Any, ParseOutcome | None]:
    """The reply's JSON value (a surrounding code fence stripped), or the failure that stops it.
    Shared by generation replies and verify replies."""
    if result.error is not None:
        return None, _fail("engine_error", result.error)
    if result.finish_reason == "length":
        return None, _fail("truncated", f"stopped after {result.completion_tokens} tokens")
    text = result.text.strip()
    if not text:
        return None, _fail("empty", f"finish_reason {result.finish_reason!r}")
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, _fail("invalid_json", f"{exc.msg} at line {exc.lineno} column {exc.colno}")


def parse_reply(built: BuiltRequest, result: EngineResult) -> ParseOutcome:
    data, failed = decode_json(result)
    if failed is not None:
        return failed
    if isinstance(data, dict) and isinstance(data.get("pairs"), list):
        if len(data["pairs"]) != built.n_pairs:
            return _fail("wrong_pair_count", f"asked for {built.n_pairs}, got {len(data['pairs'])}")
        attached = set(built.figures)
        for pair in data["pairs"]:
            named = pair.get("figures") if isinstance(pair, dict) else None
            if isinstance(named, list) and any(isinstance(f, str) and f not in attached for f in named):
                unknown = sorted(f for f in named if isinstance(f, str) and f not in attached)
                return _fail("unknown_figure", f"named {unknown}, attached {sorted(attached)}")
    try:
        reply = built.reply_model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return _fail("schema_violation", f"{exc.error_count()} error(s), first at {where}: {first['msg']}")
    clozes = built.cloze_sentences or built.quotes
    return ParseOutcome(pairs=tuple(_pair(p, built.quotes, clozes) for p in reply.pairs))  # type: ignore[attr-defined]


def _pair(p: Any, quotes: tuple[str, ...], clozes: tuple[str, ...]) -> ParsedPair:
    evidence = tuple(dict.fromkeys(_quote(e, quotes) for e in p.evidence))
    if hasattr(p, "missing_term"):  # a cloze item (``PairForm.cloze``): built from its sentence and term
        question, answer, sentence = cloze_from(strip_marks(p.missing_term, len(quotes)), evidence[0], clozes)
        return ParsedPair(question, answer, (), (sentence,), ())
    n = len(quotes)
    return ParsedPair(
        question=strip_marks(p.question, n),
        answer=strip_marks(p.answer, n),
        reasoning_steps=tuple(strip_marks(s, n) for s in getattr(p, "reasoning_steps", ())),
        evidence=evidence,
        figures=tuple(getattr(f, "value", f) for f in p.figures),
    )

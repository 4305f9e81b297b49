"""Helpers shared by tests: valid replies for a request, a small document with a figure."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

from utilities.engines.base import EngineRequest, TextPart
from utilities.facts import split_sentences

from .conftest import write_png

SMALL_DOC = """---
title: Blob fee notes
---
# Reserve price

The blob base fee is bounded below by a reserve price. The reserve price equals
BLOB_BASE_COST times the execution base fee, so blob pricing stays responsive.

{{FIGURE_1.1}}

**Figure 1.** Demand for blobspace under different execution base fees.

# Fee updates

When the reserve price binds, the excess blob gas is not reduced by the target.
The blob base fee then rises until demand falls back to the target supply, as
Figure 1 shows for high execution base fees.
"""


def write_small_doc(docs: Path) -> Path:
    write_png(docs / "notes" / "FIGURE_1.1.png", size=(120, 80))
    path = docs / "notes.md"
    path.write_text(SMALL_DOC)
    return path


def n_pairs(request: EngineRequest) -> int:
    return request.schema["properties"]["pairs"]["minItems"]


def allowed_figures(request: EngineRequest) -> list[str]:
    items = request.schema["properties"]["pairs"]["items"]["properties"]["figures"]["items"]
    return list(items.get("enum", []))


def source_sentences(request: EngineRequest) -> list[str]:
    """Whole sentences of the request's source text (before its task)."""
    text = "".join(p.text for p in request.parts if isinstance(p, TextPart)).split("# Task")[0]
    prose = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith(("#", "-", "{{", "**"))]
    sentences = split_sentences(" ".join(prose))
    return [s for s in sentences if len(s) >= 30 and s.endswith(".")]


def _word(seed: str) -> str:
    """A made-up word unique to seed, so generated questions are not near-duplicates."""
    n = zlib.crc32(seed.encode())
    return "".join("bcdfghjklmnpqrstvwxz"[(n >> (4 * k)) % 20] + "aeiou"[(n >> (3 * k)) % 5] for k in range(4))


def evidence_choices(request: EngineRequest) -> list[str]:
    items = request.schema["properties"]["pairs"]["items"]["properties"].get("evidence", {}).get("items", {})
    return list(items.get("enum", []))


def valid_reply(request: EngineRequest) -> str:
    """A reply that passes the schema and every quality gate: answers quote the source."""
    figures = allowed_figures(request)[:1]
    sentences = [c for c in evidence_choices(request) if c.endswith(".")] or source_sentences(request)
    text = "".join(p.text for p in request.parts if isinstance(p, TextPart))
    pairs = []
    for i in range(n_pairs(request)):
        sentence = sentences[i % len(sentences)]
        seed = f"{text}|{i}"
        pairs.append(
            {
                "question": f"What does the {_word(seed)} {_word(seed + 'b')} rule say about {sentence.split()[1]}?",
                "answer": f"{sentence} This holds in the {_word(seed + 'c')} case.",
                "reasoning_steps": ["Find the statement.", "Restate it."],
                "evidence": [sentence],
                "figures": figures,
            }
        )
    return json.dumps({"pairs": pairs})

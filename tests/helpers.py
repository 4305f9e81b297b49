"""Helpers shared by tests: valid replies for a request, a small document with a figure."""

from __future__ import annotations

import json
from pathlib import Path

from utilities.engines.base import EngineRequest, TextPart

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


def source_quote(request: EngineRequest) -> str:
    text = "".join(p.text for p in request.parts if isinstance(p, TextPart))
    line = next(ln for ln in text.splitlines() if len(ln.split()) > 6 and not ln.startswith("#"))
    return line[:120]


def valid_reply(request: EngineRequest, question: str = "What bounds the blob base fee from below?") -> str:
    figures = allowed_figures(request)[:1]
    pairs = [
        {
            "question": f"{question} ({i + 1})",
            "answer": "A reserve price equal to BLOB_BASE_COST times the execution base fee.",
            "reasoning_steps": ["Find the reserve price rule.", "Read its formula."],
            "evidence": [source_quote(request)],
            "figures": figures,
        }
        for i in range(n_pairs(request))
    ]
    return json.dumps({"pairs": pairs})

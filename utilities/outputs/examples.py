"""Turn kept pairs into examples, and write the rejects files.

An ``Example`` holds what every format needs (question, assistant content with its
``<think>`` block, image paths, labels, provenance); the formats themselves, phi
included, are written by ``utilities/outputs/formats.py``. The rejects files are
written atomically and never over an existing file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from models.documents import Document
from models.question_types import QUESTION_TYPE_SPECS
from models.records import Example, GatedPair, GateResult, RequestOutcome
from utilities.naming import item_source
from utilities.outputs.files import write_new_file
from utilities.outputs.formats import file_stem
from utilities.replies import REASONS
from utilities.type_forms import with_source


def assistant_content(answer: str, steps: Sequence[str], include_reasoning: bool) -> str:
    """``<think>\\nStep 1: ...\\n</think>\\n\\nanswer`` as the specification shows, or the answer alone.

    ``steps`` are the pair's kept reasoning steps (``GatedPair.steps``); with none the answer stands alone.
    """
    if not include_reasoning or not steps:
        return answer
    lines = "\n".join(f"Step {n}: {step}" for n, step in enumerate(steps, 1))
    return f"<think>\n{lines}\n</think>\n\n{answer}"


def written_question(question: str, answer: str, document: Document, section_title: str) -> str:
    """The question as the dataset writes it: an item names its source after its label (``with_source``); the
    gates judged it without."""
    return with_source(question, item_source(document.called, section_title), answer)


def to_example(gated: GatedPair, document: Document, include_reasoning: bool) -> Example:
    pair, outcome = gated.pair, gated.outcome
    planned = outcome.request.planned
    section = document.sections[planned.section_index]
    spec = QUESTION_TYPE_SPECS[planned.question_type]
    return Example(
        id=gated.id,
        split=spec.split,
        question=written_question(pair.question, pair.answer, document, section.title),
        answer=assistant_content(pair.answer, gated.steps, include_reasoning),
        images=tuple(outcome.request.figure_paths[figure_id] for figure_id in pair.figures),
        question_type=planned.question_type.value,
        difficulty=spec.difficulty.value,
        document=document.name,
        section=section.title,
        metadata={
            "document": document.name,
            "section": section.title,
            "section_index": section.index,
            "related_sections": list(planned.related),
            "request": outcome.request.key,
            "evidence": list(gated.evidence),  # the quotes that support the answer
            "evidence_from": gated.evidence_from,  # "model": its own citations; "found": sentences shown to it
            "figures": list(pair.figures),
            "grounding": round(gated.grounding, 1),
            "evidence_support": round(gated.support, 2),
            "verify": gated.verify,  # each verifier's reply ({} when VERIFY=none)
            "question_as_written": gated.question_as_written,  # the model's, when "the proposal" became a name
            "answer_as_written": gated.answer_as_written,  # the model's, when "This EIP" became a name
        },
    )


def examples_of(gates: GateResult, documents: dict[str, Document], include_reasoning: bool) -> list[Example]:
    """The kept pairs as records any format can be written from."""
    return [to_example(g, documents[g.outcome.request.planned.document], include_reasoning) for g in gates.accepted]


def write_rejects(outcomes: list[RequestOutcome], gates: GateResult, folder: Path, stamp: str) -> list[Path]:
    """Per document, its rejected requests and pairs with raw replies and reasons: ``rejects-<doc>-<time>.jsonl``."""
    rejects: dict[str, list[str]] = {}
    for outcome in outcomes:
        if outcome.status != "accepted":
            name = outcome.request.planned.document
            rejects.setdefault(name, []).append(json.dumps(_reject_line(outcome), ensure_ascii=False))
    for gated in gates.rejected:
        name = gated.outcome.request.planned.document
        rejects.setdefault(name, []).append(json.dumps(_pair_reject_line(gated), ensure_ascii=False))
    written = []
    for name in dict.fromkeys(o.request.planned.document for o in outcomes):
        if rejects.get(name):
            data = ("\n".join(rejects[name]) + "\n").encode("utf-8")
            written.append(write_new_file(folder, f"rejects-{file_stem(name)}-{stamp}", ".jsonl", data))
    return written


def _pair_reject_line(gated: GatedPair) -> dict[str, Any]:
    planned = gated.outcome.request.planned
    pair = gated.pair
    return {
        "kind": "pair",
        "request": gated.outcome.request.key,
        "document": planned.document,
        "section_index": planned.section_index,
        "question_type": planned.question_type.value,
        "gate": gated.gate,
        "detail": gated.detail,
        "grounding": round(gated.grounding, 1),
        "verify": gated.verify,
        "pair": pair.to_dict(),
        "question_as_written": gated.question_as_written,
        "answer_as_written": gated.answer_as_written,
    }


def _reject_line(outcome: RequestOutcome) -> dict[str, Any]:
    planned = outcome.request.planned
    return {
        "kind": "request",
        "request": outcome.request.key,
        "document": planned.document,
        "section_index": planned.section_index,
        "question_type": planned.question_type.value,
        "reason": outcome.reason,
        "reason_text": REASONS.get(outcome.reason or "", ""),
        "attempts": [a.to_dict() for a in outcome.attempts],
    }

"""Turn accepted pairs into the specification's records and write train, eval and rejects files.

Records keep the specification's keys exactly (``messages``, ``question_type``,
``difficulty``) and add provenance under ``metadata``. Image URLs are relative
to MARKDOWN_DOCS_DIR, so ``utilities/check_image_urls.py`` passes on them by
default. Files are written atomically and never over an existing file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.documents import Document
from models.question_types import QUESTION_TYPE_SPECS, Split
from utilities.generation import RequestOutcome
from utilities.output_files import write_new_file, write_new_json
from utilities.quality import GatedPair, GateResult
from utilities.replies import REASONS, ParsedPair


def assistant_content(pair: ParsedPair, include_reasoning: bool) -> str:
    """``<think>\\nStep 1: ...\\n</think>\\n\\nanswer`` as the specification shows, or the answer alone."""
    if not include_reasoning or not pair.reasoning_steps:
        return pair.answer
    steps = "\n".join(f"Step {n}: {step}" for n, step in enumerate(pair.reasoning_steps, 1))
    return f"<think>\n{steps}\n</think>\n\n{pair.answer}"


def to_record(gated: GatedPair, document: Document, include_reasoning: bool) -> dict[str, Any]:
    pair, outcome = gated.pair, gated.outcome
    planned = outcome.built.planned
    section = document.sections[planned.section_index]
    paths = {
        ref.id: ref.path for i in (planned.section_index, *planned.related) for ref in document.sections[i].figures
    }
    content: list[dict[str, Any]] = [{"type": "text", "text": pair.question}]
    for figure_id in pair.figures:
        content.append({"type": "image_url", "image_url": {"url": paths[figure_id], "detail": "auto"}})
    spec = QUESTION_TYPE_SPECS[planned.question_type]
    return {
        "messages": [
            {"role": "user", "content": content},
            {"role": "assistant", "content": assistant_content(pair, include_reasoning)},
        ],
        "question_type": planned.question_type.value,
        "difficulty": spec.difficulty.value,
        "metadata": {
            "document": document.name,
            "section": section.title,
            "section_index": section.index,
            "related_sections": list(planned.related),
            "request": outcome.built.key,
            "evidence": list(pair.evidence),
            "figures": list(pair.figures),
            "grounding": round(gated.grounding, 1),
            "answer_support": round(gated.support, 2),
        },
    }


@dataclass
class WrittenFiles:
    train: list[Path] = field(default_factory=list)
    eval: list[Path] = field(default_factory=list)
    rejects: list[Path] = field(default_factory=list)


def file_stem(document_name: str) -> str:
    """A document name as a file name part: ``manuals/signals`` -> ``manuals__signals``."""
    return document_name.replace("/", "__")


def write_outputs(
    outcomes: list[RequestOutcome],
    gates: GateResult,
    documents: dict[str, Document],
    output_dir: Path,
    stamp: str,
    include_reasoning: bool,
) -> WrittenFiles:
    """Per document: kept pairs into train/eval files, rejected requests and pairs into a rejects file."""
    written = WrittenFiles()
    splits: dict[str, dict[Split, list[dict[str, Any]]]] = {}
    rejects: dict[str, list[str]] = {}
    for outcome in outcomes:
        name = outcome.built.planned.document
        splits.setdefault(name, {Split.TRAIN: [], Split.EVAL: []})
        if outcome.status != "accepted":
            rejects.setdefault(name, []).append(json.dumps(_reject_line(outcome), ensure_ascii=False))
    for gated in gates.accepted:
        planned = gated.outcome.built.planned
        split = QUESTION_TYPE_SPECS[planned.question_type].split
        splits[planned.document][split].append(to_record(gated, documents[planned.document], include_reasoning))
    for gated in gates.rejected:
        name = gated.outcome.built.planned.document
        rejects.setdefault(name, []).append(json.dumps(_pair_reject_line(gated), ensure_ascii=False))
    for name, by_split in splits.items():
        stem = file_stem(name)
        for split, records in by_split.items():
            if records:
                target = written.train if split is Split.TRAIN else written.eval
                target.append(write_new_json(output_dir, f"{split.value}-{stem}-synthetic-data-{stamp}", records))
        if rejects.get(name):
            data = ("\n".join(rejects[name]) + "\n").encode("utf-8")
            written.rejects.append(write_new_file(output_dir, f"rejects-{stem}-{stamp}", ".jsonl", data))
    return written


def _pair_reject_line(gated: GatedPair) -> dict[str, Any]:
    planned = gated.outcome.built.planned
    pair = gated.pair
    return {
        "kind": "pair",
        "request": gated.outcome.built.key,
        "document": planned.document,
        "section_index": planned.section_index,
        "question_type": planned.question_type.value,
        "gate": gated.gate,
        "detail": gated.detail,
        "grounding": round(gated.grounding, 1),
        "pair": {
            "question": pair.question,
            "answer": pair.answer,
            "reasoning_steps": list(pair.reasoning_steps),
            "evidence": list(pair.evidence),
            "figures": list(pair.figures),
        },
    }


def _reject_line(outcome: RequestOutcome) -> dict[str, Any]:
    planned = outcome.built.planned
    return {
        "kind": "request",
        "request": outcome.built.key,
        "document": planned.document,
        "section_index": planned.section_index,
        "question_type": planned.question_type.value,
        "reason": outcome.reason,
        "reason_text": REASONS.get(outcome.reason or "", ""),
        "attempts": [a.to_dict() for a in outcome.attempts],
    }

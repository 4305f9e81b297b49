"""The dry-run plan: what a run would send, written before any model is loaded.

``build_plan`` returns a JSON-ready dict whose keys are a user-facing contract
documented in the README (``PLAN_SCHEMA_VERSION`` changes when they do);
``format_plan_summary`` renders the per-document summary the CLI prints.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from models.documents import Document
from models.question_types import QuestionType
from models.records import PlannedRequest
from utilities.config import Config
from utilities.file_utils import LoadResult
from utilities.planner import count_by_type, estimate_prompt_tokens, plan_requests

PLAN_SCHEMA_VERSION = 1


def _document_entry(document: Document, requests: list[PlannedRequest]) -> dict[str, Any]:
    figures = {ref.id: ref for section in document.sections for ref in section.figures if ref.placement == "placed"}
    return {
        "name": document.name,
        "path": document.name + document.path.suffix,
        "metadata": document.metadata,
        "words": document.word_count,
        "figures": {
            "total": len(figures),
            "resolved": sum(1 for f in figures.values() if f.path is not None),
            "missing": sorted(f.id for f in figures.values() if f.path is None),
        },
        "facts": sum(len(s.facts) for s in document.sections),
        "planned_requests": count_by_type(requests),
        "estimated_prompt_tokens": sum(estimate_prompt_tokens(document, r) for r in requests),
        "warnings": document.warnings,
        "sections": [
            {
                "index": s.index,
                "title": s.title,
                "text": s.text,
                "figures": [
                    {"id": f.id, "path": f.path, "caption": f.caption, "placement": f.placement} for f in s.figures
                ],
                "related": [{"index": r.index, "similarity": r.similarity} for r in s.related],
                "facts": len(s.facts),
            }
            for s in document.sections
        ],
    }


def build_plan(loaded: LoadResult, config: Config) -> tuple[dict[str, Any], list[PlannedRequest]]:
    all_requests: list[PlannedRequest] = []
    entries = []
    for document in loaded.documents:
        requests = plan_requests(document, config.question_types, config.questions_per_request, config.limit_sections)
        all_requests.extend(requests)
        entries.append(_document_entry(document, requests))
    plan = {
        "schema_version": PLAN_SCHEMA_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "settings": config.to_dict(),
        "documents": entries,
        "skipped": [{"path": s.path, "reason": s.reason} for s in loaded.skipped],
        "totals": {
            "documents": len(entries),
            "skipped": len(loaded.skipped),
            "sections": sum(len(e["sections"]) for e in entries),
            "words": sum(e["words"] for e in entries),
            "figures_resolved": sum(e["figures"]["resolved"] for e in entries),
            "figures_missing": sum(len(e["figures"]["missing"]) for e in entries),
            "facts": sum(e["facts"] for e in entries),
            "planned_requests": count_by_type(all_requests),
            "requests": len(all_requests),
            "estimated_prompt_tokens": sum(e["estimated_prompt_tokens"] for e in entries),
        },
    }
    return plan, all_requests


def format_plan_summary(plan: dict[str, Any]) -> str:
    lines: list[str] = []
    order = [qt.value for qt in QuestionType]
    for doc in plan["documents"]:
        figures = doc["figures"]
        requests = sum(doc["planned_requests"].values())
        lines.append(
            f"{doc['name']}: {len(doc['sections'])} sections, {doc['words']:,} words, "
            f"figures {figures['resolved']}/{figures['total']} resolved ({len(figures['missing'])} missing), "
            f"{doc['facts']} facts, {requests} requests, ~{doc['estimated_prompt_tokens']:,} prompt tokens"
        )
        per_type = [f"{name} {doc['planned_requests'][name]}" for name in order if name in doc["planned_requests"]]
        lines.append("    " + ", ".join(per_type))
    for skipped in plan["skipped"]:
        lines.append(f"skipped {skipped['path']}: {skipped['reason']}")
    totals = plan["totals"]
    lines.append(
        f"total: {totals['documents']} documents ({totals['skipped']} skipped), {totals['sections']} sections, "
        f"{totals['requests']} requests, ~{totals['estimated_prompt_tokens']:,} prompt tokens"
    )
    return "\n".join(lines)

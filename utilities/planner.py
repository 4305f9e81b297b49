"""Plan the requests of a run: which sections, question types, facts and images go together.

Planning is pure: documents and settings in, ``PlannedRequest`` list out, in a
stable order (document, section, question type as listed, fact group). The dry
run prints and saves it; generation builds prompts from it.

- SECTION and SECTION_WITH_RELATED types: one request per section.
- SECTION_PAIR types (MULTI_HOP_REASONING, COMPARATIVE_ANALYSIS): one request
  per section that has a related section, paired with its most similar one.
- FACTS (FACT_BASED): one request per group of ``questions_per_request`` facts,
  one pair per fact.
"""

from __future__ import annotations

from collections import Counter

from models.documents import Document
from models.question_types import QUESTION_TYPE_SPECS, ContextKind, QuestionType
from models.records import PlannedRequest

# Characters a request adds around its context (system prompt, instructions,
# schema description) until the prompt templates exist to measure it exactly.
PROMPT_OVERHEAD_CHARS = 2400
CHARS_PER_TOKEN = 4


def _attached_figures(document: Document, indices: list[int]) -> tuple[str, ...]:
    ids: list[str] = []
    for i, index in enumerate(indices):
        for ref in document.sections[index].figures:
            # Context sections lend their own figures; cited ones stay with their section.
            if ref.path is not None and ref.id not in ids and (i == 0 or ref.placement == "placed"):
                ids.append(ref.id)
    return tuple(ids)


def plan_requests(
    document: Document,
    question_types: tuple[QuestionType, ...],
    questions_per_request: int,
    limit_sections: int = 0,
) -> list[PlannedRequest]:
    """Requests for a document's sections (its first ``limit_sections`` only, when above 0)."""
    requests: list[PlannedRequest] = []
    sections = document.sections[:limit_sections] if limit_sections else document.sections
    for section in sections:
        related = [r.index for r in section.related]
        for qt in question_types:
            context = QUESTION_TYPE_SPECS[qt].context
            if context is ContextKind.FACTS:
                for start in range(0, len(section.facts), questions_per_request):
                    group = tuple(range(start, min(start + questions_per_request, len(section.facts))))
                    figures = _attached_figures(document, [section.index])
                    requests.append(PlannedRequest(document.name, section.index, qt, (), group, len(group), figures))
                continue
            if context is ContextKind.SECTION_PAIR:
                if not related:
                    continue
                others = related[:1]
            elif context is ContextKind.SECTION_WITH_RELATED:
                others = related
            else:
                others = []
            figures = _attached_figures(document, [section.index, *others])
            requests.append(
                PlannedRequest(document.name, section.index, qt, tuple(others), (), questions_per_request, figures)
            )
    return requests


def estimate_prompt_tokens(document: Document, request: PlannedRequest) -> int:
    """Text tokens of a request's prompt, estimated as characters / 4 (images not counted)."""
    section = document.sections[request.section_index]
    chars = PROMPT_OVERHEAD_CHARS + len(section.text)
    chars += sum(len(document.sections[i].text) for i in request.related)
    chars += sum(len(section.facts[i].text) for i in request.facts)
    return chars // CHARS_PER_TOKEN


def count_by_type(requests: list[PlannedRequest]) -> dict[str, int]:
    counts = Counter(r.question_type.value for r in requests)
    return dict(sorted(counts.items()))

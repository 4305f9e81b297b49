"""The run report: what a run asked for, what came back, what passed, and what it cost.

``build_report`` returns a JSON-ready dict (keys documented in the README) with
one entry per document, one per question type, and totals; ``format_table``
renders the compact table the CLI prints and ``format_markdown`` the
``report-<time>.md`` file. Pair counts always add up:
``pairs_accepted + sum(pair_rejections) == pairs_generated``.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Any

from models.question_types import QUESTION_TYPE_SPECS
from models.records import GatedPair, GateResult, RequestOutcome
from utilities.generation import RunStats
from utilities.quality import GATES
from utilities.type_forms import verdict
from utilities.verify import REJECTIONS as VERIFY_REJECTIONS
from utilities.verify import VerifyStats

REPORT_SCHEMA_VERSION = 4  # 3: whole-run engine_calls and reply_failures; this_process. 4: prompt_tokens_cached
STAGES = (*GATES, *VERIFY_REJECTIONS)  # every reason a generated pair can be rejected for, in order


def _empty_row() -> dict[str, Any]:
    return {
        "requests": 0,
        "requests_accepted": 0,
        "requests_rejected": Counter(),
        "pairs_generated": 0,
        "pairs_accepted": 0,
        "pair_rejections": Counter({stage: 0 for stage in STAGES}),
        "grounding_sum": 0.0,
        "difficulty": Counter(),
        "verdicts": Counter(),
        "images_attached": 0,
        "prompt_tokens": 0,
        "prompt_tokens_cached": 0,
        "completion_tokens": 0,
    }


def _finish(row: dict[str, Any]) -> dict[str, Any]:
    accepted = row["pairs_accepted"]
    out = {k: v for k, v in row.items() if k != "grounding_sum"}
    out["requests_rejected"] = dict(sorted(row["requests_rejected"].items()))
    out["pair_rejections"] = dict(row["pair_rejections"])
    out["difficulty"] = dict(sorted(row["difficulty"].items()))
    out["verdicts"] = dict(sorted(row["verdicts"].items()))
    out["mean_grounding"] = round(row["grounding_sum"] / accepted, 1) if accepted else None
    completion = row["completion_tokens"]
    out["accepted_pairs_per_1k_completion_tokens"] = round(1000 * accepted / completion, 2) if completion else None
    return out


class Tally:
    """The report's counts, added one part of the run at a time, so memory does not grow with the run.

    Every figure covers the whole run, earlier interrupted processes included: requests,
    engine calls and reply failures are counted from the journaled attempts. Only
    ``this_process`` describes the process that writes the report.
    """

    def __init__(self) -> None:
        self.by_document: dict[str, dict[str, Any]] = {}
        self.by_type: dict[str, dict[str, Any]] = {}
        self.total = _empty_row()
        self.engine_calls = 0
        self.reply_failures: Counter = Counter()

    def _rows(self, outcome: RequestOutcome) -> list[dict[str, Any]]:
        planned = outcome.request.planned
        return [
            self.by_document.setdefault(planned.document, _empty_row()),
            self.by_type.setdefault(planned.question_type.value, _empty_row()),
            self.total,
        ]

    def add(self, outcomes: list[RequestOutcome], gates: GateResult) -> None:
        for outcome in outcomes:
            self.engine_calls += len(outcome.attempts)
            self.reply_failures.update(a.reason for a in outcome.attempts if a.reason)
            for row in self._rows(outcome):
                row["requests"] += 1
                row["prompt_tokens"] += sum(a.prompt_tokens for a in outcome.attempts)
                row["prompt_tokens_cached"] += sum(a.cached_tokens for a in outcome.attempts)
                row["completion_tokens"] += sum(a.completion_tokens for a in outcome.attempts)
                if outcome.status == "accepted":
                    row["requests_accepted"] += 1
                    row["pairs_generated"] += len(outcome.pairs)
                else:
                    row["requests_rejected"][outcome.reason or "unknown"] += 1
        for gated in [*gates.accepted, *gates.rejected]:
            self._add_pair(gated)

    def _add_pair(self, gated: GatedPair) -> None:
        spec = QUESTION_TYPE_SPECS[gated.outcome.request.planned.question_type]
        for row in self._rows(gated.outcome):
            if gated.gate is None:
                row["pairs_accepted"] += 1
                row["grounding_sum"] += gated.grounding
                row["difficulty"][spec.difficulty.value] += 1
                judged = verdict(gated.pair.question, gated.pair.answer)
                if judged:
                    row["verdicts"][judged] += 1
                row["images_attached"] += len(gated.pair.figures)
            else:
                row["pair_rejections"][gated.gate] += 1

    def report(
        self,
        stats: RunStats,
        engine: dict[str, Any],
        settings: dict[str, Any],
        resumed: int = 0,
        verify: VerifyStats | None = None,
        sections_skipped: dict[str, list[dict[str, Any]]] | None = None,
    ) -> dict[str, Any]:
        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "engine": engine,
            "settings": settings,
            "resumed_requests": resumed,
            "engine_calls": self.engine_calls,
            "reply_failures": dict(sorted(self.reply_failures.items())),
            "this_process": {
                "wall_seconds": round(stats.wall_s, 1),
                "engine_calls": stats.sent,
                "reply_failures": dict(sorted(stats.failures_by_reason.items())),
                "prompt_tokens": stats.prompt_tokens,
                "prompt_tokens_cached": stats.cached_tokens,
                "completion_tokens": stats.completion_tokens,
            },
            "documents": {name: _finish(row) for name, row in self.by_document.items()},
            "question_types": {name: _finish(row) for name, row in sorted(self.by_type.items())},
            "totals": _finish(self.total),
            "verify": _verify_summary(verify or VerifyStats(), self.total),
            "sections_skipped": sections_skipped or {},
        }


def build_report(
    outcomes: list[RequestOutcome],
    gates: GateResult,
    stats: RunStats,
    engine: dict[str, Any],
    settings: dict[str, Any],
    resumed: int = 0,
    verify: VerifyStats | None = None,
) -> dict[str, Any]:
    """The report of a run held whole in memory (``--curate``, tests)."""
    tally = Tally()
    tally.add(outcomes, gates)
    return tally.report(stats, engine, settings, resumed, verify)


def _verify_summary(verify: VerifyStats, total: dict[str, Any]) -> dict[str, Any]:
    """The verify pass's counts, and the yield over generation and verify tokens together."""
    out = verify.to_dict()
    completion = total["completion_tokens"] + verify.completion_tokens
    out["all_completion_tokens"] = completion
    out["kept_pairs_per_1k_all_completion_tokens"] = (
        round(1000 * total["pairs_accepted"] / completion, 2) if completion else None
    )
    return out


_SHORT = {
    "self_contained": "self-cont",
    "evidence_support": "support",
    "degenerate": "degen",
    "tautology": "taut",
    "answerability": "answer.",
    "verify_failed": "v-fail",
}
_COLUMNS = (
    ("requests", "req"),
    ("requests_rejected", "req rej"),
    ("pairs_generated", "pairs"),
    ("pairs_accepted", "kept"),
    *((stage, _SHORT.get(stage, stage)) for stage in STAGES),
    ("mean_grounding", "ground"),
    ("images_attached", "imgs"),
)


def _cells(row: dict[str, Any]) -> list[str]:
    cells = []
    for key, _ in _COLUMNS:
        if key in STAGES:
            value: Any = row["pair_rejections"][key]
        elif key == "requests_rejected":
            value = sum(row["requests_rejected"].values())
        else:
            value = row[key]
        cells.append("-" if value is None else str(value))
    return cells


def _table(report: dict[str, Any], markdown: bool) -> list[str]:
    header = ["", *(title for _, title in _COLUMNS)]
    body = [[name, *_cells(row)] for name, row in report["documents"].items()]
    body += [[name, *_cells(row)] for name, row in report["question_types"].items()]
    body.append(["TOTAL", *_cells(report["totals"])])
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return lines + ["| " + " | ".join(row) + " |" for row in body]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    fmt = "  ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths))
    return [fmt.format(*header)] + [fmt.format(*row) for row in body]


def _evaluated(row: dict[str, Any]) -> str:
    sent, evaluated = row["prompt_tokens"], row["prompt_tokens"] - row["prompt_tokens_cached"]
    return f"{evaluated:,}, {100 * evaluated / sent:.0f}%" if sent else "0"


def _summary(report: dict[str, Any]) -> str:
    t, v = report["totals"], report["verify"]
    per_1k = v["kept_pairs_per_1k_all_completion_tokens"]
    verified = (
        f"verify ({', '.join(v['modes'])}): {v['requests']} requests, {v['completion_tokens']:,} completion tokens, "
        + ", ".join(f"{k} {n}" for k, n in v["rejections"].items())
        + "; "
        if v["modes"]
        else "verify: none; "
    )
    return (
        f"{t['pairs_accepted']} of {t['pairs_generated']} generated pairs kept; "
        f"{t['prompt_tokens']:,} prompt tokens sent ({_evaluated(t)} evaluated, the rest reused from the engine's "
        f"prefix cache) + {t['completion_tokens']:,} completion tokens "
        f"(this process: {report['this_process']['wall_seconds']} s); "
        + verified
        + f"{per_1k if per_1k is not None else '-'} kept pairs per 1,000 completion tokens (generation and verify); "
        f"engine {report['engine'].get('backend')}"
    )


MIN_VERDICTS = 6  # kept true-or-false verdicts before their balance is worth a warning (6 of 6 alike: 3% by chance)
LOPSIDED_SHARE = 0.9  # ... when one verdict is at least this share of them


def lopsided_verdicts(report: dict[str, Any]) -> str | None:
    """A warning when the kept true-or-false items nearly all have one answer: a model trained on them learns
    that answer, not the statements (a small model copies a sentence of its source and answers True)."""
    verdicts = report["totals"]["verdicts"]
    total = sum(verdicts.values())
    if total < MIN_VERDICTS:
        return None
    answer, count = max(verdicts.items(), key=lambda item: item[1])
    if count < LOPSIDED_SHARE * total:
        return None
    return (
        f"{count} of the {total} kept true-or-false items are answered {answer}: a model trained on them learns to "
        f"answer {answer}; balance them with a model that writes false statements, or leave out "
        "TRUE_FALSE_FILL_BLANK"
    )


def format_table(report: dict[str, Any]) -> str:
    warning = lopsided_verdicts(report)
    return "\n".join([*_table(report, markdown=False), _summary(report), *([f"warning: {warning}"] if warning else [])])


def format_markdown(report: dict[str, Any]) -> str:
    engine = ", ".join(f"{k}={v}" for k, v in report["engine"].items())
    failures = ", ".join(f"{k} {v}" for k, v in report["reply_failures"].items()) or "none"
    return "\n".join(
        [
            f"# Run report {report['created']}",
            "",
            _summary(report),
            *([f"\n**Warning:** {warning}"] if (warning := lopsided_verdicts(report)) else []),
            "",
            "Rows: documents, then question types, then the total. `req rej`: requests rejected after every retry;",
            "`pairs`: pairs in accepted replies; `kept`: pairs that passed every gate and verifier; gate and",
            "verifier columns: pairs each rejected; `ground`: mean grounding score of kept pairs; `imgs`: images in",
            "kept records.",
            "",
            *_table(report, markdown=True),
            "",
            f"Reply failures, retried or not: {failures}. Engine calls: {report['engine_calls']}.",
            "",
            f"Engine: {engine}",
            "",
        ]
    )

"""The verify pass: a second, schema-constrained engine call about each pair that survived the gates.

Three verifiers, chosen by ``VERIFY`` (``auto``: ``AUTO_VERIFIERS`` where the engine ``verifies_by_default``):

- ``answerability`` (round-trip consistency, Alberti et al. 2019): the engine
  answers the pair's question from its section and cited sentences alone,
  without seeing the pair's answer. The pair is kept when the engine says the
  source answers it and its answer agrees with the pair's: content-word F1 at
  least ``VERIFY_AGREEMENT``, or every content word of the shorter answer in
  the longer (so "Ride." agrees with "Ride, the company that built it.").
- ``judge``: the engine reads the section, the question and the answer and
  rates ``JUDGE_CRITERIA`` (faithful, self-contained, useful) 1-5, each with a
  one-line reason decoded before its score. The pair is kept when every score
  is at least ``JUDGE_MIN_SCORE``.
- ``locate`` (extractive round trip): the engine sees the numbered sentences the
  pair's request could cite and the question, never the answer, and names the
  one sentence that answers it (0 for none): a few tokens of reply, and every
  pair of a section shares the list as its prompt's prefix. The pair is kept
  when that sentence is among its supporting evidence or supports its answer
  on its own (the evidence-support gate's test).

Verify requests go through the same engine interface in bulk, are re-sent with a
new seed when a reply fails to parse (up to ``MAX_RETRIES``), and are journaled
like generation requests (key ``verify:<mode>:<pair id>``), so a killed run
resumes without repeating them. A pair whose verify reply never parsed is
rejected (``verify_failed``): an unverified pair is not a verified one. Every
verifier's reply is kept on the pair: in the rejects file for rejected pairs and
under ``metadata.verify`` for kept ones.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from models.question_types import QUESTION_TYPE_SPECS
from models.records import Attempt, GatedPair, GateResult, ParseOutcome
from models.schemas import (
    build_answerability_model,
    build_judge_model,
    build_locate_model,
    describe_object,
    reply_json_schema,
)
from utilities import engines
from utilities.config import AUTO_VERIFIERS, VERIFIERS, Config, GateSettings, RunSettings, VerifyChoice
from utilities.engines.base import Engine, EngineRequest, EngineResult, TextPart
from utilities.engines.sending import Retrying, send_with_retries
from utilities.errors import ConfigError
from utilities.facts import quotable_sentences
from utilities.logger import get_logger
from utilities.prompts import PROMPTS_DIR, SamplingSettings, attempt_seed
from utilities.quality import check_evidence_support
from utilities.replies import decode_json
from utilities.text_checks import content_words

log = get_logger(__name__)

REJECTIONS = (*VERIFIERS, "verify_failed")  # the pair rejections this pass adds to the gates'
VERIFY_TEMPERATURE = 0.1  # near-greedy: a verdict should not depend on sampling luck
VERIFY_MAX_TOKENS = 640

EngineSource = Callable[[], Engine]


@dataclass(frozen=True)
class VerifySettings:
    """The verify pass as a run resolves it: the verifiers (``auto`` chosen per engine) and the settings it
    reads, as declared (``VerifyChoice``'s thresholds, ``MAX_RETRIES``, ``SEED``)."""

    modes: tuple[str, ...] = ()
    choice: VerifyChoice = field(default_factory=VerifyChoice)
    max_retries: int = RunSettings().max_retries
    seed: int = SamplingSettings().seed
    support_floor: float = GateSettings().evidence_support_floor  # locate: the sentence it names must support

    def to_dict(self) -> dict[str, Any]:
        """What a curate journal's key records of the pass (the keys it always had)."""
        return {
            "modes": list(self.modes),
            "agreement": self.choice.verify_agreement,
            "judge_min_score": self.choice.judge_min_score,
            "max_retries": self.max_retries,
            "seed": self.seed,
        }

    def fingerprint(self) -> dict[str, Any]:
        """What of the verify pass goes into a journal's key: its settings and each verifier's system prompt."""
        prompts = {mode: hashlib.sha256(load_system_prompt(mode).encode()).hexdigest() for mode in self.modes}
        return {"verify": self.to_dict(), "verify_prompts": prompts}

    @classmethod
    def from_config(cls, config: Config, backend: str) -> VerifySettings:
        modes = config.verifying.verify
        if modes == ("auto",):
            modes = AUTO_VERIFIERS if engines.verifies_by_default(backend) else ()
        elif modes == ("none",):
            modes = ()
        return cls(
            modes, config.verifying, config.run.max_retries, config.sampling.seed, config.gates.evidence_support_floor
        )


@dataclass
class Verdict:
    key: str
    mode: str
    status: str  # "done" (a reply parsed) or "failed" (none did, after every retry)
    reply: dict[str, Any] | None = None
    attempts: list[Attempt] = field(default_factory=list)

    def to_entry(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": "verify",
            "mode": self.mode,
            "status": self.status,
            "reply": self.reply,
            "attempts": [a.to_dict() for a in self.attempts],
        }

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> Verdict:
        attempts = [Attempt(**a) for a in entry["attempts"]]
        return cls(entry["key"], entry["mode"], entry["status"], entry["reply"], attempts)


@dataclass
class VerifyStats:
    modes: tuple[str, ...] = ()
    requests: int = 0  # verify requests of this run's pairs, resumed ones included
    resumed: int = 0
    sent: int = 0  # engine calls made by this process, retries included
    unfinished: int = 0  # left for the next run: the engine failed or the run was stopped
    last_engine_error: str = ""
    # Over every verdict's attempts, those of earlier processes of the run included:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failures_by_reason: Counter = field(default_factory=Counter)
    rejections: Counter = field(default_factory=Counter)

    def add(self, other: VerifyStats) -> None:
        """Count another part of the run (the pipeline verifies a group of documents at a time)."""
        for name in ("requests", "resumed", "sent", "unfinished", "calls", "prompt_tokens", "completion_tokens"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.last_engine_error = other.last_engine_error or self.last_engine_error
        self.failures_by_reason.update(other.failures_by_reason)
        self.rejections.update(other.rejections)

    def to_dict(self) -> dict[str, Any]:
        return {
            "modes": list(self.modes),
            "requests": self.requests,
            "resumed": self.resumed,
            "engine_calls": self.calls,
            "engine_calls_this_process": self.sent,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "reply_failures": dict(sorted(self.failures_by_reason.items())),
            "rejections": {name: self.rejections[name] for name in REJECTIONS},
        }


def verify_key(mode: str, gated: GatedPair) -> str:
    return f"verify:{mode}:{gated.id}"


@dataclass(frozen=True)
class VerifyRequest:
    key: str
    mode: str
    gated: GatedPair
    model: type[BaseModel]
    system: str
    text: str


def load_system_prompt(mode: str) -> str:
    path = PROMPTS_DIR / f"verify_{mode}.md"
    if not path.is_file():
        raise ConfigError(f"prompt for the {mode} verifier is missing: {path}")
    return path.read_text(encoding="utf-8").strip()


def _heading(gated: GatedPair, what: str) -> str:
    title = gated.outcome.request.document_title
    return f"# {what} from {title!r}" if title else f"# {what}"


def _source_text(gated: GatedPair) -> str:
    """The section and the pair's cited sentences (answerability, judge)."""
    cited = "\n".join(f"- {quote}" for quote in gated.pair.evidence)
    context = gated.outcome.request.context[0]
    return f"{_heading(gated, 'Source material')}\n\n{context}\n\n## Sentences cited for this pair\n\n{cited}\n"


def located_choices(gated: GatedPair) -> tuple[str, ...]:
    """The sentences the locate verifier numbers: those the pair's request could cite, in its order."""
    request = gated.outcome.request
    return request.quotes or tuple(s for text in request.context for s in quotable_sentences(text))


def build_verify_request(mode: str, gated: GatedPair, system: str) -> VerifyRequest:
    """The prompt and reply model of one verifier for one pair (pure: no engine, no I/O)."""
    pair = gated.pair
    body = f"# Question\n\n{pair.question}\n"
    if mode == "locate":  # the numbered sentences first: a prefix every pair of a section shares
        choices = located_choices(gated)
        model = build_locate_model(len(choices))
        listed = "\n".join(f"[{i}] {sentence}" for i, sentence in enumerate(choices, 1))
        source = f"{_heading(gated, 'Source sentences')}\n\n{listed}\n"
    elif mode == "answerability":
        budget = QUESTION_TYPE_SPECS[gated.outcome.request.planned.question_type].answer
        model, source = build_answerability_model(budget.max_chars), _source_text(gated)
    elif mode == "judge":
        model, source = build_judge_model(), _source_text(gated)
        body += f"\n# Answer\n\n{pair.answer}\n"
    else:
        raise ValueError(f"unknown verifier {mode!r}")
    shape = describe_object(reply_json_schema(model))
    text = f"{source}\n{body}\n{shape}\n"
    return VerifyRequest(verify_key(mode, gated), mode, gated, model, system, text)


def engine_request(item: VerifyRequest, seed: int, attempt: int) -> EngineRequest:
    return EngineRequest(
        id=f"{item.key}@{attempt}",
        system=item.system,
        parts=(TextPart(item.text),),
        schema=reply_json_schema(item.model),
        max_tokens=VERIFY_MAX_TOKENS,
        temperature=VERIFY_TEMPERATURE,
        top_p=1.0,
        seed=attempt_seed(seed, item.key, attempt),
        # one verifier's requests about one section share its system prompt and the section: route them together
        cache_group=f"{item.mode}:{item.gated.outcome.request.planned.section_id}",
    )


def parse_verdict(item: VerifyRequest, result: EngineResult) -> tuple[dict[str, Any] | None, ParseOutcome]:
    """(the validated reply as a dict, a success) or (None, why it failed), as generation replies are read."""
    data, failed = decode_json(result)
    if failed is not None:
        return None, failed
    try:
        reply = item.model.model_validate(data)
    except ValidationError as exc:
        return None, ParseOutcome(reason="schema_violation", detail=str(exc.errors()[0]["msg"])[:500])
    return reply.model_dump(mode="json"), ParseOutcome()


def agreement(answer: str, other: str) -> float:
    """How far two answers say the same thing: content-word F1, or 1.0 when the shorter's words are all
    in the longer (a short correct fact against a full sentence).

    >>> agreement("Ride.", "Ride built the first prototype.")
    1.0
    >>> round(agreement("The reserve price is BLOB_BASE_COST times the base fee.", "It doubles each block."), 2)
    0.0
    """
    a, b = _stems(answer), _stems(other)
    if not a or not b:
        return 0.0
    common = len(a & b)
    if common == min(len(a), len(b)) and min(len(a), len(b)) <= 3:
        return 1.0
    precision, recall = common / len(b), common / len(a)
    return 0.0 if not common else 2 * precision * recall / (precision + recall)


def _stems(text: str) -> set[str]:
    return {w[:-1] if w.endswith("s") and len(w) > 3 else w for w in content_words(text)}


def judge_problem(mode: str, reply: dict[str, Any], gated: GatedPair, settings: VerifySettings) -> str | None:
    """Why the verifier's reply rejects the pair, or None when it keeps it."""
    if mode == "locate":
        number = reply["sentence"]
        if not number:
            return "the verifier found no sentence that answers the question"
        sentence = located_choices(gated)[number - 1]
        if sentence in gated.evidence:
            return None
        _, problem = check_evidence_support(gated.pair, [sentence], settings.support_floor)
        if problem is None:
            return None
        return f"the verifier located the answer in sentence {number}, which does not support it: {sentence[:100]!r}"
    if mode == "answerability":
        if not reply["answerable"]:
            return "the verifier found no answer to the question in the source"
        score = agreement(gated.pair.answer, reply["answer"])
        if score < settings.choice.verify_agreement:
            return f"the source's answer disagrees (agreement {score:.2f}): {reply['answer'][:120]!r}"
        return None
    low = {name: r for name, r in reply.items() if r["score"] < settings.choice.judge_min_score}
    if low:
        return "; ".join(f"{name} {r['score']}: {r['reason']}" for name, r in low.items())
    return None


def verify_pairs(
    gates: GateResult,
    engine: EngineSource,
    settings: VerifySettings,
    finished: Mapping[str, dict[str, Any]],
    on_final: Callable[[Verdict], None],
    stop: threading.Event | None = None,
) -> VerifyStats:
    """Verify every accepted pair of ``gates`` and move the ones a verifier rejects to ``gates.rejected``.

    ``finished``: journal entries by key (verdicts of an earlier run are reused); ``engine`` is called
    only when some verdict is missing. When the run is stopped or the engine fails, ``gates`` is left
    untouched and ``stats.unfinished`` says how many verdicts are missing.
    """
    stats = VerifyStats(modes=settings.modes)
    if not settings.modes or not gates.accepted:
        return stats
    systems = {mode: load_system_prompt(mode) for mode in settings.modes}
    items = [build_verify_request(m, g, systems[m]) for g in gates.accepted for m in settings.modes]
    verdicts = {item.key: Verdict.from_entry(e) for item in items if (e := finished.get(item.key)) is not None}
    todo = [item for item in items if item.key not in verdicts]
    stats.requests, stats.resumed = len(items), len(items) - len(todo)
    if todo:
        log.info("verify (%s): %d requests, %d from the journal", ", ".join(settings.modes), len(items), stats.resumed)
        _run(todo, engine(), settings, verdicts, on_final, stats, stop)
    stats.unfinished = sum(item.key not in verdicts for item in items)
    for verdict in (verdicts[i.key] for i in items if i.key in verdicts):
        stats.calls += len(verdict.attempts)
        stats.prompt_tokens += sum(a.prompt_tokens for a in verdict.attempts)
        stats.completion_tokens += sum(a.completion_tokens for a in verdict.attempts)
        stats.failures_by_reason.update(a.reason for a in verdict.attempts if a.reason)
    if not stats.unfinished:
        _apply(gates, items, verdicts, settings, stats)
    return stats


def _run(
    todo: list[VerifyRequest],
    engine: Engine,
    settings: VerifySettings,
    verdicts: dict[str, Verdict],
    on_final: Callable[[Verdict], None],
    stats: VerifyStats,
    stop: threading.Event | None,
) -> None:
    history: dict[str, list[Attempt]] = {item.key: [] for item in todo}
    started = time.perf_counter()

    def finish(item: VerifyRequest, request: EngineRequest, result: EngineResult, attempt: int, last: bool) -> bool:
        stats.sent += 1
        reply, parsed = parse_verdict(item, result)
        history[item.key].append(Attempt.from_result(attempt, request.seed, parsed, result))
        if reply is None and not last:
            return False
        verdict = Verdict(item.key, item.mode, "done" if reply is not None else "failed", reply, history[item.key])
        verdicts[item.key] = verdict
        on_final(verdict)
        return True

    how = Retrying(
        build=lambda item, attempt: engine_request(item, settings.seed, attempt),
        engine_request=lambda request: request,
        finish=finish,
        what="verify request(s)",
    )
    send_with_retries(todo, how, engine, settings.max_retries, stop).count_into(stats)
    log.info("verify: %d engine calls in %.1f s", stats.sent, time.perf_counter() - started)


def _apply(
    gates: GateResult,
    items: list[VerifyRequest],
    verdicts: dict[str, Verdict],
    settings: VerifySettings,
    stats: VerifyStats,
) -> None:
    by_pair: dict[int, list[VerifyRequest]] = {}
    for item in items:
        by_pair.setdefault(id(item.gated), []).append(item)
    kept: list[GatedPair] = []
    for gated in gates.accepted:
        for item in by_pair[id(gated)]:
            verdict = verdicts[item.key]
            gated.verify[item.mode] = verdict.reply
            if gated.gate is not None:
                continue
            if verdict.status != "done" or verdict.reply is None:
                gated.gate, gated.detail = "verify_failed", f"no valid {item.mode} reply after every retry"
            elif (problem := judge_problem(item.mode, verdict.reply, gated, settings)) is not None:
                gated.gate, gated.detail = item.mode, problem
        if gated.gate is None:
            kept.append(gated)
        else:
            stats.rejections[gated.gate] += 1
            gates.rejected.append(gated)
    gates.accepted = kept

"""Run planned requests through an engine, with content retries and full accounting.

Every planned request ends in exactly one of three states: ``accepted`` (its
reply parsed and validated), ``rejected`` (with the reason of its last failure,
and every raw reply kept for the rejects file), or unfinished: the engine itself
failed (a transient error) or the run was stopped before the request finished.
Unfinished requests are not rejected; the next run does them. A content failure
(invalid JSON, truncation, schema violation, an error the engine gave for this
request) re-sends only that request, with a new seed, up to ``max_retries``
times; the others are recorded as they arrive and never wait for it. So does,
once (``ACCIDENT_RESENDS``), a valid reply most of whose pairs are sampling
accidents (a looping, degenerate or cut-off answer:
``text_checks.sampling_accident``), counted as ``sampling_accident``; a second
such reply is accepted and the gates judge its pairs one by one. Any other gate rejection is final: a re-send would
pay again for a pair the model will not write better. Each final outcome is
handed to ``on_final`` (the journal) as soon as it is known.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from models.records import Attempt, BuiltRequest, ParsedPair, ParseOutcome, PlannedRequest, RequestOutcome
from utilities.engines.base import Engine, EngineResult
from utilities.engines.sending import Retrying, send_with_retries
from utilities.logger import format_duration, get_logger
from utilities.progress import progress_bar
from utilities.replies import parse_reply
from utilities.text_checks import sampling_accident

log = get_logger(__name__)

PROGRESS_EVERY_S = 30.0
# A new seed fixes a loop once if it fixes it at all: measured on the shared documents with SmolLM2,
# 15 re-sends of 27 requests (up to MAX_RETRIES each) bought no pair that passed the gates.
ACCIDENT_RESENDS = 1

Builder = Callable[[PlannedRequest, int], BuiltRequest]


@dataclass
class RunStats:
    requests: int = 0
    resumed: int = 0  # requests an earlier run finished (from the journal)
    accepted_requests: int = 0
    rejected_requests: int = 0
    unfinished_requests: int = 0
    last_engine_error: str = ""
    pairs: int = 0
    sent: int = 0  # engine calls, retries included
    rejects_by_reason: Counter = field(default_factory=Counter)
    failures_by_reason: Counter = field(default_factory=Counter)  # every failed attempt, retried or not
    resent_for_accidents: int = 0  # re-sends because most pairs of a valid reply were sampling accidents
    prompt_tokens: int = 0  # sent
    cached_tokens: int = 0  # of those, reused from the engine's prefix cache
    completion_tokens: int = 0
    wall_s: float = 0.0

    def throughput(self) -> str:
        """What this run sent and how fast: engine calls, tokens, time, rates."""
        rate = self.completion_tokens / self.wall_s if self.wall_s else 0.0
        rps = self.sent / self.wall_s if self.wall_s else 0.0
        return (
            f"{self.sent} engine calls, {self.prompt_tokens:,} prompt ({evaluated_share(self)} evaluated) + "
            f"{self.completion_tokens:,} completion tokens "
            f"in {self.wall_s:.1f} s ({rps:.2f} requests/s, {rate:.1f} completion tokens/s)"
        )

    def summary(self) -> str:
        rejects = ", ".join(f"{k} {v}" for k, v in sorted(self.rejects_by_reason.items())) or "none"
        unfinished = f", {self.unfinished_requests} unfinished" if self.unfinished_requests else ""
        return (
            f"{self.requests} requests: {self.accepted_requests} accepted, {self.rejected_requests} rejected "
            f"(rejects: {rejects}){unfinished}; {self.pairs} pairs; {self.throughput()}"
        )


def evaluated_share(stats: RunStats) -> str:
    """The share of prompt tokens the engine evaluated rather than reused: ``"37%"``."""
    if not stats.prompt_tokens:
        return "-"
    return f"{100 * (stats.prompt_tokens - stats.cached_tokens) / stats.prompt_tokens:.0f}%"


# Requests built and sent together: enough to keep any engine's slots full (lmdeploy's batch is 256,
# MAX_CONCURRENCY 64), few enough that memory stays flat however many requests a run has.
WINDOW = 1024


@dataclass
class _Progress:
    """Counts finished requests and logs a progress line every ``every_s`` seconds (never when None)."""

    total: int
    every_s: float | None
    started: float = field(default_factory=time.perf_counter)
    done: int = 0
    last: float = 0.0

    def finished(self, stats: RunStats) -> None:
        self.done += 1
        now = time.perf_counter()
        if self.every_s is not None and now - max(self.last, self.started) >= self.every_s:
            self.last = now
            elapsed = now - self.started
            log.info(
                "progress: %d of %d requests finished, %d engine calls, %.1f completion tokens/s, "
                "%s of prompt tokens evaluated, about %s left",
                self.done,
                self.total,
                stats.sent,
                stats.completion_tokens / elapsed,
                evaluated_share(stats),
                format_duration(elapsed * (self.total - self.done) / self.done),
            )


@dataclass
class _Generation:
    """One generate_all call: where results go, and the counts so far."""

    engine: Engine
    build: Builder
    max_retries: int
    on_final: Callable[[RequestOutcome], None]
    on_progress: Callable[[RequestOutcome | None, RunStats], None] | None
    stats: RunStats
    progress: _Progress

    def window(self, planned: list[PlannedRequest], stop: threading.Event | None) -> None:
        """One window's requests, re-sending content failures until each is final or out of attempts."""
        history: list[list[Attempt]] = [[] for _ in planned]

        def finish(index: int, built: BuiltRequest, result: EngineResult, attempt: int, last: bool) -> bool:
            outcome = _record(built, result, attempt, history[index], self.stats, self.max_retries)
            final = outcome.status == "accepted" or last
            if final:
                _count_final(outcome, self.stats)
                self.on_final(outcome)
                self.progress.finished(self.stats)
            if self.on_progress is not None:
                self.on_progress(outcome if final else None, self.stats)
            return final

        how = Retrying(
            build=lambda index, attempt: self.build(planned[index], attempt),
            engine_request=lambda built: built.engine_request,
            finish=finish,
        )
        send_with_retries(range(len(planned)), how, self.engine, self.max_retries, stop).count_into(self.stats)


def generate_all(
    planned: list[PlannedRequest],
    engine: Engine,
    build: Builder,
    max_retries: int,
    on_final: Callable[[RequestOutcome], None],
    stop: threading.Event | None = None,
    on_progress: Callable[[RequestOutcome | None, RunStats], None] | None = None,
    log_every_s: float | None = PROGRESS_EVERY_S,
) -> RunStats:
    """Send every planned request, ``WINDOW`` at a time; each final outcome goes to ``on_final``.

    Nothing is kept here once it is handed on, so memory does not grow with the run.
    ``on_progress`` sees every engine result (with the outcome when it is final);
    a progress line is logged every ``log_every_s`` seconds unless that is None.
    """
    stats = RunStats(requests=len(planned))
    progress = _Progress(len(planned), log_every_s)
    run = _Generation(engine, build, max_retries, on_final, on_progress, stats, progress)
    for start in range(0, len(planned), WINDOW):
        if stop is not None and stop.is_set():
            break
        run.window(planned[start : start + WINDOW], stop)
    stats.wall_s = time.perf_counter() - progress.started
    stats.unfinished_requests = len(planned) - stats.accepted_requests - stats.rejected_requests
    return stats


def generate_with_progress(
    planned: list[PlannedRequest],
    engine: Engine,
    build: Builder,
    max_retries: int,
    on_final: Callable[[RequestOutcome], None],
    stop: threading.Event | None,
    progress: str,
) -> RunStats:
    """``generate_all`` with a progress bar (``PROGRESS``), or a progress line every 30 s where there is none."""
    with progress_bar(len(planned), progress) as bar:
        log_every_s = None if bar.enabled else PROGRESS_EVERY_S
        return generate_all(planned, engine, build, max_retries, on_final, stop, bar.update, log_every_s)


def _count_final(outcome: RequestOutcome, stats: RunStats) -> None:
    if outcome.status == "accepted":
        stats.accepted_requests += 1
        stats.pairs += len(outcome.pairs)
    else:
        stats.rejected_requests += 1
        stats.rejects_by_reason[outcome.reason or "unknown"] += 1


def mostly_accidents(built: BuiltRequest, pairs: tuple[ParsedPair, ...]) -> bool:
    """More than half of a reply's pairs are sampling accidents (worth a new seed, unlike a wrong answer)."""
    source = " ".join(built.context)
    accidents = sum(sampling_accident(p.question, p.answer, source) is not None for p in pairs)
    return accidents * 2 > len(pairs)


def _record(
    built: BuiltRequest,
    result: EngineResult,
    attempt: int,
    history: list[Attempt],
    stats: RunStats,
    max_retries: int,
) -> RequestOutcome:
    stats.sent += 1
    stats.prompt_tokens += result.prompt_tokens
    stats.cached_tokens += result.cached_tokens
    stats.completion_tokens += result.completion_tokens
    parsed = parse_reply(built, result)
    history.append(Attempt.from_result(attempt, built.engine_request.seed, parsed, result))
    if parsed.reason is None and attempt < min(max_retries, ACCIDENT_RESENDS) and mostly_accidents(built, parsed.pairs):
        history[-1].reason, history[-1].detail = "sampling_accident", "most pairs loop, degenerate or stop mid-sentence"
        stats.resent_for_accidents += 1
        parsed = ParseOutcome(reason="sampling_accident", detail=history[-1].detail)
    if parsed.reason is None:
        return RequestOutcome(built, "accepted", parsed.pairs, None, history)
    stats.failures_by_reason[parsed.reason] += 1
    log.debug("%s attempt %d failed: %s (%s)", built.key, attempt + 1, parsed.reason, parsed.detail)
    return RequestOutcome(built, "rejected", (), parsed.reason, history)

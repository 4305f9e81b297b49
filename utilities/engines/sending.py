"""Sending requests to an engine: content retries, and a line while none finishes.

``send_with_retries`` is the one send loop of a run: generation and verify each say
how their requests are built and what a result means (``Retrying``), and it re-sends
what is not finished, with the attempt number, up to ``max_retries`` times.
Every engine call goes through ``watched`` (``--check`` too), so a server that
accepts connections and never answers, a GPU that hangs or a CPU model working
through a long prompt is never silent: every ``WAITING_EVERY_S`` with none finished,
a line says how many requests wait on which engine, for how long, and what the
engine adds (``Engine.waiting_detail``: requests retrying and the last error).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from utilities.engines.base import Engine, EngineRequest, EngineResult, stopped
from utilities.logger import format_duration, get_logger

log = get_logger(__name__)

WAITING_EVERY_S = 30.0


def engine_label(info: dict[str, Any]) -> str:
    """``openai at http://gpu:23333/v1`` or ``embedded (model.gguf)``, from ``Engine.describe()``.

    >>> engine_label({"backend": "openai", "base_urls": ["http://a/v1", "http://b/v1"]})
    'openai at http://a/v1, http://b/v1'
    >>> engine_label({"backend": "embedded", "model": "/cache/qwen.gguf"})
    'embedded (qwen.gguf)'
    """
    backend = str(info.get("backend", "the engine"))
    if urls := info.get("base_urls"):
        return f"{backend} at {', '.join(urls)}"
    if model := info.get("model"):
        return f"{backend} ({Path(str(model)).name})"
    return backend


class _Watch:
    """How many of one call's requests are unfinished and when one last finished; a thread says so."""

    def __init__(self, engine: Engine, total: int, what: str):
        self.engine = engine
        self.label = engine_label(engine.describe())
        self.what = what
        self.total = self.unfinished = total
        self.sent = self.last = time.monotonic()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._say, name="waiting-notice", daemon=True)

    def __enter__(self) -> _Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def finished(self) -> None:
        self.unfinished -= 1
        self.last = time.monotonic()

    def _say(self) -> None:
        said = self.sent
        while not self._done.wait(max(0.0, max(self.last, said) + WAITING_EVERY_S - time.monotonic())):
            now = time.monotonic()
            if self.unfinished > 0 and now - max(self.last, said) >= WAITING_EVERY_S:
                said = now
                log.warning("%s", self.line(now))

    def line(self, now: float) -> str:
        if self.unfinished == self.total:
            waited = f"sent {format_duration(now - self.sent)} ago, none finished yet"
        else:
            waited = f"none finished in the last {format_duration(now - self.last)}"
        detail = self.engine.waiting_detail()
        return f"waiting on {self.label}: {self.unfinished} {self.what} unfinished, {waited}" + (
            f"; {detail}" if detail else ""
        )


def watched(
    engine: Engine, requests: list[EngineRequest], stop: threading.Event | None, what: str = "request(s)"
) -> Iterator[tuple[int, EngineResult]]:
    """``engine.generate(requests, stop)``, with a waiting line every WAITING_EVERY_S while none finishes."""
    with _Watch(engine, len(requests), what) as watch:
        for item in engine.generate(requests, stop):
            watch.finished()
            yield item


T = TypeVar("T")  # what is sent: a planned request, a verify request
B = TypeVar("B")  # it built for one attempt


@dataclass(frozen=True)
class Retrying(Generic[T, B]):
    """How one kind of request is sent and judged by ``send_with_retries``."""

    build: Callable[[T, int], B]  # the item built for an attempt (0 first)
    engine_request: Callable[[B], EngineRequest]  # what the engine is sent for it
    # Record a result; True when the item is finished (last: this was its last attempt; it must finish then).
    finish: Callable[[T, B, EngineResult, int, bool], bool]
    what: str = "request(s)"


@dataclass
class EngineFailures:
    """Results the engine failed (``EngineResult.transient``): their items stay unfinished for the next run."""

    count: int = 0
    last_error: str = ""

    def count_into(self, stats: Any) -> None:
        """Add them to a run's or a verify pass's stats (their ``sent`` and ``last_engine_error``)."""
        stats.sent += self.count
        stats.last_engine_error = self.last_error or stats.last_engine_error


def send_with_retries(
    items: Sequence[T], how: Retrying[T, B], engine: Engine, max_retries: int, stop: threading.Event | None
) -> EngineFailures:
    """Send every item; re-send those ``how.finish`` does not finish, up to ``max_retries`` times, in their
    order. An engine failure leaves its item out of the re-sends (and is counted); a stop starts no new
    attempt."""
    failures = EngineFailures()
    pending, attempt = list(items), 0
    while pending and not stopped(stop):
        if attempt:
            log.info("retrying %d %s, attempt %d of %d", len(pending), how.what, attempt + 1, max_retries + 1)
        built = [how.build(item, attempt) for item in pending]
        again: list[int] = []
        for j, result in watched(engine, [how.engine_request(b) for b in built], stop, how.what):
            if result.transient:
                failures.count += 1
                failures.last_error = result.error or "engine failure"
            elif not how.finish(pending[j], built[j], result, attempt, attempt >= max_retries):
                again.append(j)
        pending = [pending[j] for j in sorted(again)]
        attempt += 1
    return failures

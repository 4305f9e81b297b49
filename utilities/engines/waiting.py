"""A line every ``WAITING_EVERY_S`` while an engine holds requests and none finishes.

Every engine call of a run goes through ``watched`` (generation, verify and
``--check``), so a server that accepts connections and never answers, a GPU
that hangs or a CPU model working through a long prompt is never silent: the
line says how many requests wait on which engine, for how long, and what the
engine adds (``Engine.waiting_detail``: requests retrying and the last error).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from utilities.engines.base import Engine, EngineRequest, EngineResult
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
        self.unfinished = total
        self.finished_any = False
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
        self.finished_any = True
        self.last = time.monotonic()

    def _say(self) -> None:
        said = self.sent
        while not self._done.wait(max(0.0, max(self.last, said) + WAITING_EVERY_S - time.monotonic())):
            now = time.monotonic()
            if self.unfinished > 0 and now - max(self.last, said) >= WAITING_EVERY_S:
                said = now
                log.warning("%s", self.line(now))

    def line(self, now: float) -> str:
        if not self.finished_any:
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

"""A scripted engine for tests of the pipeline's logic (never for end-to-end tests).

Replies are queued with ``enqueue`` (text, or a callable of the request) and
served in request order; ``history`` records every request it saw. When the
queue is empty the ``default`` callable answers.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from utilities.engines.base import EngineRequest, EngineResult, stopped

Reply = EngineResult | str | Callable[[EngineRequest], EngineResult | str]


class FakeEngine:
    name = "fake"
    packages = ()
    verifies_by_default = False

    @staticmethod
    def auto_reason(options: None) -> str | None:
        return None  # only ever named: BACKEND=fake

    def __init__(self, default: Callable[[EngineRequest], EngineResult | str] | None = None):
        self.queue: deque[Reply] = deque()
        self.history: list[EngineRequest] = []
        self.default = default
        self.closed = False

    def enqueue(self, *replies: Reply) -> None:
        self.queue.extend(replies)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name}

    def generate(
        self, requests: list[EngineRequest], stop: threading.Event | None = None
    ) -> Iterator[tuple[int, EngineResult]]:
        for index, request in enumerate(requests):
            if stopped(stop):
                return
            self.history.append(request)
            reply: Reply | None = self.queue.popleft() if self.queue else self.default
            if reply is None:
                raise AssertionError(f"FakeEngine has no reply queued for {request.id}")
            if callable(reply) and not isinstance(reply, EngineResult):
                reply = reply(request)
            if isinstance(reply, str):
                reply = EngineResult(
                    text=reply, finish_reason="stop", prompt_tokens=10, completion_tokens=len(reply) // 4
                )
            yield index, reply

    def waiting_detail(self) -> str:
        return ""

    def close(self) -> None:
        self.closed = True

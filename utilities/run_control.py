"""Stopping a run cleanly: SIGINT/SIGTERM handling and the exit code of an unfinished run.

Shared by the generation run and ``--curate``: on the first signal no new request
starts and those in flight finish (everything finished is journaled); a second
signal abandons them at once.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

from utilities.logger import get_logger

log = get_logger("main")

EXIT_UNFINISHED = 3  # the engine failed; finished requests are journaled, rerun to resume


class StopSignal:
    """SIGINT/SIGTERM: start no new request, let those in flight finish; a second one abandons them."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignal:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if self.event.is_set():
            log.error("%s again: abandoning the requests in flight; finished ones are in the journal", name)
            os._exit(128 + signum)
        self.signum = signum
        self.event.set()
        log.warning("%s: finishing the requests in flight and starting no new ones (again to abandon them)", name)


def unfinished_exit_code(stop: StopSignal, stats: Any, verify: Any, journal_path: Path) -> int | None:
    """The exit code when the run cannot write its files yet (stopped, or the engine failed), else None.

    ``stats`` and ``verify``: the run's ``RunStats`` and ``VerifyStats`` so far.
    """
    resume = f"rerun the same command to resume (journal: {journal_path})"
    if stop.signum is not None:
        log.warning("stopped by %s: %s; %s", signal.Signals(stop.signum).name, stats.summary(), resume)
        return 128 + stop.signum
    if stats.unfinished_requests or verify.unfinished:
        missing = stats.unfinished_requests or verify.unfinished
        what = "request(s)" if stats.unfinished_requests else "verify request(s)"
        error = stats.last_engine_error or verify.last_engine_error or "engine failure"
        log.error("%d %s unfinished because the engine failed (last error: %s); %s", missing, what, error, resume)
        return EXIT_UNFINISHED
    return None

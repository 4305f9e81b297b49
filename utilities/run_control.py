"""Stopping a run cleanly: SIGINT/SIGTERM handling and the exit code of an unfinished run.

Shared by the generation run and ``--curate``: on the first signal no new request
starts and those in flight may finish for ``STOP_GRACE`` seconds (everything finished
is journaled); then, or at a second signal, they are abandoned and the process exits
at once with the resume hint.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

from utilities.logger import format_duration, get_logger

log = get_logger("main")

EXIT_UNFINISHED = 3  # the engine failed; finished requests are journaled, rerun to resume


class StopSignal:
    """SIGINT/SIGTERM: start no new request and let those in flight finish for ``grace_s`` seconds;
    then, or at a second signal, abandon them."""

    def __init__(self, journal_path: Path, grace_s: float) -> None:
        self.event = threading.Event()
        self.signum: int | None = None
        self.journal_path = journal_path
        self.grace_s = grace_s
        self._previous: dict[int, Any] = {}
        self._timer: threading.Timer | None = None

    def __enter__(self) -> StopSignal:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if self.event.is_set():
            self._abandon(f"{name} again")
        self.signum = signum
        self.event.set()
        log.warning(
            "%s: starting no new requests; waiting up to %s for those in flight (STOP_GRACE; again to abandon them)",
            name,
            format_duration(self.grace_s),
        )
        self._timer = threading.Timer(self.grace_s, self._abandon, (f"{name}, then {format_duration(self.grace_s)}",))
        self._timer.daemon = True
        self._timer.start()

    def _abandon(self, why: str) -> None:
        """Exit now: whatever finished is already in the journal (each entry is written as it arrives)."""
        log.error(
            "%s: abandoning the requests in flight; rerun the same command to resume (journal: %s)",
            why,
            self.journal_path,
        )
        os._exit(128 + (self.signum or signal.SIGTERM))


def unfinished_exit_code(stop: StopSignal, stats: Any, verify: Any, journal_path: Path) -> int | None:
    """The exit code when the run cannot write its files yet (stopped, or the engine failed), else None.

    ``stats`` and ``verify``: the run's ``RunStats`` (None for ``--curate``, which generates
    nothing) and ``VerifyStats`` so far.
    """
    resume = f"rerun the same command to resume (journal: {journal_path})"
    if stop.signum is not None:
        done = f": {stats.summary()}" if stats is not None else ""
        log.warning("stopped by %s%s; %s", signal.Signals(stop.signum).name, done, resume)
        return 128 + stop.signum
    unfinished_requests = stats.unfinished_requests if stats is not None else 0
    if unfinished_requests or verify.unfinished:
        missing = unfinished_requests or verify.unfinished
        what = "request(s)" if unfinished_requests else "verify request(s)"
        error = (stats.last_engine_error if stats is not None else "") or verify.last_engine_error or "engine failure"
        log.error("%d %s unfinished because the engine failed (last error: %s); %s", missing, what, error, resume)
        return EXIT_UNFINISHED
    return None

"""The progress bar of a generation run: requests finished, accepted, rejected, retries, tokens/s.

``PROGRESS=auto`` (the default) shows a tqdm bar on stderr when stderr is a
terminal and stays quiet otherwise, so CI logs and ``nohup`` files keep to
plain log lines (``generate_all`` logs progress every 30 s instead). ``on``
and ``off`` force it. While the bar is shown, log lines are written above it
rather than through it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator
from typing import Protocol, TextIO

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from models.records import RequestOutcome
from utilities.logger import LOGGER_NAME, is_terminal


class RunCounts(Protocol):
    """What the bar reads of the run's stats (``generation.RunStats``)."""

    sent: int
    completion_tokens: int


def bar_enabled(mode: str, stream: TextIO) -> bool:
    if mode == "on":
        return True
    if mode == "off":
        return False
    return is_terminal(stream)


class ProgressBar:
    """Counts final outcomes as they arrive; ``update`` is generate_all's ``on_progress``."""

    def __init__(self, total: int, mode: str = "auto", stream: TextIO | None = None) -> None:
        stream = stream or sys.stderr
        self.enabled = bar_enabled(mode, stream)
        self.accepted = self.rejected = 0
        self._started = time.perf_counter()
        self._bar = tqdm(
            total=total,
            unit="req",
            desc="generating",
            file=stream,
            disable=not self.enabled,
            dynamic_ncols=True,
            mininterval=0.5,
            smoothing=0.1,
        )

    def update(self, final: RequestOutcome | None, stats: RunCounts) -> None:
        """Called after every engine result; final is the request's outcome once it will not be retried."""
        if final is not None:
            if final.status == "accepted":
                self.accepted += 1
            else:
                self.rejected += 1
        elapsed = time.perf_counter() - self._started
        rate = stats.completion_tokens / elapsed if elapsed > 0 else 0.0
        retries = stats.sent - self.accepted - self.rejected
        self._bar.set_postfix_str(
            f"accepted {self.accepted}, rejected {self.rejected}, retries {max(retries, 0)}, {rate:.0f} tok/s",
            refresh=final is None,
        )
        if final is not None:
            self._bar.update(1)  # redraws, with the counts above

    def close(self) -> None:
        self._bar.close()


@contextlib.contextmanager
def progress_bar(total: int, mode: str = "auto", stream: TextIO | None = None) -> Iterator[ProgressBar]:
    """A ProgressBar with the tool's console log lines routed above it while it is shown."""
    bar = ProgressBar(total, mode, stream)
    try:
        if bar.enabled:
            with logging_redirect_tqdm(loggers=[logging.getLogger(LOGGER_NAME)]):
                yield bar
        else:
            yield bar
    finally:
        bar.close()

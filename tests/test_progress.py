"""The progress bar: counts what arrives, stays out of non-terminal output, keeps log lines readable."""

from __future__ import annotations

import io
import re

from generate_synthetic_data import main
from utilities.generation import RunStats
from utilities.progress import ProgressBar

from .helpers import valid_reply, write_small_doc


class _Outcome:
    def __init__(self, status: str) -> None:
        self.status = status


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_counts_accepted_rejected_and_retries():
    stream = io.StringIO()
    bar = ProgressBar(total=3, mode="on", stream=stream)
    stats = RunStats(sent=1, completion_tokens=100)
    bar.update(_Outcome("accepted"), stats)
    stats.sent = 2
    bar.update(None, stats)  # a failed attempt that will be retried
    stats.sent = 4
    bar.update(_Outcome("rejected"), stats)
    bar.update(_Outcome("accepted"), stats)
    bar.close()
    last = stream.getvalue().split("\r")[-1]
    assert "3/3" in last and "accepted 2, rejected 1, retries 1" in last
    assert re.search(r"\d+ tok/s", last)


def test_auto_shows_the_bar_only_on_a_terminal():
    pipe, tty = io.StringIO(), _Tty()
    for stream in (pipe, tty):
        bar = ProgressBar(total=1, stream=stream)
        bar.update(_Outcome("accepted"), RunStats(sent=1))
        bar.close()
    assert pipe.getvalue() == ""
    assert "1/1" in tty.getvalue()
    off = _Tty()
    ProgressBar(total=1, mode="off", stream=off).close()
    assert off.getvalue() == ""


def test_run_shows_bar_with_progress_on_and_log_lines_survive(docs_dir, tmp_path, fake_backend, capsys):
    write_small_doc(docs_dir)
    fake_backend.default = lambda r: "not json" if ":INFERENCE" in r.id else valid_reply(r)
    args = ["--docs-dir", str(docs_dir), "--output-dir", str(tmp_path / "out"), "--backend", "fake"]
    assert main([*args, "--progress", "on", "--max-retries", "1"]) == 0
    err = capsys.readouterr().err
    bar = [chunk for chunk in re.split(r"[\r\n]", err) if chunk.startswith("generating")][-1]
    total = re.search(r"(\d+)/(\d+)", bar)
    assert total and total.group(1) == total.group(2)
    accepted, rejected, retries = map(int, re.search(r"accepted (\d+), rejected (\d+), retries (\d+)", bar).groups())
    assert accepted + rejected == int(total.group(1)) and rejected > 0 and retries == rejected
    assert re.search(r"^\d\d:\d\d:\d\d INFO done: ", err, re.MULTILINE)  # log lines are whole lines


def test_run_without_a_terminal_prints_no_bar(docs_dir, tmp_path, fake_backend, capsys):
    write_small_doc(docs_dir)
    assert main(["--docs-dir", str(docs_dir), "--output-dir", str(tmp_path / "out"), "--backend", "fake"]) == 0
    err = capsys.readouterr().err
    assert "generating" not in err and "\r" not in err


def test_without_a_bar_a_line_every_interval_gives_the_reused_prompt_share_and_the_time_left(caplog):
    import logging
    import time

    from utilities.generation import _Progress

    progress = _Progress(total=10, every_s=0.0)
    progress.started = time.perf_counter() - 20.0  # 2 of 10 done in 20 s: 8 more take about 80 s
    stats = RunStats(sent=3, prompt_tokens=4000, cached_tokens=3000, completion_tokens=600)
    with caplog.at_level(logging.INFO):
        progress.finished(stats)
        progress.finished(stats)
    line = caplog.records[-1].getMessage()
    assert line.startswith("progress: 2 of 10 requests finished, 3 engine calls, 30.0 completion tokens/s")
    assert line.endswith("25% of prompt tokens evaluated, about 1 min 20 s left"), line


class _SlowEngine:
    """Finishes its first request at once and each later one after ``pause_s``: any engine, not only HTTP."""

    name = "slow"

    def __init__(self, pause_s: float):
        self.pause_s = pause_s

    def describe(self) -> dict:
        return {"backend": self.name, "model": "/models/tiny.gguf"}

    def waiting_detail(self) -> str:
        return "2 slots busy"

    def generate(self, requests, stop=None):
        import time

        from utilities.engines.base import EngineResult

        for index, _ in enumerate(requests):
            if index:
                time.sleep(self.pause_s)
            yield index, EngineResult(text="{}", finish_reason="stop")


def test_a_line_says_what_waits_on_which_engine_while_none_finishes(monkeypatch, caplog):
    import logging

    from utilities.engines import sending

    monkeypatch.setattr(sending, "WAITING_EVERY_S", 0.2)
    with caplog.at_level(logging.WARNING):
        assert len(list(sending.watched(_SlowEngine(0.7), [None, None], None))) == 2
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("waiting on ")]
    assert 2 <= len(lines) <= 4, lines
    said = "waiting on slow (tiny.gguf): 1 request(s) unfinished, none finished in the last 0 s; 2 slots busy"
    assert lines[0] == said


def test_no_waiting_line_while_requests_keep_finishing(monkeypatch, caplog):
    import logging

    from utilities.engines import sending

    monkeypatch.setattr(sending, "WAITING_EVERY_S", 0.5)
    with caplog.at_level(logging.WARNING):
        assert len(list(sending.watched(_SlowEngine(0.1), [None] * 8, None, "verify request(s)"))) == 8
    assert not [r for r in caplog.records if r.getMessage().startswith("waiting on ")]

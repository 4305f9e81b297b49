"""Crash safety: the journal, resume, engine faults, --fresh. Real servers on loopback, real files."""

from __future__ import annotations

import fcntl
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from generate_synthetic_data import EXIT_UNFINISHED, main
from utilities.engines.base import EngineRequest, EngineResult
from utilities.file_utils import load_documents

from .conftest import HTTP_QUESTION_TYPES, PROJECT_ROOT, cli_args, run_cli
from .fault_server import FaultServer
from .helpers import valid_reply, write_small_doc


def journal_lines(out: Path) -> list[dict]:
    (journal,) = out.glob(".runs/*/journal.jsonl")
    return [json.loads(line) for line in journal.read_text().splitlines()]


def records(out: Path) -> list[dict]:
    return [r for f in sorted(out.glob("*-synthetic-data-*.json")) for r in json.loads(f.read_text())]


def latest_report(out: Path) -> dict:
    return json.loads(max(out.glob("report-*.json"), key=lambda p: p.stat().st_mtime_ns).read_text())


def test_engine_failure_leaves_requests_unfinished_and_a_rerun_finishes_only_them(docs_dir, tmp_path):
    write_small_doc(docs_dir)
    out = tmp_path / "out"
    args = ("--transport-retries", "1", "--max-concurrency", "1")
    with FaultServer(["500"] * 6) as server:  # the first three requests fail twice each
        assert run_cli(docs_dir, out, server.base_url, *args) == EXIT_UNFINISHED
        assert server.actions["ok"] == 3
        assert not records(out) and not list(out.glob("report-*")), "no final files while work is unfinished"
        assert len(journal_lines(out)) == 3 and all(e["status"] == "accepted" for e in journal_lines(out))
        assert run_cli(docs_dir, out, server.base_url, *args) == 0
        assert server.actions["ok"] == 6, "the rerun sent only the three unfinished requests"
    report = latest_report(out)
    assert report["resumed_requests"] == 3 and report["totals"]["requests"] == 6
    assert report["totals"]["requests_accepted"] == 6 and len(records(out)) == 6
    assert len({r["metadata"]["request"] for r in records(out)}) == 6


def test_server_failing_30_percent_and_dying_once_loses_nothing(docs_dir, tmp_path):
    write_small_doc(docs_dir)
    (docs_dir / "second.md").write_text(
        "# Workspaces\nA workspace is a set of packages that share one Cargo.lock file and one output directory.\n"
        "Commands run at its root build every member unless a package is named.\n\n"
        "# Members\nEach member package lives in its own folder and is listed in the members array of the root.\n"
        "A member may also be excluded by a glob in the exclude array of the same manifest.\n"
    )
    out = tmp_path / "out"
    args = ("--transport-retries", "3", "--max-concurrency", "4", "--max-retries", "1")
    with FaultServer([], fault_rate=0.3, die_after=7, seed=3) as dying:
        first = run_cli(docs_dir, out, dying.base_url, *args)
    assert first == EXIT_UNFINISHED
    finished_first = {e["key"] for e in journal_lines(out)}
    assert 0 < len(finished_first) < 12
    with FaultServer([], fault_rate=0.3, seed=4) as healthy:  # restarted, on another port
        assert run_cli(docs_dir, out, healthy.base_url, *args) == 0
    entries = journal_lines(out)
    keys = [e["key"] for e in entries]
    assert len(keys) == len(set(keys)) == 12, "every request journaled exactly once"
    assert finished_first <= set(keys)
    report = latest_report(out)
    totals = report["totals"]
    assert report["resumed_requests"] == len(finished_first)
    assert totals["requests"] == 12 == totals["requests_accepted"] + sum(totals["requests_rejected"].values())
    assert totals["pairs_accepted"] + sum(totals["pair_rejections"].values()) == totals["pairs_generated"]
    kept = records(out)
    assert len(kept) == totals["pairs_accepted"]
    assert len({(r["metadata"]["request"], r["messages"][0]["content"][0]["text"]) for r in kept}) == len(kept)


def fake_run(docs, out, *extra: str) -> int:
    return main(
        [
            "--docs-dir",
            str(docs),
            "--output-dir",
            str(out),
            "--backend",
            "fake",
            "--question-types",
            HTTP_QUESTION_TYPES,
            "--verify",
            "none",
            *extra,
        ]
    )


def test_finished_run_rerun_calls_no_engine_and_regates_with_new_thresholds(docs_dir, tmp_path, fake_backend):
    write_small_doc(docs_dir)
    out = tmp_path / "out"
    assert fake_run(docs_dir, out) == 0
    sent = len(fake_backend.history)
    assert sent == 6
    kept = latest_report(out)["totals"]["pairs_accepted"]
    assert fake_run(docs_dir, out, "--dedup-threshold", "0") == 0  # every question now duplicates the first
    assert len(fake_backend.history) == sent, "the journal answered every request"
    report = latest_report(out)
    assert report["resumed_requests"] == 6 and report["engine"]["backend"] == "none"
    totals = report["totals"]
    assert totals["pairs_accepted"] == 1 < kept
    assert totals["pair_rejections"]["duplicate"] == totals["pairs_generated"] - 1 - sum(
        n for gate, n in totals["pair_rejections"].items() if gate != "duplicate"
    )
    files = sorted(out.iterdir())
    assert fake_run(docs_dir, out) == 0 and fake_run(docs_dir, out, "--dedup-threshold", "0") == 0
    assert sorted(out.iterdir()) == files, "each setting's set is written once"


def test_regating_reads_each_requests_sources_from_the_journal_and_builds_no_prompt(
    docs_dir, tmp_path, fake_backend, monkeypatch
):
    from utilities import prompts

    write_small_doc(docs_dir)
    out = tmp_path / "out"
    assert fake_run(docs_dir, out) == 0
    entries = journal_lines(out)
    assert all(e["request"]["context"] and e["request"]["quotes"] for e in entries)
    kept = latest_report(out)["totals"]["pairs_accepted"]
    assert kept > 0

    def no_building(*args, **kwargs):
        raise AssertionError("a journaled request was built again")

    monkeypatch.setattr(prompts, "build_request", no_building)
    assert fake_run(docs_dir, out, "--dedup-threshold", "0.92") == 0
    assert latest_report(out)["totals"]["pairs_accepted"] == kept
    monkeypatch.undo()
    # A journal written before entries kept their sources: its requests are rebuilt, to the same verdicts.
    (journal,) = out.glob(".runs/*/journal.jsonl")
    journal.write_text("".join(json.dumps({k: v for k, v in e.items() if k != "request"}) + "\n" for e in entries))
    assert fake_run(docs_dir, out, "--dedup-threshold", "0.93") == 0
    assert latest_report(out)["totals"]["pairs_accepted"] == kept
    assert len(fake_backend.history) == 6


def test_fresh_sets_the_journal_aside_and_redoes_the_work(docs_dir, tmp_path, fake_backend):
    write_small_doc(docs_dir)
    out = tmp_path / "out"
    assert fake_run(docs_dir, out) == 0
    assert fake_run(docs_dir, out, "--fresh") == 0
    assert len(fake_backend.history) == 12
    runs = sorted(p.name for p in (out / ".runs").iterdir())
    assert len(runs) == 2 and any(".set-aside-" in name for name in runs)


def test_changed_document_or_setting_starts_a_new_run_key(docs_dir, tmp_path, fake_backend):
    path = write_small_doc(docs_dir)
    out = tmp_path / "out"
    assert fake_run(docs_dir, out) == 0
    assert fake_run(docs_dir, out, "--seed", "7") == 0
    path.write_text(path.read_text().replace("responsive", "responsive and fair"))
    assert fake_run(docs_dir, out) == 0
    assert len(list((out / ".runs").iterdir())) == 3
    assert len(fake_backend.history) == 18


def test_torn_last_journal_line_is_ignored_and_repaired(docs_dir, tmp_path, fake_backend):
    write_small_doc(docs_dir)
    out = tmp_path / "out"
    assert fake_run(docs_dir, out) == 0
    (journal,) = out.glob(".runs/*/journal.jsonl")
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(lines[:4]) + lines[4][: len(lines[4]) // 2])  # a crash mid-write
    assert fake_run(docs_dir, out) == 0
    assert len(fake_backend.history) == 6 + 2, "the torn request and the missing one were redone"
    entries, torn = [], 0
    for line in journal.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            torn += 1
    assert torn == 1 and len(entries) == 4 + 2
    assert len({e["key"] for e in entries}) == 6


class Killed(BaseException):
    """A kill at a chosen moment: no ``except Exception`` catches it, as none survives SIGKILL."""


def all_records(out: Path) -> list[dict]:
    return [r for f in out.glob("*-synthetic-data-*.json") for r in json.loads(f.read_text())]


@pytest.mark.parametrize("where", ["staging", "output"])
def test_a_run_killed_while_writing_its_files_leaves_one_complete_set_after_the_rerun(
    docs_dir, tmp_path, fake_backend, monkeypatch, where
):
    """Killed while its files are written (into the run's staging folder, or while moved into OUTPUT_DIR)."""
    write_small_doc(docs_dir)
    out = tmp_path / "out"
    formats = ("--output-formats", "phi,jsonl,internvl,sharegpt")
    real_link, links, armed = os.link, [], [True]

    def link(source, target, *args, **kwargs):
        inside = Path(target).parent == out if where == "output" else ".runs" in Path(target).parts
        if inside and armed[0]:
            links.append(target)
            if len(links) > 2:
                raise Killed
        return real_link(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "link", link)
    with pytest.raises(Killed):
        fake_run(docs_dir, out, *formats)
    armed[0] = False
    assert len(links) == 3, "the kill came in the middle of the set"
    shown = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    publishing = list(out.glob(".runs/*/publishing.json"))
    if where == "staging":
        assert not all_records(out) and not shown and not publishing, "nothing in OUTPUT_DIR before the set is staged"
    else:  # the set is moved in its record's order: a first part of it in OUTPUT_DIR, the rest still staged
        (record_file,) = publishing
        record = json.loads(record_file.read_text())
        names, moved = record["names"], len(shown)
        assert 0 < moved < len(names) and shown == names[:moved], shown
        staged = record_file.parent / record["staging"]
        assert sorted(p.name for p in staged.iterdir() if not p.name.startswith(".")) == names[moved:]
        assert Path(links[-1]).name == names[moved], "killed while linking the next file of the record"
        assert 0 < len(all_records(out)) < record["written"]["kept"], "some of the kept pairs are visible, not all"
    assert fake_run(docs_dir, out, *formats) == 0
    records = all_records(out)
    assert records and len({r["metadata"]["request"] + r["messages"][-1]["content"] for r in records}) == len(records)
    assert len(list(out.glob("report-*.json"))) == 1
    visible = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    stamps = {name.split("-")[-1].split(".")[0] for name in visible if name != "dataset_info.json"}
    assert len(stamps) == 1, f"one set, one time stamp: {visible}"
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp") or p.name.startswith("staging-")]
    assert fake_run(docs_dir, out, *formats) == 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == visible, "no second set"
    assert len(fake_backend.history) == 6, "nothing was generated twice"


def test_a_second_run_of_the_same_work_stops_at_once_naming_the_first(docs_dir, tmp_path, fake_backend, caplog):
    write_small_doc(docs_dir)
    out = tmp_path / "out"
    assert fake_run(docs_dir, out) == 0
    (lock,) = out.glob(".runs/*/lock")
    with lock.open("r+") as held:  # as the first run holds it while it works
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.truncate(0)
        held.write("4242")
        held.flush()
        assert fake_run(docs_dir, out, "--dedup-threshold", "0.5") == 2
    (line,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert "another run (pid 4242)" in line and str(out) in line
    assert fake_run(docs_dir, out, "--dedup-threshold", "0.5") == 0, "a lock is released with its holder"
    assert len(fake_backend.history) == 6


def test_a_resumed_runs_report_counts_the_whole_run(docs_dir, tmp_path, fake_backend):
    write_small_doc(docs_dir)
    out = tmp_path / "out"
    engine_down = EngineResult(error="server gone", finish_reason="error", transient=True)

    def first(request: EngineRequest):
        if "#0:" in request.id:  # the first section: one bad reply each, then a good one
            return "not json" if request.id.endswith("@0") else valid_reply(request)
        return engine_down

    fake_backend.default = first
    assert fake_run(docs_dir, out) == EXIT_UNFINISHED
    fake_backend.default = valid_reply
    assert fake_run(docs_dir, out) == 0
    report = latest_report(out)
    assert report["reply_failures"] == {"invalid_json": 3}, "the first process's failures are the run's"
    assert report["engine_calls"] == 3 * 2 + 3
    assert report["this_process"]["engine_calls"] == 3 and report["this_process"]["reply_failures"] == {}
    assert report["totals"]["requests"] == 6 and report["resumed_requests"] == 3


def test_yaml_tags_are_never_executed(docs_dir):
    (docs_dir / "evil.md").write_text(
        "---\ntitle: !!python/object/apply:os.system ['touch pwned']\n---\n# A\nBody text of the document.\n"
    )
    document = load_documents(docs_dir).documents[0]
    assert document.metadata == {} and "malformed YAML" in document.warnings[0]
    assert not Path("pwned").exists()


def test_a_run_that_adds_question_types_sends_only_the_new_types(docs_dir, fake_backend, tmp_path):
    """QUESTION_TYPES is not in the run key: a request's key names its type, so its journaled work stays valid."""
    write_small_doc(docs_dir)
    out = tmp_path / "out"
    base = ["--docs-dir", str(docs_dir), "--output-dir", str(out), "--backend", "fake"]
    assert main([*base, "--question-types", "FACTUAL_RECALL"]) == 0
    first = len(fake_backend.history)
    assert first == 2 and {r.id.split(":")[1].split("@")[0] for r in fake_backend.history} == {"FACTUAL_RECALL"}
    assert main([*base, "--question-types", "FACTUAL_RECALL,INFERENCE"]) == 0
    sent = {r.id.split(":")[1].split("@")[0] for r in fake_backend.history[first:]}
    assert sent == {"INFERENCE"} and len(fake_backend.history) == 2 * first
    assert len(list(out.glob(".runs/*/journal.jsonl"))) == 1
    both = latest_report(out)["question_types"]
    assert set(both) == {"FACTUAL_RECALL", "INFERENCE"} and both["FACTUAL_RECALL"]["requests"] == 2


def _stderr_lines(proc: subprocess.Popen) -> queue.Queue:
    """The process's stderr, line by line, as it is written (None at the end)."""
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in proc.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def _wait_for(lines: queue.Queue, text: str, within_s: float, seen: list[str]) -> float:
    """Read lines until one holds ``text``; the monotonic time it came. Fails after ``within_s``."""
    deadline = time.monotonic() + within_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if text in line:
            return time.monotonic()
    raise AssertionError(f"no line with {text!r} within {within_s} s:\n{''.join(seen)[-3000:]}")


@pytest.mark.slow
def test_a_server_that_never_answers_is_said_every_30_s_and_one_sigterm_stops_within_the_grace(docs_dir, tmp_path):
    """3 of 6 requests answered, then a server that takes the connection and never replies, with the
    shipped REQUEST_TIMEOUT (600 s): a waiting line within 35 s, and one SIGTERM ends the run after
    STOP_GRACE (5 s here) with the 3 journaled; a rerun on a working server sends only the other 3."""
    write_small_doc(docs_dir)
    out, grace = tmp_path / "out", 5
    with FaultServer(["ok"] * 3, default="hang", hang_s=900) as hung:
        args = cli_args(docs_dir, out, hung.base_url, "--request-timeout", "600", "--stop-grace", str(grace))
        command = [sys.executable, str(PROJECT_ROOT / "generate_synthetic_data.py"), *args]
        proc = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        try:
            lines, seen = _stderr_lines(proc), []
            sending = _wait_for(lines, "engine settings:", 60, seen)
            waiting = _wait_for(lines, f"waiting on openai at {hung.base_url}: 3 request(s) unfinished", 35, seen)
            assert waiting - sending < 35
            proc.send_signal(signal.SIGTERM)
            stopped = time.monotonic()
            code = proc.wait(timeout=grace + 30)
            took = time.monotonic() - stopped
        finally:
            proc.kill()
    _wait_for(lines, "abandoning the requests in flight", 5, seen)
    log = "".join(seen) + "".join(iter(lines.get, None))
    assert code == 128 + signal.SIGTERM and grace - 1 < took < grace + 5, (code, took, log[-2000:])
    assert "rerun the same command to resume" in log and "Traceback" not in log
    assert len(journal_lines(out)) == 3 and hung.actions == {"ok": 3, "hang": 3}
    assert not list(out.glob("*-synthetic-data-*.json"))
    with FaultServer([]) as working:
        assert run_cli(docs_dir, out, working.base_url) == 0
    assert working.actions == {"ok": 3}
    report, kept = latest_report(out), records(out)
    assert report["resumed_requests"] == 3 and report["totals"]["requests_accepted"] == 6
    assert len(kept) == 6 and len({r["metadata"]["request"] for r in kept}) == 6, "nothing lost or duplicated"

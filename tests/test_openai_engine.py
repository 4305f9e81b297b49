"""The openai engine against real HTTP servers on loopback."""

from __future__ import annotations

import json
import socket
import time

import pytest

from generate_synthetic_data import main
from utilities.engines import sending
from utilities.engines.openai_compat import mask_secret

from .conftest import run_cli
from .fault_server import FaultServer
from .helpers import smollm2_gguf, write_small_doc

SENTINEL_KEY = "sk-test-SENTINEL-7f3a9c"


def all_text_under(folder) -> str:
    return "".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())


def dead_base_url() -> str:
    """A loopback address nothing listens on: every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def write_valve_notes(docs, sections: int) -> None:
    """One document of ``sections`` short sections: three requests each with run_cli's question types."""
    body = "\n\n".join(
        f"# Valve {i}\n\nValve number {i} opens when the line pressure reaches {i + 2} bar. It closes again "
        f"once the pressure falls below {i + 1} bar, so the line never drains."
        for i in range(sections)
    )
    (docs / "valves.md").write_text(f"---\ntitle: Valve notes\n---\n{body}\n")


def journal_lines(out) -> list[str]:
    return [line for journal in out.glob(".runs/*/journal.jsonl") for line in journal.read_text().splitlines()]


def test_every_transport_fault_is_retried_and_no_request_is_lost(docs_dir, tmp_path):
    write_small_doc(docs_dir)
    out = tmp_path / "out"
    log_file = tmp_path / "run.log"
    schedule = ["429", "500", "drop", "hang", "429", "500", "drop"]
    with FaultServer(schedule) as server:
        code = run_cli(
            docs_dir, out, server.base_url, "--api-key", SENTINEL_KEY, "--max-retries", "0",
            "--log-level", "DEBUG", "--log-file", str(log_file),
        )  # fmt: skip
    assert code == 0
    assert server.actions["ok"] == 6  # 2 sections x 3 types, each answered once in the end
    assert sum(server.actions[a] for a in ("429", "500", "drop", "hang")) == len(schedule)
    assert server.authorization == {f"Bearer {SENTINEL_KEY}"}
    records = [r for f in out.glob("*-synthetic-data-*.json") for r in json.loads(f.read_text())]
    assert len(records) == 6 and not list(out.glob("rejects-*"))
    logs = log_file.read_text()
    assert "done: 6 requests (0 resumed): 6 accepted, 0 rejected" in logs
    said = ("the server closed the connection without a complete reply", "no reply within REQUEST_TIMEOUT (1 s)")
    assert all(words in logs for words in said), "transport failures in plain words"
    assert not any(name in logs for name in ("RemoteProtocolError", "ReadTimeout", "ConnectError"))
    assert SENTINEL_KEY not in logs and SENTINEL_KEY not in all_text_under(out)


@pytest.mark.parametrize("echo", ["echo400", "echo500", "echo200"])
def test_a_server_that_echoes_the_key_never_gets_it_written(echo, docs_dir, tmp_path, capsys):
    """The key, whole or cut, is in no file under OUTPUT_DIR (journal included), the log or the console,
    whether the server echoes it in a long 400 error, a 500 body or a 200 reply; nor in --check's output."""
    write_small_doc(docs_dir)
    out, log_file = tmp_path / "out", tmp_path / "run.log"
    with FaultServer([], default=echo) as server:
        key = ("--api-key", SENTINEL_KEY, "--transport-retries", "0", "--log-file", str(log_file))
        code = run_cli(docs_dir, out, server.base_url, "--max-retries", "0", *key)
        check = main(["--check", "--backend", "openai", "--api-base-url", server.base_url, *key])
    assert server.authorization == {f"Bearer {SENTINEL_KEY}"} and server.actions[echo] >= 7
    assert (code, check) == (3 if echo == "echo500" else 1, 1)
    console = capsys.readouterr()
    written = all_text_under(out) + log_file.read_text() + console.out + console.err
    assert "Authorization: Bearer [API_KEY]" in written  # the echo was kept, masked
    assert SENTINEL_KEY[:6] not in written


def test_mask_secret_masks_the_key_and_every_cut_of_it():
    key = "sk-SECRET-canary-12"
    text = f"Bearer {key}; again {key[:12]}… and {key[:6]}, {key[:5]}, sk-SECRETS"
    assert mask_secret(text, key) == "Bearer [API_KEY]; again [API_KEY]… and [API_KEY], sk-SE, [API_KEY]S"
    assert mask_secret(text, "") == text
    assert mask_secret("key abc, abcd", "abc") == "key [API_KEY], [API_KEY]d"  # a short key is masked whole


def test_a_server_down_from_the_start_is_given_up_at_once(docs_dir, tmp_path):
    """150 requests, 32 at a time, nothing listening: one 'down' line and exit 3 in seconds
    (measured: 56 s before the circuit breaker, each request spending its own backoff ladder)."""
    write_valve_notes(docs_dir, 50)
    out, log_file = tmp_path / "out", tmp_path / "run.log"
    started = time.perf_counter()
    code = run_cli(docs_dir, out, dead_base_url(), "--max-concurrency", "32", "--log-file", str(log_file))
    assert code == 3 and time.perf_counter() - started < 15
    logs = log_file.read_text()
    assert logs.count(" is down: ") == 1 and "connection refused" in logs and "not starting new requests" in logs
    assert "150 request(s) unfinished" in logs and "rerun the same command to resume" in logs
    assert not list(out.glob("report-*")) and journal_lines(out) == []


def test_a_server_killed_mid_run_is_given_up_and_the_rerun_resumes(docs_dir, tmp_path):
    write_valve_notes(docs_dir, 20)  # 60 requests
    out, log_file = tmp_path / "out", tmp_path / "run.log"
    with FaultServer([], die_after=10) as server:
        started = time.perf_counter()
        code = run_cli(docs_dir, out, server.base_url, "--max-concurrency", "4", "--log-file", str(log_file))
        elapsed = time.perf_counter() - started
    assert code == 3 and elapsed < 15
    answered = server.actions["ok"]
    assert 9 <= answered < 60 and len(journal_lines(out)) == answered  # every answer journaled
    assert log_file.read_text().count(" is down: ") == 1
    with FaultServer([]) as revived:
        assert run_cli(docs_dir, out, revived.base_url, "--log-file", str(log_file)) == 0
    assert revived.actions["ok"] == 60 - answered
    assert f"{answered} of 60 requests already finished, {60 - answered} to go" in log_file.read_text()


def test_verify_requests_left_by_a_dead_server_are_resumed(docs_dir, tmp_path):
    write_small_doc(docs_dir)
    out, log_file = tmp_path / "out", tmp_path / "run.log"
    verify = ("--verify", "answerability,judge", "--log-file", str(log_file))
    one_at_a_time = ("--max-concurrency", "1", "--transport-retries", "1")
    with FaultServer([], die_after=7) as server:  # the 6 generation requests answered, then gone
        assert run_cli(docs_dir, out, server.base_url, *verify, *one_at_a_time) == 3
    assert server.actions["ok"] == 6
    logs = log_file.read_text()
    assert logs.count(" is down: ") == 1 and "verify request(s) unfinished" in logs
    with FaultServer([]) as revived:
        assert run_cli(docs_dir, out, revived.base_url, *verify) == 0
    (report,) = (json.loads(p.read_text()) for p in out.glob("report-*.json"))
    assert revived.actions["ok"] == report["verify"]["requests"] > 0


def test_requests_retrying_on_a_failing_server_are_reported(docs_dir, tmp_path, monkeypatch):
    """A server that answers 500 is not down (it answers), but the retries are said while they last."""
    monkeypatch.setattr(sending, "WAITING_EVERY_S", 0.2)
    write_small_doc(docs_dir)
    log_file = tmp_path / "run.log"
    with FaultServer([], default="500") as server:
        code = run_cli(
            docs_dir, tmp_path / "out", server.base_url, "--transport-retries", "3", "--log-file", str(log_file)
        )
    assert code == 3 and server.actions["500"] == 6 * 4
    logs = log_file.read_text()
    notices = [line for line in logs.splitlines() if f"waiting on openai at {server.base_url}: " in line]
    assert len(notices) >= 2 and "6 request(s) unfinished" in notices[0], logs
    assert "6 retrying, last error: HTTP 500" in notices[0]
    assert " is down: " not in logs


def test_server_without_json_schema_gets_json_object(docs_dir, tmp_path):
    """Under json_object the server writes its reply from the prompt alone (tests/fault_server.py's
    reply_from_prompt): the pairs are kept only if the prompt states every field, bound and id they need."""
    write_small_doc(docs_dir)
    out = tmp_path / "out"
    with FaultServer([], reject_json_schema=True) as server:
        code = run_cli(
            docs_dir, out, server.base_url, "--questions-per-request", "1", "--question-types", "FACTUAL_RECALL"
        )
    assert code == 0
    assert server.formats["json_schema"] >= 1 and server.formats["json_object"] == 2
    records = [r for f in out.glob("*-synthetic-data-*.json") for r in json.loads(f.read_text())]
    assert len(records) == 2 and not list(out.glob("rejects-*"))


def test_verify_requests_go_through_the_server_in_both_response_formats(docs_dir, tmp_path):
    """The verify pass over HTTP: with json_schema, and read from the prompt's stated shape under json_object."""
    write_small_doc(docs_dir)
    for reject in (False, True):
        out = tmp_path / f"out-{reject}"
        with FaultServer([], reject_json_schema=reject) as server:
            assert run_cli(docs_dir, out, server.base_url, "--verify", "answerability,judge") == 0
        (report,) = (json.loads(p.read_text()) for p in out.glob("report-*.json"))
        kept = report["totals"]["pairs_accepted"]
        assert kept > 0 and report["verify"]["requests"] == 2 * kept == server.actions["ok"] - 6
        assert report["verify"]["rejections"] == {"answerability": 0, "judge": 0, "locate": 0, "verify_failed": 0}
        assert report["verify"]["completion_tokens"] > 0


def test_server_without_vision_gets_text_only_after_one_refusal(docs_dir, tmp_path):
    write_small_doc(docs_dir)
    out = tmp_path / "out"
    with FaultServer([], reject_images=True) as server:
        assert run_cli(docs_dir, out, server.base_url, "--max-concurrency", "1") == 0
    assert server.actions["reject_images"] == 1 and server.actions["ok"] == 6
    records = [r for f in out.glob("*-synthetic-data-*.json") for r in json.loads(f.read_text())]
    assert len(records) == 6


def test_several_base_urls_share_the_load(docs_dir, tmp_path):
    write_small_doc(docs_dir)
    with FaultServer([]) as a, FaultServer([]) as b:
        code = run_cli(docs_dir, tmp_path / "out", f"{a.base_url}, {b.base_url}/")
        assert code == 0
        assert a.actions["ok"] == 3 and b.actions["ok"] == 3


def test_openai_without_base_url_is_a_config_error(docs_dir, tmp_path, capsys):
    write_small_doc(docs_dir)
    assert main(["--docs-dir", str(docs_dir), "--output-dir", str(tmp_path / "o"), "--backend", "openai"]) == 2
    assert "BACKEND=openai needs API_BASE_URL, got ''" in capsys.readouterr().err


@pytest.mark.slow
def test_openai_engine_against_llama_cpp_http_server_with_the_real_model(docs_dir, tmp_path):
    """xllamacpp serves the SmolLM2 GGUF over HTTP on loopback; the pipeline talks to it as to any server."""
    import xllamacpp

    from utilities.engines.embedded import EmbeddedSettings, build_params

    params = build_params(EmbeddedSettings(model=None, mmproj=None, parallel=4, ctx_per_slot=4096), smollm2_gguf())
    server = xllamacpp.Server(params)
    try:
        write_small_doc(docs_dir)
        out = tmp_path / "out"
        code = main(
            [
                "--docs-dir", str(docs_dir), "--output-dir", str(out), "--backend", "openai",
                "--api-base-url", f"{server.listening_address}/v1",
                "--question-types", "FACTUAL_RECALL,SECTION_SUMMARY",
                "--questions-per-request", "1", "--max-answer-chars", "300", "--max-new-tokens", "1024",
            ]
        )  # fmt: skip
    finally:
        del server
    report = json.loads(next(out.glob("report-*.json")).read_text())
    assert code == (0 if report["totals"]["pairs_accepted"] else 1)
    assert report["totals"]["requests"] == 4 and report["totals"]["requests_accepted"] >= 1
    assert report["engine"]["backend"] == "openai" and report["totals"]["completion_tokens"] > 0
    records = [r for f in out.glob("*-synthetic-data-*.json") for r in json.loads(f.read_text())]
    assert len(records) == report["totals"]["pairs_accepted"]
    rejects = [json.loads(line) for f in out.glob("rejects-*.jsonl") for line in f.read_text().splitlines()]
    generated = report["totals"]["pairs_generated"]
    assert generated >= 1 and sum(r["kind"] == "pair" for r in rejects) == generated - len(records)

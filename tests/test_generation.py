"""Generation logic with the scripted fake engine: every bad reply ends as a reject with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generate_synthetic_data import main
from models.question_types import QUESTION_TYPE_SPECS, QuestionType
from models.schemas import ReplyLimits
from utilities import generation
from utilities.engines.base import EngineRequest, EngineResult
from utilities.engines.fake import FakeEngine
from utilities.file_utils import load_documents
from utilities.generation import generate_all
from utilities.planner import plan_requests
from utilities.prompts import PromptLibrary, SamplingSettings, build_request

from .helpers import n_pairs, valid_reply, write_small_doc


@pytest.fixture
def small(docs_dir: Path):
    write_small_doc(docs_dir)
    document = load_documents(docs_dir).documents[0]
    library = PromptLibrary.load()
    root = docs_dir.resolve()

    def build(planned, attempt):
        return build_request(document, planned, library, SamplingSettings(), ReplyLimits(), root, attempt)

    return document, build


def plan(document, *types: QuestionType, per_request: int = 2):
    return plan_requests(document, types, per_request)


def run_all(planned, engine, build, max_retries):
    """generate_all's final outcomes in plan order, and its statistics."""
    finished = []
    stats = generate_all(planned, engine, build, max_retries, on_final=finished.append)
    return sorted(finished, key=lambda outcome: planned.index(outcome.request.planned)), stats


def test_requests_are_sent_a_window_at_a_time_and_all_finish(small, monkeypatch):
    """Memory stays flat: no more than WINDOW requests are built and sent at once."""
    document, build = small
    planned = plan(document, *QuestionType)
    monkeypatch.setattr(generation, "WINDOW", 3)
    engine = FakeEngine(default=valid_reply)
    batches = []
    original = engine.generate
    engine.generate = lambda requests, stop=None: (batches.append(len(requests)), original(requests, stop))[1]
    outcomes, stats = run_all(planned, engine, build, max_retries=0)
    assert len(planned) > 3 and max(batches) == 3 and sum(batches) == len(planned)
    assert [o.request.planned for o in outcomes] == planned and stats.accepted_requests == len(planned)


def bad_replies(request: EngineRequest) -> dict[str, EngineResult | str]:
    pairs = json.loads(valid_reply(request))["pairs"]
    unknown = [dict(p, figures=["FIGURE_9.9"]) for p in pairs]
    missing_key = [{k: v for k, v in p.items() if k != "evidence"} for p in pairs]
    too_long = [dict(p, answer="x" * 5000) for p in pairs]
    return {
        "invalid_json": '{"pairs": [ {"question": "unterminated',
        "truncated": EngineResult(text=valid_reply(request)[:40], finish_reason="length", completion_tokens=2048),
        "schema_violation": json.dumps({"pairs": missing_key}),
        "schema_violation_length": json.dumps({"pairs": too_long}),
        "unknown_figure": json.dumps({"pairs": unknown}),
        "wrong_pair_count": json.dumps({"pairs": []}),
        "empty": "   ",
        "engine_error": EngineResult(error="RuntimeError: CUDA error: out of memory", finish_reason="error"),
    }


@pytest.mark.parametrize(
    "shape",
    [
        "invalid_json",
        "truncated",
        "schema_violation",
        "schema_violation_length",
        "unknown_figure",
        "wrong_pair_count",
        "empty",
        "engine_error",
    ],
)
def test_bad_reply_is_rejected_with_its_reason_and_neighbours_survive(small, shape):
    document, build = small
    planned = plan(document, QuestionType.FACTUAL_RECALL)  # two sections: two requests
    assert len(planned) == 2
    target = planned[0]

    def reply(request: EngineRequest):
        if request.id.startswith(f"notes#{target.section_index}:"):
            return bad_replies(request)[shape]
        return valid_reply(request)

    engine = FakeEngine(default=reply)
    outcomes, stats = run_all(planned, engine, build, max_retries=2)
    assert [o.status for o in outcomes] == ["rejected", "accepted"]
    expected = shape.removesuffix("_length")
    assert outcomes[0].reason == expected
    assert len(outcomes[0].attempts) == 3 and all(a.reason == expected for a in outcomes[0].attempts)
    assert outcomes[1].pairs and len(outcomes[1].pairs) == 2
    assert stats.accepted_requests + stats.rejected_requests == stats.requests == 2
    assert stats.rejects_by_reason == {expected: 1}
    assert stats.sent == 4  # the good request once, the bad one three times


def test_retry_resends_only_the_failed_request_with_a_new_seed(small):
    document, build = small
    planned = plan(document, QuestionType.FACTUAL_RECALL, QuestionType.INFERENCE)
    failing = planned[1]
    calls: list[EngineRequest] = []

    def reply(request: EngineRequest):
        calls.append(request)
        first_try = request.id.endswith("@0")
        if request.id.startswith(f"notes#{failing.section_index}:{failing.question_type.value}") and first_try:
            return "not json"
        return valid_reply(request)

    outcomes, stats = run_all(planned, FakeEngine(default=reply), build, max_retries=3)
    assert all(o.status == "accepted" for o in outcomes)
    retried = [c for c in calls if not c.id.endswith("@0")]
    assert [c.id.split("@")[0] for c in retried] == [f"notes#{failing.section_index}:INFERENCE"]
    first = next(c for c in calls if c.id == retried[0].id.replace("@1", "@0"))
    assert first.seed != retried[0].seed
    assert stats.failures_by_reason == {"invalid_json": 1} and stats.rejects_by_reason == {}


def looping(request: EngineRequest, loops: int) -> str:
    """A valid reply whose first ``loops`` answers are sampling accidents (a phrase repeated to the cap)."""
    reply = json.loads(valid_reply(request))
    for pair in reply["pairs"][:loops]:
        pair["answer"] = "The reserve price equals the reserve price " * 8 + "equals"
    return json.dumps(reply)


def test_a_reply_of_mostly_sampling_accidents_is_resent_with_a_new_seed(small):
    document, build = small
    planned = plan(document, QuestionType.FACTUAL_RECALL, per_request=3)[:1]
    engine = FakeEngine()
    engine.enqueue(lambda r: looping(r, 2), valid_reply)
    outcomes, stats = run_all(planned, engine, build, max_retries=2)
    (outcome,) = outcomes
    assert outcome.status == "accepted" and [a.reason for a in outcome.attempts] == ["sampling_accident", None]
    assert engine.history[0].seed != engine.history[1].seed
    assert stats.failures_by_reason == {"sampling_accident": 1} and stats.resent_for_accidents == 1
    assert all("reserve price equals the reserve price" not in p.answer for p in outcome.pairs)


def test_one_accident_in_three_or_a_last_attempt_is_left_to_the_gates(small):
    document, build = small
    planned = plan(document, QuestionType.FACTUAL_RECALL, per_request=3)[:1]
    minority = FakeEngine(default=lambda r: looping(r, 1))
    (outcome,), stats = run_all(planned, minority, build, max_retries=2)
    assert outcome.status == "accepted" and len(minority.history) == 1, "a wrong pair is not worth a re-send"
    always = FakeEngine(default=lambda r: looping(r, 3))
    (outcome,), stats = run_all(planned, always, build, max_retries=3)
    assert len(always.history) == 2 and outcome.status == "accepted", "one re-send; the second reply goes to the gates"
    assert stats.failures_by_reason == {"sampling_accident": 1}


def test_fact_based_asks_one_pair_per_fact(small):
    document, build = small
    planned = plan(document, QuestionType.FACT_BASED, per_request=2)
    facts = sum(len(s.facts) for s in document.sections)
    assert sum(p.n_pairs for p in planned) == facts
    engine = FakeEngine(default=valid_reply)
    _, stats = run_all(planned, engine, build, max_retries=0)
    assert stats.pairs == facts
    assert [n_pairs(r) for r in engine.history] == [p.n_pairs for p in planned]


def test_cli_writes_spec_format_train_and_eval_with_provenance(docs_dir, tmp_path, fake_backend):
    write_small_doc(docs_dir)
    out = tmp_path / "out"
    # One pair per request: the small document has too few sentences for three distinct answers each.
    args = ["--docs-dir", str(docs_dir), "--output-dir", str(out), "--backend", "fake", "--questions-per-request", "1"]
    code = main(args)
    assert code == 0 and fake_backend.closed
    (train,) = out.glob("train-notes-synthetic-data-*.json")
    (evaluation,) = out.glob("eval-notes-synthetic-data-*.json")
    assert not list(out.glob("rejects-*"))
    train_records, eval_records = json.loads(train.read_text()), json.loads(evaluation.read_text())
    assert {r["question_type"] for r in eval_records} == {"SECTION_SUMMARY"}
    assert "SECTION_SUMMARY" not in {r["question_type"] for r in train_records}
    for record in train_records + eval_records:
        assert set(record) == {"messages", "question_type", "difficulty", "metadata"}
        user, assistant = record["messages"]
        assert user["role"] == "user" and assistant["role"] == "assistant"
        assert user["content"][0]["type"] == "text"
        for part in user["content"][1:]:
            assert part == {"type": "image_url", "image_url": {"url": "notes/FIGURE_1.1.png", "detail": "auto"}}
        if not QUESTION_TYPE_SPECS[QuestionType(record["question_type"])].form.reasoning:
            assert "<think>" not in assistant["content"], "a recall type's answer stands alone"
            continue
        steps, answer = assistant["content"].split("\n</think>\n\n")
        assert steps.startswith("<think>\nStep 1: Recall: ") and steps[24:] in answer
        assert record["metadata"]["document"] == "notes" and record["metadata"]["evidence"]
    from utilities.check_image_urls import check_all_output_files

    assert check_all_output_files(out, docs_dir, verbose=False).ok


def test_cli_without_reasoning_and_rejects_file_keeps_raw_replies(docs_dir, tmp_path, fake_backend):
    write_small_doc(docs_dir)
    fake_backend.default = lambda r: "garbage" if ":INFERENCE" in r.id else valid_reply(r)
    out = tmp_path / "out"
    args = ["--docs-dir", str(docs_dir), "--output-dir", str(out), "--backend", "fake", "--max-retries", "1"]
    args += ["--questions-per-request", "1"]
    assert main([*args, "--include-reasoning", "false", "--question-types", "INFERENCE,FACTUAL_RECALL"]) == 0
    (rejects,) = out.glob("rejects-notes-*.jsonl")
    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert {line["question_type"] for line in lines} == {"INFERENCE"}
    assert all(
        line["reason"] == "invalid_json" and [a["text"] for a in line["attempts"]] == ["garbage"] * 2 for line in lines
    )
    (train,) = out.glob("train-*.json")
    assert all(not r["messages"][1]["content"].startswith("<think>") for r in json.loads(train.read_text()))


def test_unknown_backend_is_a_config_error(docs_dir, tmp_path, capsys):
    write_small_doc(docs_dir)
    assert main(["--docs-dir", str(docs_dir), "--output-dir", str(tmp_path / "o"), "--backend", "tpu"]) == 2
    assert "BACKEND must be one of auto, lmdeploy, openai, embedded, got 'tpu'" in capsys.readouterr().err

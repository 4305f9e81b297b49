"""The verify pass: answerability and judge verdicts, failures, journaling and the report.

The scripted engine answers verify requests only from what each request says:
the cited sentences, the question and the answer written in its text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from generate_synthetic_data import EXIT_UNFINISHED, main
from utilities.engines.base import EngineRequest, EngineResult, TextPart
from utilities.verify import AUTO_VERIFIERS, agreement

from .helpers import valid_reply, write_small_doc

TYPES = "FACTUAL_RECALL,INFERENCE"


def text_of(request: EngineRequest) -> str:
    return "".join(p.text for p in request.parts if isinstance(p, TextPart))


def is_verify(request: EngineRequest, mode: str) -> bool:
    fields = request.schema.get("properties", {})
    return {"answerability": "answerable", "judge": "faithful", "locate": "sentence"}[mode] in fields


def cited(request: EngineRequest) -> str:
    block = text_of(request).split("## Sentences cited for this pair", 1)[1].split("# Question", 1)[0]
    return " ".join(line[2:] for line in block.strip().splitlines() if line.startswith("- "))


def question(request: EngineRequest) -> str:
    return text_of(request).split("# Question\n\n", 1)[1].split("\n", 1)[0]


rerun_cited = valid_reply  # generation replies, and honest verdicts for verify requests


def run(docs: Path, out: Path, *extra: str) -> int:
    args = ["--docs-dir", str(docs), "--output-dir", str(out), "--backend", "fake", "--question-types", TYPES]
    return main([*args, "--questions-per-request", "2", *extra])


def report_of(out: Path) -> dict:
    return json.loads(max(out.glob("report-*.json"), key=lambda p: p.stat().st_mtime_ns).read_text())


def kept(out: Path) -> list[dict]:
    return [r for f in sorted(out.glob("train-*.json")) for r in json.loads(f.read_text())]


def rejected_pairs(out: Path) -> list[dict]:
    lines = [json.loads(x) for f in out.glob("rejects-*.jsonl") for x in f.read_text().splitlines()]
    return [x for x in lines if x["kind"] == "pair"]


def test_agreement_near_misses():
    assert agreement("Ride.", "Ride built the first prototype of the engine.") == 1.0, "a short fact inside a sentence"
    paraphrase = agreement(
        "The reserve price is BLOB_BASE_COST times the execution base fee.",
        "It equals BLOB_BASE_COST multiplied by the execution base fee.",
    )
    assert paraphrase >= 0.5
    assert agreement("The reserve price is BLOB_BASE_COST times the base fee.", "Blocks are produced every 12 s.") == 0
    one_word = agreement(
        "Cargo publishes crates to crates.io with an API token stored in credentials.",
        "Cargo caches downloaded dependencies in the registry folder of the home directory.",
    )
    assert 0 < one_word < 0.3, "sharing only the subject is not agreement"
    assert agreement("", "anything") == 0.0


def test_answerability_keeps_pairs_the_source_answers_and_rejects_others(docs_dir, fake_backend, tmp_path):
    write_small_doc(docs_dir)
    out = tmp_path / "out"
    fake_backend.default = rerun_cited
    assert run(docs_dir, out, "--verify", "answerability") == 0
    report = report_of(out)
    sent = [r for r in fake_backend.history if is_verify(r, "answerability")]
    assert report["verify"]["modes"] == ["answerability"]
    assert report["verify"]["requests"] == len(sent) == len(kept(out)) > 0
    assert report["verify"]["completion_tokens"] > 0
    assert all("answerability" in r["metadata"]["verify"] for r in kept(out))
    totals = report["totals"]
    assert totals["pairs_accepted"] + sum(totals["pair_rejections"].values()) == totals["pairs_generated"]

    # Same documents, a verifier that answers something else for every other pair.
    out2 = tmp_path / "out2"
    fake_backend.history.clear()
    flip = {"n": 0}

    def contrary(request: EngineRequest) -> str:
        if is_verify(request, "answerability"):
            flip["n"] += 1
            if flip["n"] % 2:
                return json.dumps({"answerable": True, "answer": "Validators vote on finality every epoch."})
        return rerun_cited(request)

    fake_backend.default = contrary
    # The generation replies are those of the first run, so the same pairs reach the verifier: the first of each two
    # is answered wrongly and rejected, the second answered honestly and kept. With more than one, some pair is kept,
    # so the run succeeds (exit 1 would mean none was).
    assert run(docs_dir, out2, "--verify", "answerability", "--fresh") == 0
    assert flip["n"] == report_of(out2)["verify"]["requests"] == len(kept(out)) > 1
    rejected = [p for p in rejected_pairs(out2) if p["gate"] == "answerability"]
    assert len(rejected) == (flip["n"] + 1) // 2 > 0
    assert all(p["verify"]["answerability"]["answer"].startswith("Validators") for p in rejected)
    assert report_of(out2)["verify"]["rejections"]["answerability"] == len(rejected)
    assert len(kept(out2)) == flip["n"] - len(rejected) > 0
    assert not any(r["metadata"]["verify"]["answerability"]["answer"].startswith("Validators") for r in kept(out2))


def test_unanswerable_and_judge_scores_reject(docs_dir, fake_backend, tmp_path):
    write_small_doc(docs_dir)
    out = tmp_path / "out"

    def strict(request: EngineRequest) -> str:
        if is_verify(request, "answerability"):
            answerable = "INFERENCE" not in request.id  # the id is the verify key: it names the pair's request
            return json.dumps({"answerable": answerable, "answer": cited(request) if answerable else ""})
        if is_verify(request, "judge"):
            low = "reserve" in question(request).lower()
            rating = {"reason": "named", "score": 5}
            useless = {"reason": "restates the source without a point", "score": 2}
            return json.dumps({"faithful": rating, "self_contained": rating, "useful": useless if low else rating})
        return valid_reply(request)

    fake_backend.default = strict
    code = run(docs_dir, out, "--verify", "answerability,judge")
    report = report_of(out)
    rejections = report["verify"]["rejections"]
    judged = [r for r in fake_backend.history if is_verify(r, "judge")]
    low = [r for r in judged if "reserve" in question(r).lower()]
    unanswerable = [r for r in fake_backend.history if is_verify(r, "answerability") and "INFERENCE" in r.id]
    assert rejections["answerability"] == len(unanswerable) > 0
    assert rejections["judge"] == len([r for r in low if "INFERENCE" not in r.id]) > 0
    judge_lines = [p for p in rejected_pairs(out) if p["gate"] == "judge"]
    assert all("useful 2" in p["detail"] for p in judge_lines)
    assert code == 0 and kept(out), "the pairs no verifier rejected are kept"
    questions = [r["messages"][0]["content"][0]["text"].lower() for r in kept(out)]
    assert questions and not any("reserve" in q for q in questions)


def test_a_verifier_that_never_replies_validly_rejects_its_pairs(docs_dir, fake_backend, tmp_path):
    write_small_doc(docs_dir)
    out = tmp_path / "out"
    fake_backend.default = lambda r: "not json" if is_verify(r, "answerability") else valid_reply(r)
    assert run(docs_dir, out, "--verify", "answerability", "--max-retries", "1") == 1
    report = report_of(out)
    survivors = report["verify"]["requests"]
    assert survivors > 0 and report["verify"]["rejections"]["verify_failed"] == survivors
    assert report["verify"]["reply_failures"] == {"invalid_json": 2 * survivors}, "one retry each"
    assert not kept(out)


def test_verify_requests_are_journaled_and_a_rerun_resumes_them(docs_dir, fake_backend, tmp_path):
    write_small_doc(docs_dir)
    out = tmp_path / "out"
    engine_down = EngineResult(error="server gone", finish_reason="error", transient=True)
    fake_backend.default = lambda r: engine_down if is_verify(r, "answerability") else valid_reply(r)
    assert run(docs_dir, out, "--verify", "answerability") == EXIT_UNFINISHED
    assert not kept(out), "nothing is written before every verify request is finished"
    generated = len(fake_backend.history)

    fake_backend.history.clear()
    fake_backend.default = rerun_cited
    assert run(docs_dir, out, "--verify", "answerability") == 0
    assert fake_backend.history and all(is_verify(r, "answerability") for r in fake_backend.history)
    assert generated > len(fake_backend.history), "generation was not repeated"
    n_kept = len(kept(out))
    assert n_kept == len(fake_backend.history)

    fake_backend.history.clear()
    assert run(docs_dir, out, "--verify", "answerability") == 0
    assert fake_backend.history == [] and len(kept(out)) == n_kept, "the same command finds its set written"
    assert run(docs_dir, out, "--verify", "answerability", "--dedup-threshold", "0.91") == 0
    assert fake_backend.history == [], "every verdict came from the journal"
    assert len(kept(out)) == 2 * n_kept, "another gate setting: a second set, gated again from the journal"
    assert report_of(out)["verify"]["resumed"] == n_kept


@pytest.mark.parametrize(
    ("backend", "modes"), [("embedded", ()), ("lmdeploy", AUTO_VERIFIERS), ("openai", AUTO_VERIFIERS)]
)
def test_auto_verify_is_what_each_engine_declares(backend, modes):
    from utilities.config import load_config
    from utilities.verify import VerifySettings

    config = load_config(["--backend", backend], {})
    assert VerifySettings.from_config(config, backend).modes == modes
    none = load_config(["--verify", "none"], {})
    assert VerifySettings.from_config(none, backend).modes == ()


def test_verify_prompts_do_not_show_the_answer_to_answerability(docs_dir, fake_backend, tmp_path):
    write_small_doc(docs_dir)
    fake_backend.default = rerun_cited
    assert run(docs_dir, tmp_path / "out", "--verify", "answerability,judge") == 0
    verify = [r for r in fake_backend.history if is_verify(r, "answerability") or is_verify(r, "judge")]
    assert len(verify) == 2 * len(kept(tmp_path / "out")) > 0
    for request in verify:
        has_answer = re.search(r"# Answer\n\n\S", text_of(request)) is not None
        assert has_answer == is_verify(request, "judge"), "answerability never sees the pair's answer"
        assert request.temperature < 0.5 and question(request).endswith("?")
    # each verifier's requests about one section form one cache group, as the generation requests did
    generation = {r.cache_group for r in fake_backend.history if r not in verify}
    for request in verify:
        mode, group = request.cache_group.split(":", 1)
        assert is_verify(request, mode) and group in generation and group.startswith("notes#")


def test_judge_threshold_near_misses():
    from utilities.config import VerifyChoice
    from utilities.verify import VerifySettings, judge_problem

    def rated(*scores):
        return {n: {"reason": f"r{n}", "score": s} for n, s in zip(("faithful", "self_contained", "useful"), scores)}

    settings = VerifySettings(modes=("judge",), choice=VerifyChoice(judge_min_score=3))
    assert judge_problem("judge", rated(3, 3, 3), None, settings) is None, "at the threshold is kept"
    problem = judge_problem("judge", rated(3, 2, 5), None, settings)
    assert problem == "self_contained 2: rself_contained", "one criterion under it rejects, with its reason"
    strict = VerifySettings(modes=("judge",), choice=VerifyChoice(judge_min_score=4))
    assert judge_problem("judge", rated(3, 3, 3), None, strict).count(":") == 3


def listed(request: EngineRequest) -> dict[int, str]:
    """The numbered sentences of a locate request."""
    block = text_of(request).split("# Question", 1)[0]
    return {int(n): sentence for n, sentence in re.findall(r"^\[(\d+)\] (.+)$", block, re.MULTILINE)}


def test_locate_keeps_pairs_whose_located_sentence_supports_them(docs_dir, fake_backend, tmp_path):
    write_small_doc(docs_dir)
    out = tmp_path / "out"
    fake_backend.default = rerun_cited  # locates the listed sentence sharing most words with the question
    assert run(docs_dir, out, "--verify", "locate") == 0
    located = [r for r in fake_backend.history if is_verify(r, "locate")]
    assert len(located) == len(kept(out)) > 1
    for request in located:
        assert "# Answer" not in text_of(request) and request.temperature < 0.5
        assert len(listed(request)) > 1 and request.schema["properties"]["sentence"]["enum"][0] == 0
    assert all(isinstance(r["metadata"]["verify"]["locate"]["sentence"], int) for r in kept(out))

    # the same pairs; every other one located in a sentence that says something else, or in none
    out2 = tmp_path / "out2"
    fake_backend.history.clear()
    calls = {"n": 0}

    def misplaced(request: EngineRequest) -> str:
        if not is_verify(request, "locate"):
            return rerun_cited(request)
        calls["n"] += 1
        if calls["n"] % 2:
            return rerun_cited(request)
        if calls["n"] % 4 == 0:
            return json.dumps({"sentence": 0})
        asked = set(question(request).lower().split())
        sentences = listed(request)
        return json.dumps({"sentence": min(sentences, key=lambda n: len(asked & set(sentences[n].lower().split())))})

    fake_backend.default = misplaced
    assert run(docs_dir, out2, "--verify", "locate", "--fresh") == 0
    rejected = [p for p in rejected_pairs(out2) if p["gate"] == "locate"]
    assert len(rejected) == calls["n"] // 2 > 0 and len(kept(out2)) == calls["n"] - len(rejected)
    assert all(
        p["detail"] == "the verifier found no sentence that answers the question"
        or re.match(r"the verifier located the answer in sentence \d+, which does not support it: ", p["detail"])
        for p in rejected
    )
    assert any("which does not support it" in p["detail"] for p in rejected)
    assert any("no sentence" in p["detail"] for p in rejected)


def test_locate_verdict_near_misses():
    """The located sentence keeps a pair when it is among the pair's supporting evidence, or supports its answer
    on its own; it rejects a pair when it is another sentence, or none."""
    from models.question_types import QuestionType
    from models.records import GatedPair, ParsedPair, PlannedRequest, RequestOutcome, RequestSources
    from utilities.verify import VerifySettings, judge_problem

    quotes = (
        "The reserve price is BLOB_BASE_COST times the execution base fee.",
        "The reserve price keeps the blob fee market responsive when execution costs dominate.",
        "Full nodes sample eight columns each slot.",
    )
    planned = PlannedRequest("eip", 0, QuestionType.FACTUAL_RECALL, (), (), 1, ())
    request = RequestSources(planned, "eip#0:FACTUAL_RECALL", (), (" ".join(quotes),), quotes)
    pair = ParsedPair(
        "What is the reserve price?", "The reserve price is BLOB_BASE_COST times the execution base fee.", (), (), ()
    )
    gated = GatedPair(pair, RequestOutcome(request, "accepted", (pair,)), 0, evidence=(quotes[1],))
    settings = VerifySettings(modes=("locate",))
    assert judge_problem("locate", {"sentence": 2}, gated, settings) is None, "a sentence of its evidence"
    assert judge_problem("locate", {"sentence": 1}, gated, settings) is None, "not cited, but it states the answer"
    other = judge_problem("locate", {"sentence": 3}, gated, settings)
    assert other.startswith("the verifier located the answer in sentence 3, which does not support it")
    assert judge_problem("locate", {"sentence": 0}, gated, settings) == (
        "the verifier found no sentence that answers the question"
    )

"""The run report: numbers add up, keys are documented, files are written."""

from __future__ import annotations

import json

import pytest

from generate_synthetic_data import main
from utilities.check_image_urls import check_all_output_files
from utilities.engines.base import EngineRequest
from utilities.report import MIN_VERDICTS, STAGES, format_markdown, format_table, lopsided_verdicts

from .conftest import PROJECT_ROOT
from .helpers import smollm2_gguf, valid_reply, write_small_doc

ROW_KEYS = {
    "requests",
    "requests_accepted",
    "requests_rejected",
    "pairs_generated",
    "pairs_accepted",
    "pair_rejections",
    "difficulty",
    "verdicts",
    "images_attached",
    "prompt_tokens",
    "prompt_tokens_cached",
    "completion_tokens",
    "mean_grounding",
    "accepted_pairs_per_1k_completion_tokens",
}
REPORT_KEYS = {
    "schema_version",
    "created",
    "engine",
    "settings",
    "resumed_requests",
    "engine_calls",
    "reply_failures",
    "this_process",
    "documents",
    "question_types",
    "totals",
    "verify",
    "sections_skipped",
}


def assert_adds_up(report: dict) -> None:
    rows = [*report["documents"].values(), *report["question_types"].values(), report["totals"]]
    for row in rows:
        assert set(row) == ROW_KEYS
        assert row["pairs_accepted"] + sum(row["pair_rejections"].values()) == row["pairs_generated"]
        assert row["requests_accepted"] + sum(row["requests_rejected"].values()) == row["requests"]
        assert sum(row["difficulty"].values()) == row["pairs_accepted"]
    totals = report["totals"]
    assert totals["requests"] > 0, "a report of no requests: every sum above holds of nothing"
    for key in ("requests", "pairs_generated", "pairs_accepted", "completion_tokens", "images_attached"):
        assert 0 <= totals["prompt_tokens_cached"] <= totals["prompt_tokens"]
        assert sum(r[key] for r in report["documents"].values()) == totals[key]
        assert sum(r[key] for r in report["question_types"].values()) == totals[key]


def messy_reply(request: EngineRequest) -> str:
    """Valid JSON whose pairs fail different gates, and some failed replies."""
    if ":INFERENCE" in request.id:
        return "not json"
    data = json.loads(valid_reply(request))
    if ":FACTUAL_RECALL" in request.id:
        data["pairs"][0]["question"] = "According to the text, " + data["pairs"][0]["question"]
        data["pairs"][-1]["answer"] = "Miners negotiate tariffs quarterly through governance councils and auctions."
    return json.dumps(data)


def test_report_files_and_numbers_add_up(docs_dir, tmp_path, fake_backend, capsys):
    fake_backend.default = messy_reply
    write_small_doc(docs_dir)
    out = tmp_path / "out"
    args = ["--docs-dir", str(docs_dir), "--output-dir", str(out), "--backend", "fake", "--max-retries", "1"]
    assert main([*args, "--question-types", "FACTUAL_RECALL,INFERENCE,MULTI_HOP_REASONING,SECTION_SUMMARY"]) == 0
    (report_file,) = out.glob("report-*.json")
    (markdown,) = out.glob("report-*.md")
    report = json.loads(report_file.read_text())
    assert set(report) == REPORT_KEYS
    assert_adds_up(report)
    totals = report["totals"]
    assert totals["requests_rejected"] == {"invalid_json": 2}
    assert totals["pair_rejections"]["self_contained"] == 2 and totals["pair_rejections"]["evidence_support"] == 2
    summaries = report["question_types"]["SECTION_SUMMARY"]
    assert summaries["pairs_accepted"] > 0 and summaries["difficulty"] == {"medium": summaries["pairs_accepted"]}
    assert report["engine"] == {"backend": "fake"} and report["settings"]["API_KEY"] == ""
    assert report["reply_failures"] == {"invalid_json": 4}
    kept = sum(len(json.loads(f.read_text())) for f in out.glob("*-synthetic-data-*.json"))
    assert kept == totals["pairs_accepted"]
    rejects = [json.loads(line) for f in out.glob("rejects-*.jsonl") for line in f.read_text().splitlines()]
    assert sum(r["kind"] == "pair" for r in rejects) == sum(totals["pair_rejections"].values())
    assert sum(r["kind"] == "request" for r in rejects) == 2
    printed = capsys.readouterr().out
    assert "TOTAL" in printed and "self-cont" in printed
    assert "| TOTAL |" in markdown.read_text()


def test_readme_documents_every_report_key():
    readme = (PROJECT_ROOT / "README.md").read_text()
    for key in [*REPORT_KEYS, *ROW_KEYS, *STAGES]:
        assert f"`{key}`" in readme, key


@pytest.mark.slow
def test_three_shared_documents_with_the_embedded_model(corpus_copy, tmp_path):
    out = tmp_path / "out"
    code = main(
        [
            "--docs-dir", str(corpus_copy), "--output-dir", str(out), "--backend", "embedded",
            "--llamacpp-model", str(smollm2_gguf()),
            "--question-types", "SECTION_SUMMARY", "--questions-per-request", "1", "--limit-sections", "3",
            "--max-answer-chars", "400", "--max-new-tokens", "1024", "--llamacpp-ctx", "8192",
        ]
    )  # fmt: skip
    (report_file,) = out.glob("report-*.json")
    report = json.loads(report_file.read_text())
    assert_adds_up(report)
    assert set(report["documents"]) == {"aosa500_image_filters", "eip_7918_blob_base_fee", "rust_book_ch14_cargo"}
    # The first three sections of each document, less the chapter's preamble (an author biography) and the EIP's
    # 'Specification > Parameters' (5 words of text, under MIN_SECTION_WORDS): 2 + 2 + 3. The whole corpus
    # (59 requests) took 505 s of test time for the same checks.
    assert report["totals"]["requests"] == 2 + 2 + 3
    assert {name: row["requests"] for name, row in report["documents"].items()} == {
        "aosa500_image_filters": 2, "eip_7918_blob_base_fee": 2, "rust_book_ch14_cargo": 3,
    }  # fmt: skip
    totals = report["totals"]
    # Every request was sent and paid for in tokens, and each the model answered gave the gates its one pair: a run
    # whose requests all failed, or whose pairs went nowhere, fails here rather than passing the checks below empty.
    assert report["resumed_requests"] == 0 and report["engine_calls"] >= totals["requests"]
    for row in [*report["documents"].values(), totals]:
        assert row["prompt_tokens"] > 0 and row["completion_tokens"] > 0, row
    assert totals["pairs_generated"] == totals["requests_accepted"] > 0
    # Each generated pair is in the output: kept in a data file, or in a rejects file with its gate.
    kept = [r for f in out.glob("*-synthetic-data-*.json") for r in json.loads(f.read_text())]
    rejects = [json.loads(line) for f in out.glob("rejects-*.jsonl") for line in f.read_text().splitlines()]
    assert len(kept) == totals["pairs_accepted"]
    assert sum(r["kind"] == "pair" for r in rejects) == sum(totals["pair_rejections"].values())
    assert len(kept) + sum(r["kind"] == "pair" for r in rejects) == totals["pairs_generated"]
    assert code == (0 if totals["pairs_accepted"] else 1)
    assert check_all_output_files(out, corpus_copy, verbose=False).ok


def test_kept_true_or_false_verdicts_are_counted_and_a_lopsided_balance_is_warned(docs_dir, tmp_path, fake_backend):
    write_small_doc(docs_dir)
    out = tmp_path / "out"
    sentences = (  # true-or-false items of the small document, as records of another tool, with their evidence
        "The blob base fee is bounded below by a reserve price.",
        "The reserve price equals BLOB_BASE_COST times the execution base fee, so blob pricing stays responsive.",
        "When the reserve price binds, the excess blob gas is not reduced by the target.",
    )
    records = tmp_path / "items.jsonl"
    lines = [
        {
            "messages": [{"role": "user", "content": f"True or false: {s}"}, {"role": "assistant", "content": "True"}],
            "question_type": "TRUE_FALSE_FILL_BLANK",
            "metadata": {"evidence": [s]},
        }
        for s in sentences
    ] + [
        {
            "messages": [
                {"role": "user", "content": "What is the blob base fee bounded below by?"},
                {"role": "assistant", "content": "A reserve price."},
            ],
            "question_type": "FACTUAL_RECALL",
        }
    ]
    records.write_text("".join(json.dumps(line) + "\n" for line in lines))
    args = ["--docs-dir", str(docs_dir), "--output-dir", str(out), "--verify", "none"]
    assert main(["--curate", str(records), *args]) == 0
    report = json.loads(next(out.glob("report-curate-*.json")).read_text())
    kept = report["question_types"]["TRUE_FALSE_FILL_BLANK"]["pairs_accepted"]
    assert kept > 0 and report["totals"]["verdicts"] == {"True": kept}  # every item was answered True
    assert report["question_types"]["FACTUAL_RECALL"]["verdicts"] == {}
    assert kept < MIN_VERDICTS and lopsided_verdicts(report) is None
    for verdicts, warned in (
        ({"True": 9, "False": 1}, True),  # 90%
        ({"True": 8, "False": 2}, False),  # near miss: 80%
        ({"True": 5}, False),  # near miss: five, below MIN_VERDICTS
        ({"True": 6}, True),
        ({"False": 12}, True),
    ):
        report["totals"]["verdicts"] = verdicts
        warning = lopsided_verdicts(report)
        assert (warning is not None) is warned, verdicts
        if warned:
            answer = max(verdicts, key=verdicts.get)
            assert f"{verdicts[answer]} of the {sum(verdicts.values())} kept" in warning
            assert f"answered {answer}" in warning
            assert warning in format_table(report) and warning in format_markdown(report)

"""The CLI in-process: dry run, plan file contract, folder checks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generate_synthetic_data import main
from models.question_types import QuestionType

from .conftest import PROJECT_ROOT, SHARED_DOCUMENTS
from .helpers import write_small_doc
from .test_config import one_error_line

PLAN_KEYS = {"schema_version", "created", "settings", "documents", "skipped", "totals"}
DOCUMENT_KEYS = {
    "name",
    "path",
    "metadata",
    "words",
    "figures",
    "facts",
    "planned_requests",
    "estimated_prompt_tokens",
    "warnings",
    "sections_skipped",
    "sections",
}
SECTION_KEYS = {"index", "title", "text", "figures", "related", "facts"}


def dry_run(docs: Path, out: Path, *extra: str) -> int:
    return main(["--dry-run", "--docs-dir", str(docs), "--output-dir", str(out), *extra])


def read_plan(out: Path) -> dict:
    (plan_file,) = sorted(out.glob("plan-*.json"))
    return json.loads(plan_file.read_text())


def test_dry_run_on_shared_corpus_writes_the_documented_plan(corpus_copy, tmp_path, capsys):
    out = tmp_path / "out"
    assert dry_run(corpus_copy, out) == 0
    plan = read_plan(out)
    assert set(plan) == PLAN_KEYS
    assert [d["name"] for d in plan["documents"]] == [
        "aosa500_image_filters",
        "eip_7918_blob_base_fee",
        "rust_book_ch14_cargo",
    ]
    for doc in plan["documents"]:
        assert set(doc) == DOCUMENT_KEYS
        assert doc["figures"]["missing"] == []
        assert set(doc["planned_requests"]) == {qt.value for qt in QuestionType}
        for section in doc["sections"]:
            assert set(section) == SECTION_KEYS
            for figure in section["figures"]:
                assert (corpus_copy / figure["path"]).is_file()
            for related in section["related"]:
                assert related["index"] != section["index"] and 0 < related["similarity"] <= 1
    eip = plan["documents"][1]
    assert eip["metadata"]["title"] == "Blob base fee bounded by execution cost"
    assert eip["facts"] == sum(s["facts"] for s in eip["sections"])
    assert plan["totals"]["requests"] == sum(sum(d["planned_requests"].values()) for d in plan["documents"])
    printed = capsys.readouterr().out
    assert "eip_7918_blob_base_fee: 11 sections" in printed and "figures 5/5 resolved" in printed
    # a one-row table and a copyright line get no requests, and the plan says so
    assert [(s["index"], s["title"]) for s in eip["sections_skipped"]] == [
        (2, "Specification > Parameters"),
        (10, "Copyright"),
    ]
    assert "no requests for section 10 'Copyright': 7 words of text, fewer than MIN_SECTION_WORDS=25" in printed


def test_min_section_words_zero_plans_every_section(corpus_copy, tmp_path):
    assert dry_run(corpus_copy, tmp_path / "a", "--question-types", "INFERENCE") == 0
    assert dry_run(corpus_copy, tmp_path / "b", "--question-types", "INFERENCE", "--min-section-words", "0") == 0
    default, every = read_plan(tmp_path / "a"), read_plan(tmp_path / "b")
    skipped = sum(len(d["sections_skipped"]) for d in default["documents"])
    assert skipped >= 3 and all(d["sections_skipped"] == [] for d in every["documents"])
    assert every["totals"]["requests"] == default["totals"]["requests"] + skipped == every["totals"]["sections"]


def test_dry_run_loads_no_engine_library(corpus_copy, tmp_path):
    import sys

    assert dry_run(corpus_copy, tmp_path / "out") == 0
    assert "lmdeploy" not in sys.modules and "torch" not in sys.modules


def test_question_types_and_pairs_per_request_shape_the_plan(corpus_copy, tmp_path):
    out = tmp_path / "out"
    assert (
        dry_run(corpus_copy, out, "--question-types", "FACT_BASED,MULTI_HOP_REASONING", "--questions-per-request", "4")
        == 0
    )
    plan = read_plan(out)
    eip = plan["documents"][1]
    assert set(eip["planned_requests"]) == {"FACT_BASED", "MULTI_HOP_REASONING"}
    skipped = {s["index"] for s in eip["sections_skipped"]}
    planned = [s for s in eip["sections"] if s["index"] not in skipped]
    assert eip["planned_requests"]["FACT_BASED"] == sum(-(-s["facts"] // 4) for s in planned)
    assert eip["planned_requests"]["MULTI_HOP_REASONING"] == sum(1 for s in planned if s["related"])


def test_two_runs_in_the_same_second_never_overwrite_a_plan(corpus_copy, tmp_path):
    out = tmp_path / "out"
    for _ in range(3):
        assert dry_run(corpus_copy, out) == 0
    assert len(list(out.glob("plan-*.json"))) == 3


def test_bad_documents_are_listed_in_the_plan_and_the_run_continues(docs_dir, tmp_path):
    (docs_dir / "good.md").write_text("# Good\nA fine document with some words in it.\n")
    (docs_dir / "bad.md").write_bytes(b"\xff\xfe\x00binary")
    out = tmp_path / "out"
    assert dry_run(docs_dir, out) == 0
    plan = read_plan(out)
    assert [d["name"] for d in plan["documents"]] == ["good"]
    assert plan["skipped"] == [{"path": "bad.md", "reason": "is a binary file (contains NUL bytes), not markdown"}]


def test_no_usable_document_exits_1(docs_dir, tmp_path):
    (docs_dir / "empty.md").write_text("")
    assert dry_run(docs_dir, tmp_path / "out") == 1


def test_missing_docs_folder_and_output_inside_docs_are_refused(docs_dir, tmp_path, capsys):
    assert dry_run(tmp_path / "nope", tmp_path / "out") == 2
    assert "MARKDOWN_DOCS_DIR must be an existing folder" in capsys.readouterr().err
    assert dry_run(docs_dir, docs_dir / "out") == 2
    assert "OUTPUT_DIR must not be inside MARKDOWN_DOCS_DIR" in capsys.readouterr().err
    assert dry_run(docs_dir, docs_dir) == 2


@pytest.mark.parametrize(
    ("where", "problem"),
    [
        ("under_a_file", "Not a directory"),
        ("a_file", "Not a directory"),
        ("/proc/out", "No such file or directory"),
        ("/sys/kernel/out", "Operation not permitted"),
    ],
)
def test_output_dir_that_cannot_be_written_is_one_line_exit_2_before_any_document_is_read(
    docs_dir, tmp_path, capsys, where, problem
):
    write_small_doc(docs_dir)
    (tmp_path / "a_file").write_text("mine")
    out = {"under_a_file": tmp_path / "a_file" / "out", "a_file": tmp_path / "a_file"}.get(where, Path(where))
    assert dry_run(docs_dir, out) == 2
    captured = capsys.readouterr()
    err = one_error_line(captured.err)
    assert f"OUTPUT_DIR must be a folder this tool can create and write to, got '{out}' ({problem})" in err
    assert captured.out == "", "checked before the documents are read and planned"
    assert (tmp_path / "a_file").read_text() == "mine"


def test_the_script_as_a_user_runs_it_reports_bad_input_in_one_line(docs_dir, tmp_path):
    write_small_doc(docs_dir)
    (tmp_path / "a_file").write_text("")
    cases = [
        (["--output-dir", str(tmp_path / "a_file" / "out")], "OUTPUT_DIR must be a folder this tool can create"),
        (["--env-file", "/nonexistent.env"], "--env-file /nonexistent.env: No such file or directory"),
    ]
    for args, message in cases:
        command = [sys.executable, str(PROJECT_ROOT / "generate_synthetic_data.py"), "--dry-run", "--docs-dir"]
        done = subprocess.run([*command, str(docs_dir), *args], capture_output=True, text=True, timeout=120)
        assert (done.returncode, done.stdout) == (2, ""), done.stderr
        assert message in one_error_line(done.stderr)


def test_the_write_probe_leaves_nothing_behind(docs_dir, tmp_path):
    write_small_doc(docs_dir)
    out = tmp_path / "out"
    assert dry_run(docs_dir, out) == 0
    assert [p.name for p in out.iterdir()] == [next(out.glob("plan-*.json")).name]


def test_shipped_sample_plans_from_the_project_root(tmp_path, monkeypatch):
    sample = tmp_path / "project"
    shutil.copytree(PROJECT_ROOT / "markdown_docs", sample / "markdown_docs")
    monkeypatch.chdir(sample)
    assert main(["--dry-run"]) == 0
    plan = read_plan(sample / "output")
    assert [d["name"] for d in plan["documents"]] == ["eip_7918_blob_base_fee"]
    assert plan["totals"]["figures_resolved"] == 5


def test_help_lists_every_setting_with_its_env_name(capsys):
    from utilities.config import SETTINGS

    assert main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for setting in SETTINGS:
        assert setting.flag in text and f"env {setting.env}" in text


def test_limit_sections_plans_only_the_first_sections(corpus_copy, tmp_path):
    out = tmp_path / "out"
    assert dry_run(corpus_copy, out, "--limit-sections", "2", "--question-types", "SECTION_SUMMARY") == 0
    plan = read_plan(out)
    # the chapter's first section is its author's biography: no substance, no request
    assert [d["planned_requests"] for d in plan["documents"]] == [{"SECTION_SUMMARY": 1}, *[{"SECTION_SUMMARY": 2}] * 2]
    assert "a biography" in plan["documents"][0]["sections_skipped"][0]["reason"]
    assert all(len(d["sections"]) > 2 for d in plan["documents"]), "the plan still describes every section"


def write_badly_named_document(docs: Path) -> None:
    Path(os.fsdecode(os.fsencode(docs) + b"/bad\xff.md")).write_text("# Bad name\nA fine body under a bad name.\n")


def test_a_file_name_that_is_not_utf8_is_skipped_and_the_plan_written(corpus_copy, tmp_path, caplog):
    write_badly_named_document(corpus_copy)
    out = tmp_path / "out"
    assert dry_run(corpus_copy, out) == 0
    plan = read_plan(out)
    assert [d["name"] for d in plan["documents"]] == list(SHARED_DOCUMENTS)
    assert plan["skipped"] == [{"path": r"b'bad\xff.md'", "reason": "file name is not valid UTF-8"}]
    assert r"b'bad\xff.md': file name is not valid UTF-8; skipped" in caplog.messages


def test_a_run_goes_on_past_a_file_name_that_is_not_utf8(docs_dir, tmp_path, fake_backend):
    write_small_doc(docs_dir)
    write_badly_named_document(docs_dir)
    out = tmp_path / "out"
    args = ["--docs-dir", str(docs_dir), "--output-dir", str(out), "--backend", "fake", "--questions-per-request", "1"]
    assert main(args) == 0
    assert {r["metadata"]["document"] for f in out.glob("train-*.json") for r in json.loads(f.read_text())} == {"notes"}
    assert main(args) == 0, "a rerun resumes past the same file"


def test_a_yaml_alias_bomb_in_frontmatter_is_ignored_and_the_plan_stays_small(docs_dir, tmp_path, caplog):
    from .test_documents import ALIAS_BOMB

    (docs_dir / "bomb.md").write_text(f"---\n{ALIAS_BOMB}---\n# Body\nThe body of this document is still used.\n")
    out = tmp_path / "out"
    assert dry_run(docs_dir, out) == 0
    (plan_file,) = out.glob("plan-*.json")
    assert plan_file.stat().st_size < 20_000, "the frontmatter's expansion reached the plan"
    (document,) = read_plan(out)["documents"]
    assert document["metadata"] == {} and document["sections"][0]["title"] == "Body"
    assert any(m.startswith("bomb: YAML frontmatter expands to over") for m in caplog.messages)


def test_limit_sections_searches_related_sections_for_the_planned_ones_only(docs_dir, tmp_path):
    """The search is quadratic in the sections it serves: 50,000 sections took 110 s and 2.8 GB for one."""
    topics = ["blob fee market", "cargo workspace", "image filter", "gas target"]
    sections = [f"## Part {i}\nThe {topics[i % 4]} note {i} explains the {topics[i % 4]} again.\n" for i in range(400)]
    (docs_dir / "many.md").write_text("".join(sections))
    assert dry_run(docs_dir, tmp_path / "full") == 0
    assert dry_run(docs_dir, tmp_path / "trial", "--limit-sections", "2") == 0
    full, trial = (read_plan(tmp_path / name)["documents"][0]["sections"] for name in ("full", "trial"))
    assert all(s["related"] for s in full)
    assert [s["related"] for s in trial] == [s["related"] for s in full[:2]] + [[]] * 398

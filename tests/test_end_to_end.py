"""End to end with the real embedded model (SmolLM2-135M on llama.cpp): slow, and run in CI."""

from __future__ import annotations

import json

import pytest

from generate_synthetic_data import main
from models.question_types import QUESTION_TYPE_DIFFICULTY, QuestionType
from utilities.check_image_urls import check_all_output_files

from .helpers import write_small_doc


def spec_record_errors(record: dict) -> list[str]:
    """Differences from the specification's record format."""
    errors = []
    if set(record) - {"metadata"} != {"messages", "question_type", "difficulty"}:
        errors.append(f"keys {sorted(record)}")
    user, assistant = record["messages"]
    if user["role"] != "user" or assistant["role"] != "assistant" or not isinstance(assistant["content"], str):
        errors.append("roles")
    if user["content"][0]["type"] != "text" or not user["content"][0]["text"].strip():
        errors.append("question text")
    for part in user["content"][1:]:
        if part["type"] != "image_url" or part["image_url"]["detail"] != "auto":
            errors.append(f"image part {part}")
    if QUESTION_TYPE_DIFFICULTY[QuestionType(record["question_type"])].value != record["difficulty"]:
        errors.append("difficulty")
    return errors


@pytest.mark.slow
def test_embedded_model_generates_every_question_type(docs_dir, tmp_path):
    write_small_doc(docs_dir)
    out = tmp_path / "out"
    code = main(
        [
            "--docs-dir", str(docs_dir), "--output-dir", str(out), "--backend", "embedded",
            "--questions-per-request", "1", "--max-answer-chars", "300", "--max-new-tokens", "1024",
            "--llamacpp-ctx", "4096", "--log-file", str(tmp_path / "run.log"),
        ]
    )  # fmt: skip
    assert code == 0, (tmp_path / "run.log").read_text()[-3000:]
    train = json.loads(next(out.glob("train-notes-synthetic-data-*.json")).read_text())
    evaluation = json.loads(next(out.glob("eval-notes-synthetic-data-*.json")).read_text())
    records = train + evaluation
    assert [e for r in records for e in spec_record_errors(r)] == []
    assert {r["question_type"] for r in evaluation} == {"SECTION_SUMMARY"}
    assert {r["question_type"] for r in records} == {qt.value for qt in QuestionType}
    assert check_all_output_files(out, docs_dir, verbose=False).ok
    log = (tmp_path / "run.log").read_text()
    assert "engine: embedded" in log and "completion tokens/s" in log

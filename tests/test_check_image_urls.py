"""The image checker: as a script from the project root, several files, --all, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from utilities.check_image_urls import check_all_output_files
from utilities.check_image_urls import main as checker_main

from .conftest import PROJECT_ROOT, write_png

QUESTION = (
    "What does the demand chart show about equilibrium formation"
    " when execution costs dominate the total cost of a blob?"
)


def record(*urls: str, question: str = QUESTION) -> dict:
    content = [{"type": "text", "text": question}]
    content += [{"type": "image_url", "image_url": {"url": u, "detail": "auto"}} for u in urls]
    return {
        "messages": [{"role": "user", "content": content}, {"role": "assistant", "content": "An answer."}],
        "question_type": "INFERENCE",
        "difficulty": "medium",
    }


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    docs = tmp_path / "docs"
    write_png(docs / "doc" / "FIGURE_1.png")
    out = tmp_path / "out"
    out.mkdir()
    return docs, out


def write(path: Path, records: list) -> Path:
    path.write_text(json.dumps(records))
    return path


def test_valid_file_exits_0(layout, capsys):
    docs, out = layout
    good = write(out / "train-doc-synthetic-data-2024-01-01_12-00-00.json", [record("doc/FIGURE_1.png")])
    assert checker_main([str(good), "--images-root", str(docs)]) == 0
    assert "All image paths in train-doc-synthetic-data-2024-01-01_12-00-00.json are valid." in capsys.readouterr().out


def test_invalid_path_is_reported_with_question_context_and_exits_1(layout, capsys):
    docs, out = layout
    bad = write(out / "train-x.json", [record("doc/FIGURE_1.png", "doc/missing_chart.png")])
    assert checker_main([str(bad), "--images-root", str(docs)]) == 1
    text = capsys.readouterr().out
    assert "Found 1 invalid image path(s) in train-x.json:" in text
    assert "- Image path: doc/missing_chart.png" in text
    assert f"  Context: {QUESTION[:100]}..." in text


def test_several_files_and_malformed_json_is_one_line_while_others_are_checked(layout, capsys):
    docs, out = layout
    broken = out / "train-broken.json"
    broken.write_text('[{"messages": ')
    good = write(out / "eval-good.json", [record("doc/FIGURE_1.png")])
    not_list = write(out / "train-dict.json", {"messages": []})  # type: ignore[arg-type]
    assert checker_main([str(broken), str(good), str(not_list), "--images-root", str(docs)]) == 1
    text = capsys.readouterr().out
    assert f"error: {broken}: malformed JSON at line 1 column 15" in text
    assert "All image paths in eval-good.json are valid." in text
    assert f"error: {not_list}: is not a dataset" in text


def test_all_checks_json_and_jsonl_but_skips_plans_and_reports(layout):
    docs, out = layout
    write(out / "train-a.json", [record("doc/FIGURE_1.png")])
    (out / "train-a.jsonl").write_text(json.dumps(record("doc/FIGURE_1.png")) + "\n")
    (out / "plan-2024-01-01_00-00-00.json").write_text(json.dumps({"documents": []}))
    (out / "report-2024-01-01_00-00-00.json").write_text(json.dumps({"totals": {}}))
    result = check_all_output_files(out, docs, verbose=False)
    assert result.ok and result.files_checked == 2 and result.images_checked == 2
    (out / "eval-b.jsonl").write_text(json.dumps(record("doc/nope.png")) + "\n")
    result = check_all_output_files(out, docs, verbose=False)
    assert not result.ok and [i.url for i in result.invalid] == ["doc/nope.png"]
    assert checker_main(["--all", str(out), "--images-root", str(docs)]) == 1


def test_internvl_and_sharegpt_image_keys_are_checked(layout):
    docs, out = layout
    write(out / "train-iv.json", [{"image": "doc/FIGURE_1.png", "conversations": []}])
    write(out / "train-sg.json", [{"images": ["doc/FIGURE_1.png", "doc/gone.png"], "conversations": []}])
    result = check_all_output_files(out, docs, verbose=False)
    assert [i.url for i in result.invalid] == ["doc/gone.png"] and result.images_checked == 3


def test_default_images_root_comes_from_markdown_docs_dir(layout, monkeypatch):
    docs, out = layout
    write(out / "train-a.json", [record("doc/FIGURE_1.png")])
    monkeypatch.setenv("MARKDOWN_DOCS_DIR", str(docs))
    assert check_all_output_files(out, verbose=False).ok
    monkeypatch.setenv("MARKDOWN_DOCS_DIR", str(out))
    assert not check_all_output_files(out, verbose=False).ok


def test_runs_as_a_script_from_the_project_root(layout):
    docs, out = layout
    good = write(out / "train-a.json", [record("doc/FIGURE_1.png")])
    write(out / "train-b.json", [record("doc/absent.png")])
    script = "utilities/check_image_urls.py"
    env = {"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "MARKDOWN_DOCS_DIR": str(docs)}
    ok = subprocess.run([sys.executable, script, str(good)], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    fail = subprocess.run(
        [sys.executable, script, "--all", str(out)], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )
    assert fail.returncode == 1 and "absent.png" in fail.stdout and "ModuleNotFoundError" not in fail.stderr
    assert "train-b.json" in fail.stdout


def test_no_arguments_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        checker_main([])
    assert exc.value.code == 2
    assert "error: name dataset files, or a folder with --all" in capsys.readouterr().err

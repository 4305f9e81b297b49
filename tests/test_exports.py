"""Every OUTPUT_FORMATS file is read back the way its consumer reads it.

phi, jsonl, internvl and sharegpt files load with ``datasets.load_dataset("json")``,
which is how LLaMA-Factory and TRL read local files; hf folders load with
``datasets.load_dataset(folder)``. InternVL's trainer and LLaMA-Factory's
converter cannot be installed here (CUDA, flash-attention), so the rules their
source applies to a record are checked as written there: InternVL's
``internvl_chat_finetune.py`` (meta keys, ``.jsonl`` annotation, ``root`` joined
to each image, one ``<image>`` per image) and LLaMA-Factory's ``parser.py`` /
``converter.py`` (dataset_info columns and tags, alternating roles, images
joined to ``media_dir`` = ``dataset_dir``, ``<image>`` count = images).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import datasets
from PIL import Image

from generate_synthetic_data import main
from models.question_types import QUESTION_TYPE_SPECS, Split
from models.records import Example
from utilities.check_image_urls import check_all_output_files, check_files
from utilities.outputs.files import json_array_chunks, write_new_file
from utilities.outputs.formats import (
    ExampleSpool,
    ImagePlacer,
    add_dataset_info,
    copy_image,
    internvl_record,
    write_exports,
)

from .conftest import write_png
from .helpers import allowed_figures, valid_reply, write_small_doc

ALL_FORMATS = "phi,jsonl,internvl,sharegpt,hf"

TWO_FIGURES_DOC = """# Signal heads

A signal head shows one aspect at a time to each approach. The red aspect is on
top and the green aspect is at the bottom of a vertical head, as both figures show.

{{FIGURE_2.1}}

**Figure 2.1** A vertical three-section signal head.

{{FIGURE_2.2}}

**Figure 2.2** A horizontal signal head with the red aspect on the left.

# Timing

The yellow change interval follows every green interval. Its length depends on
the approach speed and is usually between three and six seconds. An all-red
interval may follow it so that vehicles already in the junction can clear it.
"""


def two_figure_reply(request):
    """A valid reply whose pairs cite every figure the request allows (up to two)."""
    reply = json.loads(valid_reply(request))
    for pair in reply["pairs"]:
        pair["figures"] = allowed_figures(request)[:2]
    return json.dumps(reply)


@pytest.fixture
def generated(docs_dir: Path, tmp_path: Path, fake_backend):
    """A real run over two documents, one with a section of two figures, in every format."""
    write_small_doc(docs_dir)
    write_png(docs_dir / "signals" / "FIGURE_2.1.png", size=(40, 90), color=(10, 200, 10))
    write_png(docs_dir / "signals" / "FIGURE_2.2.png", size=(90, 40), color=(200, 200, 10))
    (docs_dir / "signals.md").write_text(TWO_FIGURES_DOC)
    fake_backend.default = two_figure_reply
    out = tmp_path / "out"
    code = main(
        ["--docs-dir", str(docs_dir), "--output-dir", str(out), "--backend", "fake", "--output-formats", ALL_FORMATS]
    )
    assert code == 0
    return docs_dir, out


def load_json(path: Path, tmp_path: Path) -> datasets.Dataset:
    return datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "hf-cache"))


def phi_records(out: Path) -> list[dict]:
    return [r for path in sorted(out.glob("*-synthetic-data-*.json")) for r in json.loads(path.read_text())]


def test_phi_is_unchanged_by_other_formats_and_loads_with_datasets(generated, tmp_path):
    docs, out = generated
    files = sorted(out.glob("*-synthetic-data-*.json"))
    assert [f.name.split("-synthetic")[0] for f in files] == [
        "eval-notes",
        "eval-signals",
        "train-notes",
        "train-signals",
    ]
    for path in files:
        rows = load_json(path, tmp_path).to_list()
        assert rows == json.loads(path.read_text())
        for row in rows:
            assert set(row) == {"messages", "question_type", "difficulty", "metadata"}
            urls = [p["image_url"]["url"] for p in row["messages"][0]["content"][1:]]
            assert all((docs / url).is_file() for url in urls)  # relative to MARKDOWN_DOCS_DIR, as before
    assert check_all_output_files(out, docs, verbose=False).ok


def test_jsonl_has_the_same_records_one_per_line(generated, tmp_path):
    _, out = generated
    for path in sorted(out.glob("*-synthetic-data-*.json")):
        jsonl = path.with_suffix(".jsonl")
        lines = jsonl.read_text().splitlines()
        assert [json.loads(line) for line in lines] == json.loads(path.read_text())
        assert load_json(jsonl, tmp_path).num_rows == len(lines)


def test_internvl_follows_the_finetune_scripts_rules(generated, tmp_path):
    _, out = generated
    (meta_path,) = out.glob("internvl-meta-*.json")
    meta = json.loads(meta_path.read_text())
    (entry,) = meta.values()
    assert set(entry) >= {"root", "annotation", "data_augment", "repeat_time", "length"}
    assert entry["annotation"].endswith("jsonl") and "internvl-train-" in entry["annotation"]
    lines = Path(entry["annotation"]).read_text().splitlines()
    assert entry["length"] == len(lines)
    phi = phi_records(out)
    seen_multi = seen_text_only = 0
    for split in ("train", "eval"):
        (path,) = out.glob(f"internvl-{split}-*.jsonl")
        rows = load_json(path, tmp_path).to_list()
        assert len(rows) == sum(1 for r in phi if (r["question_type"] == "SECTION_SUMMARY") == (split == "eval"))
        for line in path.read_text().splitlines():
            item = json.loads(line)
            conversations = item["conversations"]
            assert [c["from"] for c in conversations] == ["human", "gpt"]
            assert {"id", "question_type", "difficulty"} <= set(item)
            if "image" not in item:
                seen_text_only += 1
                assert "<image>" not in conversations[0]["value"]
                continue
            images = item["image"] if isinstance(item["image"], list) else [item["image"]]
            if isinstance(item["image"], list):
                seen_multi += 1
                assert len(images) > 1
                assert conversations[0]["value"].startswith("Image-1: <image>\nImage-2: <image>\n")
            else:
                assert conversations[0]["value"].startswith("<image>\n")
            assert conversations[0]["value"].count("<image>") == len(images)
            assert "<image>" not in conversations[1]["value"]
            for image in images:  # get_image_path: os.path.join(meta root, image)
                with Image.open(os.path.join(entry["root"], image)) as opened:
                    opened.load()
    assert seen_multi and seen_text_only


def llamafactory_rows(dataset_dir: Path, name: str, tmp_path: Path) -> list[dict]:
    """What LLaMA-Factory's SharegptDatasetConverter makes of one dataset_info entry."""
    info = json.loads((dataset_dir / "dataset_info.json").read_text())[name]
    assert info["formatting"] == "sharegpt"
    columns, tags = info["columns"], info["tags"]
    rows = load_json(dataset_dir / info["file_name"], tmp_path).to_list()
    converted = []
    for row in rows:
        messages = row[columns["messages"]]
        roles = [m[tags["role_tag"]] for m in messages]
        assert roles == [tags["user_tag"], tags["assistant_tag"]]  # odd turns user, even turns assistant
        images = []
        for image in row[columns["images"]]:  # _find_medias: joined to media_dir when that file exists
            joined = os.path.join(dataset_dir, image)
            assert os.path.isfile(joined)
            images.append(joined)
        text = "".join(m[tags["content_tag"]] for m in messages)
        assert text.count("<image>") == len(images)  # mm_plugin's check
        assert text.count("<video>") == text.count("<audio>") == 0
        converted.append({"prompt": messages[0]["content"], "response": messages[1]["content"], "images": images})
    return converted


def test_sharegpt_registers_in_dataset_info_and_converts_as_llamafactory_does(generated, tmp_path):
    _, out = generated
    info = json.loads((out / "dataset_info.json").read_text())
    train = [n for n in info if n.endswith("_train")]
    evaluation = [n for n in info if n.endswith("_eval")]
    assert len(train) == len(evaluation) == 1
    rows = llamafactory_rows(out, train[0], tmp_path)
    assert any(len(r["images"]) == 2 for r in rows) and any(not r["images"] for r in rows)
    assert len(rows) + len(llamafactory_rows(out, evaluation[0], tmp_path)) == len(phi_records(out))
    exports = [*out.glob("sharegpt-*.json"), *out.glob("internvl-*.jsonl")]
    assert len(exports) == 4
    assert check_files(exports, out / "nowhere", verbose=False).ok  # their paths resolve from the file's folder


def test_hf_folder_loads_with_train_and_eval_splits_and_images_decode(generated, tmp_path):
    _, out = generated
    (folder,) = out.glob("hf-*")
    loaded = datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "hf-cache"))
    assert set(loaded) == {"train", "eval"}
    phi = phi_records(out)
    assert loaded["train"].num_rows + loaded["eval"].num_rows == len(phi)
    assert set(loaded["eval"]["question_type"]) == {"SECTION_SUMMARY"}
    reasons = {qt.value for qt, spec in QUESTION_TYPE_SPECS.items() if spec.form.reasoning}
    row = next(r for r in loaded["train"] if len(r["images"]) == 2 and r["question_type"] in reasons)
    user, assistant = row["messages"]
    assert [p["type"] for p in user["content"]] == ["image", "image", "text"]
    assert assistant["content"][0]["text"].startswith("<think>")
    recall = next(r for r in loaded["train"] if r["question_type"] not in reasons)
    assert not recall["messages"][1]["content"][0]["text"].startswith("<think>"), "recall pairs have no steps"
    absolute = loaded["train"].map(lambda r: {"images": [str(out / p) for p in r["images"]]})
    decoded = absolute.cast_column("images", datasets.Sequence(datasets.Image()))
    assert all(image.size in ((40, 90), (90, 40), (120, 80)) for r in decoded for image in r["images"])


def test_copy_images_makes_a_movable_output_folder(docs_dir, tmp_path, fake_backend):
    write_small_doc(docs_dir)
    out = tmp_path / "out"
    args = ["--docs-dir", str(docs_dir), "--output-dir", str(out), "--backend", "fake", "--output-formats", ALL_FORMATS]
    assert main([*args, "--copy-images"]) == 0
    original = (docs_dir / "notes" / "FIGURE_1.1.png").read_bytes()
    assert (out / "images" / "notes" / "FIGURE_1.1.png").read_bytes() == original
    moved = tmp_path / "elsewhere" / "dataset"
    shutil.move(str(out), str(moved))
    shutil.rmtree(docs_dir)
    assert check_all_output_files(moved, tmp_path / "gone", verbose=False).ok
    for record in phi_records(moved):
        for part in record["messages"][0]["content"][1:]:
            assert part["image_url"]["url"] == "images/notes/FIGURE_1.1.png"
    (info_name,) = [n for n in json.loads((moved / "dataset_info.json").read_text()) if n.endswith("_train")]
    assert any(r["images"] for r in llamafactory_rows(moved, info_name, tmp_path))
    (folder,) = moved.glob("hf-*")
    train = datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "hf-cache"))["train"]
    assert {p for r in train for p in r["images"]} == {"images/notes/FIGURE_1.1.png"}


@pytest.fixture(params=[0o022, 0o077], ids=["umask022", "umask077"])
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


WRITTEN_BY_A_RUN = (
    "plan-*.json",
    "report-*.json",
    "report-*.md",
    "rejects-notes-*.jsonl",
    "train-notes-*.json",
    "eval-notes-*.jsonl",
    "internvl-meta-*.json",
    "sharegpt-train-*.json",
    "dataset_info.json",
    "hf-*/train.parquet",
    "hf-*/README.md",
    "images/notes/FIGURE_1.1.png",
    ".runs/*/journal.jsonl",
    ".runs/*/manifest.json",
)


def test_every_file_a_run_writes_has_the_mode_the_umask_gives(docs_dir, tmp_path, fake_backend, umask):
    """As ``open(path, "w")`` and ``mkdir`` give: 0644 files and 0755 folders under umask 022."""
    write_small_doc(docs_dir)
    out = tmp_path / "out"
    args = ["--docs-dir", str(docs_dir), "--output-dir", str(out)]
    assert main([*args, "--dry-run"]) == 0
    fake_backend.enqueue("not json")  # one rejected request, for a rejects file
    formats = ["--output-formats", ALL_FORMATS, "--copy-images", "--max-retries", "0"]
    assert main([*args, "--backend", "fake", *formats]) == 0
    assert [pattern for pattern in WRITTEN_BY_A_RUN if not list(out.glob(pattern))] == []
    wrong = {}
    for path in out.rglob("*"):
        expected = (0o777 if path.is_dir() else 0o666) & ~umask
        if stat.S_IMODE(path.stat().st_mode) != expected:
            wrong[path.relative_to(out).as_posix()] = oct(stat.S_IMODE(path.stat().st_mode))
    assert wrong == {}


def test_copy_image_never_replaces_a_different_file(tmp_path):
    source = write_png(tmp_path / "docs" / "a" / "fig.png", color=(1, 2, 3))
    out = tmp_path / "out"
    assert copy_image(source, out, "images/a/fig.png") == "images/a/fig.png"
    assert copy_image(source, out, "images/a/fig.png") == "images/a/fig.png"  # same bytes: reused
    write_png(source, color=(9, 9, 9))  # the document's figure changed since the last run
    assert copy_image(source, out, "images/a/fig.png") == "images/a/fig-2.png"
    with Image.open(out / "images" / "a" / "fig.png") as old:
        assert old.getpixel((0, 0)) == (1, 2, 3)
    assert sorted(p.name for p in (out / "images" / "a").iterdir()) == ["fig-2.png", "fig.png"]


def test_dataset_info_keeps_the_users_entries_and_leaves_a_broken_one_alone(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    mine = {"my_data": {"file_name": "mine.json", "formatting": "alpaca"}}
    (out / "dataset_info.json").write_text(json.dumps(mine))
    entry = {"file_name": "x.json", "formatting": "sharegpt"}
    other = {"file_name": "y.json", "formatting": "sharegpt"}
    add_dataset_info(out, {"synthetic_a_train": entry})
    add_dataset_info(out, {"synthetic_a_train": entry})  # a move into place finished after a crash
    add_dataset_info(out, {"synthetic_a_train": other})
    merged = json.loads((out / "dataset_info.json").read_text())
    assert merged == {"my_data": mine["my_data"], "synthetic_a_train": entry, "synthetic_a_train_2": other}

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "dataset_info.json").write_text("{not json")
    written = add_dataset_info(broken, {"synthetic_b_train": entry})
    assert (broken / "dataset_info.json").read_text() == "{not json"
    assert written.name.startswith("dataset_info-") and json.loads(written.read_text()) == {"synthetic_b_train": entry}


def test_a_literal_placeholder_in_generated_text_cannot_break_the_image_count(tmp_path):
    docs = tmp_path / "docs"
    write_png(docs / "d" / "f.png")
    example = Example(
        id="r#1",
        split=Split.TRAIN,
        question="Which HTML element, <video> or <image>, does the page use for the figure?",
        answer="It uses <image> tags.",
        images=("d/f.png",),
        question_type="FACTUAL_RECALL",
        difficulty="Easy",
        document="d",
        section="S",
    )
    record = internvl_record(example, ImagePlacer(docs, tmp_path / "out", copy=False))
    human, gpt = (c["value"] for c in record["conversations"])
    assert human.count("<image>") == 1 and "<video>" not in human and "<image >" in human
    assert "<image>" not in gpt and gpt == "It uses <image > tags."


def test_every_format_written_from_the_spool_is_the_same_as_from_a_list(tmp_path):
    """The pipeline writes from an ExampleSpool on disk; what comes out must not depend on that."""
    docs = tmp_path / "docs"
    write_png(docs / "d" / "f.png")
    examples = [
        Example(
            id=f"{doc}#{n}", split=split, question=f"Which part {n} of {doc} is meant?", answer=f"Part {n} ü.",
            images=("d/f.png",) if n % 2 else (), question_type="FACTUAL_RECALL", difficulty="Easy",
            document=doc, section="S", metadata={"evidence": [f"e{n}"], "verify": {}},
        )
        for doc in ("d", "other")
        for n, split in enumerate([Split.TRAIN, Split.EVAL, Split.TRAIN])
    ]  # fmt: skip
    spool = ExampleSpool(tmp_path / "spool.jsonl")
    spool.extend(examples[:4])
    spool.extend(examples[4:])
    assert list(spool) == examples and len(spool) == 6
    formats = ["phi", "jsonl", "internvl", "sharegpt", "hf"]
    out = {}
    for name, source in (("list", examples), ("spool", spool)):
        out[name] = tmp_path / name
        write_exports(source, formats, out[name], "T", ImagePlacer(docs, tmp_path / "final", copy=False))
    files = sorted(p.relative_to(out["list"]) for p in out["list"].rglob("*") if p.is_file())
    assert len(files) >= 12
    for name in files:
        assert (out["spool"] / name).read_bytes() == (out["list"] / name).read_bytes(), name
    with pytest.raises(ValueError, match="not together"):
        write_exports(
            [examples[0], examples[3], examples[1]],
            ["phi"],
            tmp_path / "x",
            "T",
            ImagePlacer(docs, tmp_path, copy=False),
        )


@pytest.mark.parametrize(
    ("value", "message"),
    [("phi,parquet", "OUTPUT_FORMATS has unknown format 'parquet'"), (" , ", "OUTPUT_FORMATS must name at least")],
)
def test_bad_output_formats_is_one_line_exit_2(docs_dir, tmp_path, capsys, value, message):
    write_small_doc(docs_dir)
    assert main(["--docs-dir", str(docs_dir), "--output-dir", str(tmp_path / "o"), "--output-formats", value]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "records",
    [[], [{}], [{"a": [1, {"b": "line\nbreak ünïcode"}], "c": []}, {"d": None}], [[1, 2], "x", 3.5]],
)
def test_streamed_json_arrays_are_the_text_json_dumps_gives(records, tmp_path):
    path = write_new_file(tmp_path, "streamed", ".json", json_array_chunks(iter(records)))
    assert path.read_text(encoding="utf-8") == json.dumps(records, ensure_ascii=False, indent=2) + "\n"

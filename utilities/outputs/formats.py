"""Write the kept pairs in the layouts trainers read (``OUTPUT_FORMATS``).

- ``phi``: the specification's JSON, one list per document and split
  (``train-<document>-synthetic-data-<time>.json``); images are ``image_url``
  parts whose URLs are relative to MARKDOWN_DOCS_DIR.
- ``jsonl``: the same records, one per line, in ``….jsonl`` files beside them.
- ``internvl``: InternVL's chat fine-tuning JSONL (``internvl-<split>-<time>.jsonl``,
  every document together) and a meta file for ``--meta_path``
  (``internvl-meta-<time>.json``, the train file only). A record has
  ``image`` (a path, or a list for several), ``conversations`` of
  ``human``/``gpt`` turns and one ``<image>`` placeholder per image, in order;
  text-only records have no ``image``. Checked against InternVL's
  ``internvl_chat_finetune.py``: the annotation must end in ``.jsonl``, image
  paths are joined to the meta's ``root``, a list of images must match the
  ``<image>`` count, and the meta needs ``root``, ``annotation``,
  ``data_augment``, ``repeat_time`` and ``length``.
- ``sharegpt``: LLaMA-Factory's ShareGPT layout with OpenAI-style role tags
  (``sharegpt-<split>-<time>.json``): ``messages`` of ``user``/``assistant``
  turns, ``<image>`` placeholders in the user turn, and ``images``. The entries
  ``synthetic_<time>_train``/``_eval`` are added to ``OUTPUT_DIR/dataset_info.json``
  (other entries are kept), so ``dataset_dir: OUTPUT_DIR`` works as it is;
  ms-swift reads the same records.
- ``hf``: a Hugging Face dataset folder ``hf-<time>/`` with ``train.parquet``,
  ``eval.parquet`` and a README whose ``configs`` name the splits, so
  ``datasets.load_dataset("OUTPUT_DIR/hf-<time>")`` gives ``train`` and ``eval``.
  Rows follow TRL's vision-chat layout: ``messages`` with typed content parts
  and ``images`` as paths. Needs pyarrow.

Every record keeps ``question_type`` and ``difficulty``. In every format but
phi and jsonl, image paths are relative to OUTPUT_DIR, where the files are.
With ``COPY_IMAGES`` the figures are copied to ``OUTPUT_DIR/images/<document
folder>/…`` and every format, phi included, points there, so the output folder
is self-contained and can be moved. Nothing is ever written over: a name taken
in the same second gets ``-2``, and an image copy that would replace a
different file gets a new name.
"""

from __future__ import annotations

import dataclasses
import filecmp
import itertools
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from models.question_types import Split
from models.records import Example
from utilities.logger import get_logger
from utilities.outputs.files import (
    json_array_chunks,
    jsonl_chunks,
    make_temp_folder,
    numbered_names,
    open_temp_file,
    write_new_file,
    write_new_json,
)

log = get_logger(__name__)

IMAGES_DIR = "images"
DATASET_INFO = "dataset_info.json"
# Placeholders trainers expand into media tokens; a literal one in generated text would
# break their count check (LLaMA-Factory and InternVL assert one image per <image>).
PLACEHOLDERS = ("<image>", "<video>", "<audio>")


class ImagePlacer:
    """Where records point for a figure: the original in MARKDOWN_DOCS_DIR, or a copy in OUTPUT_DIR/images/."""

    def __init__(self, docs_root: Path, output_dir: Path, copy: bool) -> None:
        self.docs_root = docs_root  # resolved (Config.docs_root)
        self.output_dir = output_dir
        self.copy = copy
        self._copies: dict[str, str] = {}

    def for_phi(self, image: str) -> str:
        """The specification's URL: relative to MARKDOWN_DOCS_DIR, or to OUTPUT_DIR when copied."""
        return self._copied(image) if self.copy else image

    def for_export(self, image: str) -> str:
        """A path that resolves from OUTPUT_DIR, where the export files are."""
        if self.copy:
            return self._copied(image)
        source = self.docs_root / image
        try:
            return Path(os.path.relpath(source, os.path.realpath(self.output_dir))).as_posix()
        except ValueError:  # another drive (Windows): only an absolute path reaches it
            return source.as_posix()

    def _copied(self, image: str) -> str:
        if image not in self._copies:
            self._copies[image] = copy_image(self.docs_root / image, self.output_dir, f"{IMAGES_DIR}/{image}")
        return self._copies[image]


def copy_image(source: Path, output_dir: Path, relative: str) -> str:
    """Copy source to OUTPUT_DIR/relative; a different file already there keeps its name and the copy gets -2."""
    target = output_dir / relative
    for name in numbered_names(target.stem, target.suffix):  # an identical copy from an earlier run is reused
        candidate = target.with_name(name)
        if not candidate.exists():
            break
        if candidate.is_file() and filecmp.cmp(candidate, source, shallow=False):
            return candidate.relative_to(output_dir).as_posix()
    with source.open("rb") as handle:
        chunks = iter(lambda: handle.read(1 << 20), b"")
        written = write_new_file(target.parent, target.stem, target.suffix, chunks)
    return written.relative_to(output_dir).as_posix()


def _no_placeholders(text: str) -> str:
    """``<image>`` written by the model becomes ``<image >``: same meaning, not a trainer's placeholder."""
    for token in PLACEHOLDERS:
        text = text.replace(token, token[:-1] + " >")
    return text


# --- records, one function per format -------------------------------------------------


def phi_record(example: Example, placer: ImagePlacer) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": example.question}]
    for image in example.images:
        content.append({"type": "image_url", "image_url": {"url": placer.for_phi(image), "detail": "auto"}})
    return {
        "messages": [{"role": "user", "content": content}, {"role": "assistant", "content": example.answer}],
        "question_type": example.question_type,
        "difficulty": example.difficulty,
        "metadata": example.metadata,
    }


def internvl_record(example: Example, placer: ImagePlacer) -> dict[str, Any]:
    images = [placer.for_export(image) for image in example.images]
    # one image: "<image>\n"; several: InternVL's numbered convention, one placeholder per image, in order
    numbered = "".join(f"Image-{n}: <image>\n" for n in range(1, len(images) + 1))
    prefix = "<image>\n" if len(images) == 1 else numbered
    record: dict[str, Any] = {"id": example.id}
    if images:
        record["image"] = images[0] if len(images) == 1 else images
    record["conversations"] = [
        {"from": "human", "value": prefix + _no_placeholders(example.question)},
        {"from": "gpt", "value": _no_placeholders(example.answer)},
    ]
    record.update(_labels(example))
    return record


def sharegpt_record(example: Example, placer: ImagePlacer) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "user", "content": "<image>" * len(example.images) + _no_placeholders(example.question)},
            {"role": "assistant", "content": _no_placeholders(example.answer)},
        ],
        "images": [placer.for_export(image) for image in example.images],
        **_labels(example),
    }


def hf_record(example: Example, placer: ImagePlacer) -> dict[str, Any]:
    user: list[dict[str, Any]] = [{"type": "image", "text": None} for _ in example.images]
    user.append({"type": "text", "text": example.question})
    return {
        "id": example.id,
        "messages": [
            {"role": "user", "content": user},
            {"role": "assistant", "content": [{"type": "text", "text": example.answer}]},
        ],
        "images": [placer.for_export(image) for image in example.images],
        **_labels(example),
    }


def _labels(example: Example) -> dict[str, str]:
    return {
        "question_type": example.question_type,
        "difficulty": example.difficulty,
        "document": example.document,
        "section": example.section,
    }


# --- files ------------------------------------------------------------------------------


def file_stem(document_name: str) -> str:
    """A document name as a file name part: ``manuals/signals`` -> ``manuals__signals``."""
    return document_name.replace("/", "__")


class ExampleSpool:
    """Kept examples in a JSONL file, appended as each group of documents is done and read back one
    at a time, as often as a format needs: memory holds none of them, however large the run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._handle = path.open("ab")

    def extend(self, examples: Iterable[Example]) -> None:
        for example in examples:
            self._handle.write((json.dumps(dataclasses.asdict(example), ensure_ascii=False) + "\n").encode("utf-8"))
            self.count += 1

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Example]:
        self._handle.flush()
        with self.path.open("rb") as handle:
            for line in handle:
                fields = json.loads(line)
                fields["split"], fields["images"] = Split(fields["split"]), tuple(fields["images"])
                yield Example(**fields)

    def close(self) -> None:
        self._handle.close()


Examples = Sequence[Example] | ExampleSpool  # read more than once, in order, documents together


def _splits(examples: Examples) -> dict[Split, Iterable[Example]]:
    """Each split present, as a lazy filter over the examples."""
    present = {e.split for e in examples}
    return {split: _only(examples, split) for split in Split if split in present}


def _only(examples: Examples, split: Split) -> Iterator[Example]:
    return (e for e in examples if e.split == split)


def _per_document(examples: Examples, output_dir: Path, stamp: str, placer: ImagePlacer, suffix: str) -> list[Path]:
    """phi (.json) and jsonl (.jsonl): one file per document and split, as the specification names them."""
    written, seen = [], set()
    for name, group in itertools.groupby(examples, key=lambda e: e.document):
        if name in seen:
            raise ValueError(f"the examples of {name!r} are not together")
        seen.add(name)
        items = list(group)  # one document's examples
        for split in Split:
            chosen = [e for e in items if e.split == split]
            if not chosen:
                continue
            stem = f"{split.value}-{file_stem(name)}-synthetic-data-{stamp}"
            records = (phi_record(e, placer) for e in chosen)
            chunks = json_array_chunks(records) if suffix == ".json" else jsonl_chunks(records)
            written.append(write_new_file(output_dir, stem, suffix, chunks))
    return written


def write_phi(examples: Examples, output_dir: Path, stamp: str, placer: ImagePlacer) -> list[Path]:
    return _per_document(examples, output_dir, stamp, placer, ".json")


def write_jsonl(examples: Examples, output_dir: Path, stamp: str, placer: ImagePlacer) -> list[Path]:
    return _per_document(examples, output_dir, stamp, placer, ".jsonl")


def write_internvl(examples: Examples, output_dir: Path, stamp: str, placer: ImagePlacer) -> list[Path]:
    written = []
    annotations: dict[Split, tuple[Path, int]] = {}
    for split, chosen in _splits(examples).items():
        counted = _Counted(chosen)
        chunks = jsonl_chunks(internvl_record(e, placer) for e in counted)
        path = write_new_file(output_dir, f"internvl-{split.value}-{stamp}", ".jsonl", chunks)
        annotations[split] = (path, counted.count)
        written.append(path)
    if Split.TRAIN in annotations:
        path, length = annotations[Split.TRAIN]
        meta = {
            f"synthetic_{stamp}": {
                "root": os.path.realpath(placer.output_dir) + os.sep,
                "annotation": os.path.join(os.path.realpath(placer.output_dir), path.name),
                "data_augment": False,
                "repeat_time": 1,
                "length": length,
            }
        }
        written.append(write_new_json(output_dir, f"internvl-meta-{stamp}", meta))
    return written


def write_sharegpt(examples: Examples, output_dir: Path, stamp: str, placer: ImagePlacer) -> list[Path]:
    written = []
    entries: dict[str, dict[str, Any]] = {}
    for split, chosen in _splits(examples).items():
        chunks = json_array_chunks(sharegpt_record(e, placer) for e in chosen)
        path = write_new_file(output_dir, f"sharegpt-{split.value}-{stamp}", ".json", chunks)
        written.append(path)
        entries[f"synthetic_{stamp}_{split.value}"] = {
            "file_name": path.name,
            "formatting": "sharegpt",
            "columns": {"messages": "messages", "images": "images"},
            "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"},
        }
    if entries:
        written.append(add_dataset_info(output_dir, entries))
    return written


class _Counted:
    """An iterable that counts what passes through it (InternVL's meta wants the length)."""

    def __init__(self, items: Iterable[Example]) -> None:
        self.items, self.count = items, 0

    def __iter__(self) -> Iterator[Example]:
        for item in self.items:
            self.count += 1
            yield item


def merge_dataset_info(staged: Path, output_dir: Path) -> Path:
    """Add the entries of a staged dataset_info.json to OUTPUT_DIR's (``files.publish``)."""
    return add_dataset_info(output_dir, json.loads(staged.read_text(encoding="utf-8")))


def add_dataset_info(output_dir: Path, entries: dict[str, dict[str, Any]]) -> Path:
    """Add entries to OUTPUT_DIR/dataset_info.json, keeping every entry already there.

    A dataset_info.json that is not a JSON object is left as it is and the
    entries go to a new ``dataset_info-<n>.json`` (named in a warning).
    """
    path = output_dir / DATASET_INFO
    existing: dict[str, Any] = {}
    if path.exists():
        try:
            existing = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(existing, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            fallback = write_new_json(output_dir, "dataset_info", entries)
            log.warning("%s: cannot be read (%s); left as it is, new entries in %s", path, exc, fallback.name)
            return fallback
    merged = dict(existing)
    for name, entry in entries.items():
        if merged.get(name) == entry:  # added by a run whose move into place was cut short
            continue
        unique, n = name, 1
        while unique in merged:  # a name already there keeps its entry; the new one is named apart
            n += 1
            unique = f"{name}_{n}"
        merged[unique] = entry
    fd, tmp = open_temp_file(output_dir, ".tmp-", ".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(merged, f, ensure_ascii=False, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)  # the merged file replaces the old one whole: every old entry is in it
    return path


HF_ROWS_PER_GROUP = 10_000  # rows converted and written at a time (one parquet row group each)

HF_README = """---
configs:
- config_name: default
  data_files:
{data_files}
---
# Synthetic question-answer pairs

Written by generate_synthetic_data.py. Load with
`datasets.load_dataset("{folder}")`. Each row: `messages` (a user turn with an
`image` part per figure, then the question; the assistant's answer), `images`
(paths relative to the folder that holds this one), `question_type`,
`difficulty`, `document`, `section`, `id`.
"""


def write_hf(examples: Examples, output_dir: Path, stamp: str, placer: ImagePlacer) -> list[Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    splits = _splits(examples)
    if not splits:
        return []
    text = pa.struct([("type", pa.string()), ("text", pa.string())])
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.list_(text))]))),
            ("images", pa.list_(pa.string())),
            ("question_type", pa.string()),
            ("difficulty", pa.string()),
            ("document", pa.string()),
            ("section", pa.string()),
        ]
    )
    staging = make_temp_folder(output_dir, ".tmp-hf-")
    try:
        lines = []
        for split, chosen in splits.items():
            with pq.ParquetWriter(staging / f"{split.value}.parquet", schema) as writer:
                records = (hf_record(e, placer) for e in chosen)
                while rows := list(itertools.islice(records, HF_ROWS_PER_GROUP)):
                    writer.write_table(pa.Table.from_pylist(rows, schema=schema))
            lines.append(f"  - split: {split.value}\n    path: {split.value}.parquet")
        folder = _free_name(output_dir, f"hf-{stamp}")
        readme = HF_README.format(data_files="\n".join(lines), folder=(placer.output_dir / folder).as_posix())
        (staging / "README.md").write_text(readme, encoding="utf-8")
        staging.rename(output_dir / folder)  # a folder appears whole, or not at all
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [output_dir / folder]


def _free_name(output_dir: Path, name: str) -> str:
    return next(n for n in numbered_names(name) if not (output_dir / n).exists())


Writer = Callable[[Examples, Path, str, ImagePlacer], list[Path]]
WRITERS: dict[str, Writer] = {
    "phi": write_phi,
    "jsonl": write_jsonl,
    "internvl": write_internvl,
    "sharegpt": write_sharegpt,
    "hf": write_hf,
}


def write_exports(
    examples: Examples, formats: Iterable[str], output_dir: Path, stamp: str, placer: ImagePlacer
) -> dict[str, list[Path]]:
    """Every chosen format's files, by format name."""
    output_dir.mkdir(parents=True, exist_ok=True)
    return {name: WRITERS[name](examples, output_dir, stamp, placer) for name in formats}

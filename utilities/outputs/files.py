"""Write output files atomically and never over a file that already exists.

A file is written to a temporary name in the same folder (with the mode
``open(path, "w")`` would give under the umask), flushed and fsynced, then
hard-linked to its final name, which fails if that name exists: a second run
in the same second gets ``-2`` appended instead of overwriting the first.
An interrupted write leaves no half file under the final name.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import textwrap
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any


def timestamp(now: datetime | None = None) -> str:
    """The specification's file timestamp: ``2024-01-01_12-00-00``."""
    return (now or datetime.now()).strftime("%Y-%m-%d_%H-%M-%S")


MAX_NUMBERED = 999  # stem, stem-2, ... stem-999: then a name is refused


def numbered_names(stem: str, suffix: str = "") -> Iterator[str]:
    """The names a new output may take, in order: ``stem+suffix``, ``stem-2+suffix``, ..."""
    yield stem + suffix
    for n in range(2, MAX_NUMBERED + 1):
        yield f"{stem}-{n}{suffix}"


def make_folder(folder: Path) -> None:
    """``mkdir -p``, where a file in the way is "Not a directory", not a puzzling "File exists"."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder)) from None


# tempfile.mkstemp and mkdtemp create 0600 files and 0700 folders whatever the umask, and an
# output keeps that mode when it is renamed into place. Creating with 0666 / 0777 lets the kernel
# apply the process umask, as it does for open(path, "w") and mkdir: no need to read the umask,
# which os.umask can only do by setting it, a race with any thread creating a file meanwhile.
# 64 random bits make a clash with an existing name unlikely, and O_EXCL / mkdir refuse one.
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def open_temp_file(folder: Path, prefix: str, suffix: str) -> tuple[int, Path]:
    """A new file in folder, open for writing (the descriptor), with the mode the umask gives."""
    path = folder / f"{prefix}{secrets.token_hex(8)}{suffix}"
    return os.open(path, _NEW_FILE_FLAGS, 0o666), path


def make_temp_folder(folder: Path, prefix: str) -> Path:
    """A new folder in folder, with the mode the umask gives."""
    path = folder / f"{prefix}{secrets.token_hex(8)}"
    os.mkdir(path, 0o777)
    return path


def probe_writable_folder(folder: Path) -> None:
    """Create folder and a file in it as outputs are created, then remove the file; raises OSError if refused."""
    make_folder(folder)
    fd, path = open_temp_file(folder, ".write-probe-", ".tmp")
    os.close(fd)
    path.unlink()


def write_new_file(folder: Path, stem: str, suffix: str, data: bytes | Iterable[bytes]) -> Path:
    """Write data (bytes, or chunks written as they come) to ``folder/stem + suffix`` (or ``stem-2``...) atomically."""
    make_folder(folder)
    fd, tmp_name = open_temp_file(folder, f".{stem}.", ".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in [data] if isinstance(data, bytes) else data:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        for name in numbered_names(stem, suffix):
            final = folder / name
            try:
                os.link(tmp_name, final)
            except FileExistsError:
                continue
            except OSError:  # no hard links here (some network or FUSE file systems)
                try:
                    os.close(os.open(final, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                except FileExistsError:
                    continue
                os.replace(tmp_name, final)  # over the empty file we just reserved
            return final
        raise FileExistsError(f"{folder / (stem + suffix)}: {MAX_NUMBERED} files of this name exist")
    finally:
        tmp_name.unlink(missing_ok=True)


def json_array_chunks(records: Iterable[Any]) -> Iterator[bytes]:
    """A JSON array, one record at a time: the text ``json.dumps(list(records), indent=2)`` would give."""
    empty = True
    for record in records:
        text = json.dumps(record, ensure_ascii=False, indent=2, default=str)
        yield (("[\n" if empty else ",\n") + textwrap.indent(text, "  ", lambda line: True)).encode("utf-8")
        empty = False
    yield b"[]\n" if empty else b"\n]\n"


def jsonl_chunks(records: Iterable[Any]) -> Iterator[bytes]:
    for record in records:
        yield (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


def write_new_json(folder: Path, stem: str, payload: Any) -> Path:
    text = json.dumps(payload, ensure_ascii=False, indent=2, default=str) + "\n"
    return write_new_file(folder, stem, ".json", text.encode("utf-8"))


# A run's final files appear in OUTPUT_DIR as a set or not at all: they are written into a
# staging folder inside the run's folder (same file system), the list of them is recorded in
# PUBLISHING (the commit point), then each is moved into OUTPUT_DIR without overwriting
# anything, and ``written-<set id>.json`` is recorded. The set id names the settings the set
# was written with, so the same command finds its set and another gate setting writes its
# own. A run killed before the commit point leaves only its staging folder, removed by the
# next run; one killed while moving is finished by the next run (it moves what is left), so a
# set is never left half written nor written twice.
PUBLISHING = "publishing.json"
STAGING_PREFIX = "staging-"

Merger = Callable[[Path, Path], Path]  # (staged file, OUTPUT_DIR) -> the file it was merged into


def new_staging_folder(run_folder: Path, stamp: str) -> Path:
    """An empty staging folder for this set; the staging folders of runs cut short are removed."""
    if (run_folder / PUBLISHING).exists():
        raise RuntimeError(f"{run_folder / PUBLISHING}: a set is still being moved into place")
    for leftover in run_folder.glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(leftover, ignore_errors=True)
    staging = run_folder / f"{STAGING_PREFIX}{stamp}"
    make_folder(staging)
    return staging


def publish(
    staging: Path, output_dir: Path, merge: dict[str, Merger], set_id: str, written: dict[str, Any]
) -> list[Path]:
    """Move every file of the staging folder into OUTPUT_DIR as one set; ``written`` is recorded with it."""
    names = sorted(p.name for p in staging.iterdir() if not p.name.startswith("."))
    record = {"staging": staging.name, "names": names, "set": set_id, "written": written}
    _write_record(staging.parent / PUBLISHING, record)
    return finish_publishing(staging.parent, output_dir, merge) or []


def finish_publishing(run_folder: Path, output_dir: Path, merge: dict[str, Merger]) -> list[Path] | None:
    """Move what is left of a recorded set into OUTPUT_DIR (None when no set was being moved)."""
    path = run_folder / PUBLISHING
    if not path.exists():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    staging = run_folder / record["staging"]
    placed = []
    for name in record["names"]:
        source = staging / name
        if name in merge:
            if source.exists():
                placed.append(merge[name](source, output_dir))
                source.unlink()
        elif source.exists() or source.is_symlink():
            placed.append(_place(source, output_dir))
        else:  # moved before the run was cut short
            placed.append(output_dir / name)
    _write_record(
        run_folder / f"written-{record['set']}.json", {**record["written"], "files": [p.name for p in placed]}
    )
    path.unlink()
    shutil.rmtree(staging, ignore_errors=True)
    return placed


def written_set(run_folder: Path, set_id: str) -> dict[str, Any] | None:
    """What ``publish`` recorded for the complete set ``set_id`` of the run, or None."""
    path = run_folder / f"written-{set_id}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _place(source: Path, output_dir: Path) -> Path:
    """Move one staged file or folder to OUTPUT_DIR under its name, or ``-2``… if that name is taken."""
    suffix = "" if source.is_dir() else "".join(source.suffixes[-1:])
    for name in numbered_names(source.name[: len(source.name) - len(suffix)], suffix):
        target = output_dir / name
        if source.is_dir():
            if not target.exists():
                source.rename(target)
                return target
            continue
        try:
            os.link(source, target)
        except FileExistsError:
            if os.path.samefile(source, target):  # linked before the run was cut short
                source.unlink()
                return target
            continue
        except OSError:  # no hard links here: a rename, after checking the name is free
            if target.exists():
                continue
            source.rename(target)
            return target
        source.unlink()
        return target
    raise FileExistsError(f"{output_dir / source.name}: {MAX_NUMBERED} files of this name exist")


def _write_record(path: Path, record: dict[str, Any]) -> None:
    fd, tmp = open_temp_file(path.parent, f".{path.name}.", ".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(record, handle, ensure_ascii=False, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)

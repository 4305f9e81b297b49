"""Write output files atomically and never over a file that already exists.

A file is written to a temporary name in the same folder, flushed and fsynced,
then hard-linked to its final name, which fails if that name exists: a second
run in the same second gets ``-2`` appended instead of overwriting the first.
An interrupted write leaves no half file under the final name.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
import textwrap
from collections.abc import Iterable, Iterator
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


def probe_writable_folder(folder: Path) -> None:
    """Create folder and a file in it, then remove the file; raises OSError when this tool cannot write there."""
    make_folder(folder)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-probe-"):
        pass


def write_new_file(folder: Path, stem: str, suffix: str, data: bytes | Iterable[bytes]) -> Path:
    """Write data (bytes, or chunks written as they come) to ``folder/stem + suffix`` (or ``stem-2``...) atomically."""
    make_folder(folder)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{stem}.", suffix=".tmp", dir=folder)
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
        Path(tmp_name).unlink(missing_ok=True)


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

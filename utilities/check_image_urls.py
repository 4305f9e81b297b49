"""Check that every image a dataset file references exists on disk.

    python utilities/check_image_urls.py output/train-doc-synthetic-data-2024-01-01_12-00-00.json
    python utilities/check_image_urls.py output/train-a.json output/eval-a.json
    python utilities/check_image_urls.py --all output
    python utilities/check_image_urls.py --all output --images-root markdown_docs

    from utilities.check_image_urls import check_all_output_files
    check_all_output_files("output")          # -> CheckResult; .ok is False on any problem

Image references are read from chat records (``messages[].content[].image_url.url``)
and from the ``image``/``images`` keys of InternVL and ShareGPT records, in
``.json`` (a list of records) and ``.jsonl`` (one record per line) files.
Relative paths resolve against ``--images-root`` (default: MARKDOWN_DOCS_DIR from
.env or the environment), as the specification's files write them, or else
against the dataset file's own folder, as the internvl and sharegpt exports and
every file written with COPY_IMAGES do. ``data:`` URLs are inline and always valid; http(s)
URLs cannot be checked offline and are counted as remote. Exit status: 0 when
every path exists, 1 when any is missing or a file is not a readable dataset.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from colorama import Fore, Style

from utilities.config import read_setting
from utilities.errors import ConfigError

# Files of an output folder that are not datasets: plans, reports, rejects, journals.
NON_DATASET_PREFIXES = ("plan-", "report-", "rejects-", "dataset_info", "internvl-meta-")
CONTEXT_CHARS = 100


@dataclass(frozen=True)
class InvalidImage:
    file: str
    url: str
    context: str  # the opening words of the record's question


@dataclass
class CheckResult:
    files_checked: int = 0
    images_checked: int = 0
    remote_images: int = 0
    invalid: list[InvalidImage] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # files that are not readable datasets

    @property
    def ok(self) -> bool:
        return not self.invalid and not self.errors


class NotADataset(Exception):
    pass


def _read_records(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NotADataset(f"cannot be read ({type(exc).__name__}: {exc})") from None
    if path.suffix.lower() == ".jsonl":
        records = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise NotADataset(f"malformed JSON on line {number} ({exc.msg})") from None
        return records
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotADataset(f"malformed JSON at line {exc.lineno} column {exc.colno} ({exc.msg})") from None
    if not isinstance(data, list):
        raise NotADataset(f"is not a dataset (a JSON {type(data).__name__}, expected a list of records)")
    return data


def _question_text(record: dict[str, Any]) -> str:
    for message in record.get("messages") or record.get("conversations") or []:
        if not isinstance(message, dict) or message.get("role", message.get("from")) not in ("user", "human"):
            continue
        content = message.get("content", message.get("value"))
        if isinstance(content, str):
            return content.replace("<image>", "").strip()
        if isinstance(content, list):
            return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _image_urls(record: dict[str, Any]) -> Iterator[str]:
    for message in record.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") == "image_url":
                    image_url = part.get("image_url")
                    url = image_url.get("url") if isinstance(image_url, dict) else image_url
                    if isinstance(url, str):
                        yield url
    for key in ("image", "images"):
        value = record.get(key)
        for item in [value] if isinstance(value, str) else value if isinstance(value, list) else []:
            if isinstance(item, str):
                yield item


def _exists(url: str, images_root: Path, dataset_folder: Path) -> bool:
    path = Path(url.removeprefix("file://"))
    if path.is_absolute():
        return path.is_file()
    return (images_root / path).is_file() or (dataset_folder / path).is_file()


def check_file(path: Path, images_root: Path, result: CheckResult) -> list[InvalidImage]:
    """Check one file, adding to result; returns this file's invalid images."""
    result.files_checked += 1
    try:
        records = _read_records(path)
    except NotADataset as exc:
        result.errors.append(f"{path}: {exc}")
        return []
    invalid: list[InvalidImage] = []
    for record in records:
        if not isinstance(record, dict):
            result.errors.append(f"{path}: is not a dataset (a record is a {type(record).__name__}, not an object)")
            return invalid
        for url in _image_urls(record):
            if url.startswith("data:"):
                result.images_checked += 1
                continue
            if url.startswith(("http://", "https://")):
                result.remote_images += 1
                continue
            result.images_checked += 1
            if not _exists(url, images_root, path.parent):
                question = " ".join(_question_text(record).split())
                context = question[:CONTEXT_CHARS] + ("..." if len(question) > CONTEXT_CHARS else "")
                invalid.append(InvalidImage(str(path), url, context))
    result.invalid.extend(invalid)
    return invalid


def dataset_files(folder: Path) -> list[Path]:
    """The JSON/JSONL dataset files directly in folder, skipping plans, reports and rejects."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in (".json", ".jsonl") and not p.name.startswith(NON_DATASET_PREFIXES)
    )


def _print_file_report(path: Path, invalid: list[InvalidImage], color: bool) -> None:
    red, green, yellow, reset = (Fore.RED, Fore.GREEN, Fore.YELLOW, Style.RESET_ALL) if color else ("",) * 4
    if not invalid:
        print(f"{green}All image paths in {path.name} are valid.{reset}")
        return
    print(f"{red}Found {len(invalid)} invalid image path(s) in {path.name}:{reset}\n")
    for item in invalid:
        print(f"- Image path: {yellow}{item.url}{reset}")
        print(f"  Context: {item.context}\n")


def check_files(files: Sequence[Path], images_root: Path, *, verbose: bool = True, color: bool = False) -> CheckResult:
    result = CheckResult()
    for path in files:
        errors_before = len(result.errors)
        invalid = check_file(path, images_root, result)
        if verbose:
            if len(result.errors) > errors_before:
                for error in result.errors[errors_before:]:
                    print(f"{Fore.RED if color else ''}error: {error}{Style.RESET_ALL if color else ''}")
            else:
                _print_file_report(path, invalid, color)
    return result


def _default_images_root() -> Path:
    return read_setting("MARKDOWN_DOCS_DIR", os.environ)


def check_all_output_files(
    output_dir: str | os.PathLike[str] = "output",
    images_root: str | os.PathLike[str] | None = None,
    *,
    verbose: bool = True,
) -> CheckResult:
    """Check every dataset file in output_dir; prints a report per file when verbose."""
    root = Path(images_root) if images_root is not None else _default_images_root()
    return check_files(dataset_files(Path(output_dir)), root, verbose=verbose, color=verbose and _tty())


def _tty() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="check_image_urls.py", description="Check that the images a dataset references exist."
    )
    parser.add_argument("files", nargs="*", type=Path, help="dataset files (.json or .jsonl) to check")
    parser.add_argument("--all", type=Path, metavar="OUTPUT_DIR", help="check every dataset file in this folder")
    parser.add_argument(
        "--images-root", type=Path, help="folder relative image paths start from (default: MARKDOWN_DOCS_DIR)"
    )
    args = parser.parse_args(argv)
    if not args.files and args.all is None:
        parser.error("name dataset files, or a folder with --all")
    try:
        images_root = args.images_root if args.images_root is not None else _default_images_root()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    files = list(args.files)
    if args.all is not None:
        if not args.all.is_dir():
            print(f"error: --all needs a folder, got '{args.all}'", file=sys.stderr)
            return 2
        files.extend(dataset_files(args.all))
    if not files:
        print(f"No dataset files found in {args.all}.")
        return 0
    result = check_files(files, images_root, verbose=True, color=_tty())
    summary = (
        f"Checked {result.images_checked} image path(s) in {result.files_checked} file(s): "
        f"{len(result.invalid)} invalid, {len(result.errors)} file error(s)"
    )
    if result.remote_images:
        summary += f", {result.remote_images} remote URL(s) not checked"
    print(summary)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Read the markdown documents of a folder into ``Document`` objects.

``load_documents`` walks ``MARKDOWN_DOCS_DIR`` (sorted, not following directory
symlinks, skipping hidden entries), reads every ``*.md`` file, splits off YAML
frontmatter, splits the body into sections, and attaches figures, facts and
related sections. A file that cannot be used is logged as a one-line warning
naming it and why, recorded in ``skipped``, and the others go on. Nothing here
reads a path outside the docs folder: symlinks that lead out are refused.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from models.documents import Document, Section
from utilities.config import Config, PlanSettings
from utilities.errors import DocumentError
from utilities.facts import extract_facts_from_section
from utilities.figures import collect_figures
from utilities.logger import get_logger
from utilities.naming import document_name
from utilities.related import find_related_sections
from utilities.sections import normalize_newlines, split_into_sections
from utilities.settings import undecodable_name

log = get_logger(__name__)

MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
# What frontmatter may expand to: a few hundred bytes of YAML aliases can stand for
# gigabytes once the metadata is written into a plan or a record.
MAX_FRONTMATTER_SIZE = 100_000  # characters of every scalar plus one per node, aliases counted at every use
MAX_FRONTMATTER_DEPTH = 64  # PyYAML composes recursively: far deeper nesting overflows Python's stack
_FRONTMATTER_CLOSE = re.compile(r"^---[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class SkippedFile:
    path: str  # relative to the docs folder (its bytes' repr when the name is not UTF-8)
    reason: str


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


def _skip_undecodable(rel: str) -> SkippedFile | None:
    shown = undecodable_name(rel)
    return SkippedFile(shown, "file name is not valid UTF-8") if shown else None


def discover_markdown_files(root: Path) -> tuple[list[Path], list[SkippedFile]]:
    """Every ``*.md`` file below root in sorted order, and entries named .md that cannot be read as documents."""
    found: list[Path] = []
    skipped: list[SkippedFile] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        here = Path(dirpath)
        for d in dirnames:
            if d.lower().endswith(".md"):
                rel = (here / d).relative_to(root).as_posix()
                skipped.append(_skip_undecodable(rel) or SkippedFile(rel, "is a directory, not a markdown file"))
        for f in filenames:
            if f.lower().endswith(".md") and not f.startswith("."):
                bad_name = _skip_undecodable((here / f).relative_to(root).as_posix())
                if bad_name:
                    skipped.append(bad_name)
                else:
                    found.append(here / f)
    found.sort(key=lambda p: p.relative_to(root).as_posix())
    skipped.sort(key=lambda s: s.path)
    return found, skipped


def read_markdown(path: Path, root: Path) -> str:
    """The file's text, newline-normalized. Raises DocumentError saying what is wrong."""
    root = Path(os.path.realpath(root))
    try:
        real = path.resolve(strict=True)
    except RuntimeError:  # Python < 3.13 raises this for symlink loops
        raise DocumentError("symlink loop") from None
    except OSError as exc:
        if exc.errno == 40:  # ELOOP
            raise DocumentError("symlink loop") from None
        raise DocumentError(f"cannot be opened ({exc.strerror})") from None
    if not real.is_relative_to(root):
        raise DocumentError("symlink points outside MARKDOWN_DOCS_DIR; refused")
    if not real.is_file():
        raise DocumentError("is not a regular file")
    size = real.stat().st_size
    if size > MAX_DOCUMENT_BYTES:
        raise DocumentError(f"is {size:,} bytes, over the {MAX_DOCUMENT_BYTES:,}-byte limit")
    try:
        data = real.read_bytes()
    except OSError as exc:
        raise DocumentError(f"cannot be read ({exc.strerror})") from None
    if b"\x00" in data:
        raise DocumentError("is a binary file (contains NUL bytes), not markdown")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    return normalize_newlines(text)


class _FrontmatterTooLarge(yaml.YAMLError):
    pass


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that measures each node while composing, before anything is constructed.

    A node's size counts every alias where it is used, so a billion laughs is refused
    after composing its few hundred bytes, never expanded.
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self._sizes: dict[int, int] = {}  # id(node) -> expanded size, for finished nodes
        self._depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            node = self.anchors.get(self.peek_event().anchor)
            if node is not None and id(node) not in self._sizes:
                raise _FrontmatterTooLarge("holds a recursive alias")
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_FRONTMATTER_DEPTH:
            raise _FrontmatterTooLarge(f"nests deeper than {MAX_FRONTMATTER_DEPTH} levels")
        node = super().compose_node(parent, index)
        self._depth -= 1
        size = 1 + self._inner_size(node)
        if size > MAX_FRONTMATTER_SIZE:
            raise _FrontmatterTooLarge(
                f"expands to over {MAX_FRONTMATTER_SIZE:,} characters (aliases counted at every use)"
            )
        self._sizes[id(node)] = size
        return node

    def _inner_size(self, node: yaml.Node) -> int:
        if isinstance(node, yaml.ScalarNode):
            return len(node.value)
        if isinstance(node, yaml.SequenceNode):
            return sum(self._sizes[id(child)] for child in node.value)
        return sum(self._sizes[id(key)] + self._sizes[id(value)] for key, value in node.value)


def split_frontmatter(text: str) -> tuple[dict[str, Any], str, str | None]:
    """(metadata, body, warning). Frontmatter exists only when the text starts with a
    ``---`` line and a closing ``---`` line follows; it never leaks into the body,
    even when it is malformed or not a mapping (then metadata is empty, with a warning).

    >>> split_frontmatter("---\\ntitle: A\\n---\\n# H\\n")
    ({'title': 'A'}, '# H\\n', None)
    """
    first_line, _, rest = text.partition("\n")
    if first_line.rstrip() != "---":
        return {}, text, None
    close = _FRONTMATTER_CLOSE.search(rest)
    if close is None:
        return {}, text, None  # a lone thematic break, not frontmatter
    raw_yaml = rest[: close.start()]
    body = rest[close.end() :].removeprefix("\n")
    try:
        loaded = yaml.load(raw_yaml, Loader=_BoundedLoader)  # a SafeLoader: no Python objects
    except _FrontmatterTooLarge as exc:
        return {}, body, f"YAML frontmatter {exc}; ignored"
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        return {}, body, f"malformed YAML frontmatter{where} ({problem}); ignored"
    if loaded is None:
        return {}, body, None
    if not isinstance(loaded, dict):
        return {}, body, f"YAML frontmatter is a {type(loaded).__name__}, not a mapping; ignored"
    return {str(k): v for k, v in loaded.items()}, body, None


def build_document(
    path: Path,
    root: Path,
    *,
    max_section_chars: int,
    related_k: int,
    related_min_similarity: float,
    related_first: int = 0,
) -> Document:
    """One document, fully prepared (related sections for the first ``related_first`` sections
    only, when above 0). Raises DocumentError when it has nothing to use."""
    rel = path.relative_to(root)
    name = rel.with_suffix("").as_posix()
    text = read_markdown(path, root)
    if not text:
        raise DocumentError("is empty")
    if not text.strip():
        raise DocumentError("contains only whitespace")
    metadata, body, fm_warning = split_frontmatter(text)
    warnings = [f"{name}: {fm_warning}"] if fm_warning else []
    if not body.strip():
        raise DocumentError("has frontmatter but no body")

    spans = split_into_sections(body, max_section_chars)
    texts = [body[s.start : s.end] for s in spans]
    titles = [s.title for s in spans]
    figures = collect_figures(name, texts, titles, root, root / rel.parent / rel.stem)
    warnings.extend(figures.warnings)
    related = find_related_sections(texts, related_k, related_min_similarity, related_first)
    sections = [
        Section(
            index=i,
            title=span.title,
            text=texts[i].strip("\n"),
            start=span.start,
            end=span.end,
            figures=figures.by_section[i],
            facts=extract_facts_from_section(texts[i]),
            related=related[i],
        )
        for i, span in enumerate(spans)
    ]
    return Document(
        name=name,
        path=path,
        metadata=metadata,
        body=body,
        sections=sections,
        warnings=warnings,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        called=document_name(metadata, body, tuple(dict.fromkeys(s.title for s in spans if s.level == 1))),
    )


def load_documents(
    docs_dir: Path,
    *,
    max_section_chars: int = PlanSettings().max_section_chars,
    related_k: int = PlanSettings().related_sections,
    related_min_similarity: float = PlanSettings().related_min_similarity,
    related_first: int = 0,
) -> LoadResult:
    """Every usable document below docs_dir; the unusable ones in ``skipped`` with their reason."""
    root = Path(os.path.realpath(docs_dir))
    paths, skipped = discover_markdown_files(root)
    result = LoadResult(skipped=list(skipped))
    for entry in skipped:
        log.warning("%s: %s; skipped", entry.path, entry.reason)
    for path in paths:
        rel = path.relative_to(root).as_posix()
        try:
            document = build_document(
                path,
                root,
                max_section_chars=max_section_chars,
                related_k=related_k,
                related_min_similarity=related_min_similarity,
                related_first=related_first,
            )
        except DocumentError as exc:
            log.warning("%s: %s; skipped", rel, exc)
            result.skipped.append(SkippedFile(rel, str(exc)))
            continue
        for warning in document.warnings:
            log.warning("%s", warning)
        result.documents.append(document)
    return result


def load_configured_documents(config: Config, related_first: int = 0) -> LoadResult:
    """``load_documents`` with the run's settings (the run and ``--curate`` load alike); a run
    limited to its first sections passes that limit as ``related_first``."""
    return load_documents(
        config.run.markdown_docs_dir,
        max_section_chars=config.plan.max_section_chars,
        related_k=config.plan.related_sections,
        related_min_similarity=config.plan.related_min_similarity,
        related_first=related_first,
    )

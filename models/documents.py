"""Dataclasses for what the document stage produces and every later stage reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal


@dataclass(frozen=True)
class FigureRef:
    """A figure a section shows (``placed``) or names in its prose (``cited``)."""

    id: str  # e.g. "FIGURE_5.2": the placeholder's name and the image file's stem
    path: str | None  # image path relative to MARKDOWN_DOCS_DIR (posix), None when missing
    caption: str | None
    placement: Literal["placed", "cited"]


@dataclass(frozen=True)
class Fact:
    """One self-standing statement taken from a section, for FACT_BASED requests."""

    text: str
    kind: Literal["sentence", "list_item", "table_row"]
    context: str | None = None  # the parent list item, for nested list items


@dataclass(frozen=True)
class RelatedSection:
    index: int
    similarity: float


@dataclass
class Section:
    index: int
    title: str  # heading path, e.g. "Running a Simulation > 5.2 Inputs"
    text: str  # the section's markdown, heading line included, placeholders kept
    start: int  # character offsets of the section in the document body
    end: int
    figures: list[FigureRef] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    related: list[RelatedSection] = field(default_factory=list)


@dataclass(frozen=True)
class DocumentName:
    """What a question calls the document instead of "the proposal" (``utilities/naming.py``)."""

    name: str  # "EIP-7918", or the title: "Making Your Own Image Filters"
    nouns: tuple[str, ...]  # the nouns that refer to the document: "eip", "proposal", "document", ...
    numbered: bool  # the name is a number under one of its nouns ("EIP-7918"), written without the noun


@dataclass
class Document:
    name: str  # path below MARKDOWN_DOCS_DIR without ".md", posix, e.g. "manuals/signals"
    path: Path
    metadata: dict[str, Any]
    body: str  # everything after the frontmatter
    sections: list[Section]
    warnings: list[str] = field(default_factory=list)
    content_hash: str = ""  # sha256 of the file's text: part of the run key
    called: DocumentName | None = None  # its name, for questions that call it "the proposal"

    @property
    def word_count(self) -> int:
        return len(self.body.split())

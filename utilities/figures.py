"""Figure placeholders: find ``{{FIGURE_X.Y}}``, resolve image files, captions and citations.

A placeholder names a figure id (``FIGURE_5.2``); its image is
``MARKDOWN_DOCS_DIR/<document name>/<id>.<png|jpg|jpeg>``, extension and case
matched case-insensitively. Ids must match ``FIGURE_ID`` (letters, digits, ``.``,
``_``, ``-``, no ``..``), and a resolved path must stay inside the docs folder
after symlinks are followed: nothing outside it is ever read. This module does
not decode images for engines (see images.py); it only checks that a file is
an image by reading its header.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from models.documents import FigureRef

PLACEHOLDER = re.compile(r"\{\{\s*(FIGURE[^{}]*?)\s*\}\}", re.IGNORECASE)
FIGURE_ID = re.compile(r"^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]*$")
IMAGE_EXTENSIONS = ("png", "jpg", "jpeg")

_NUMBER = r"\d+(?:[.\-]\d+)*"
# "Figure 16.3 - Title", "**Figure 2-1. Title**", "Figure 14-1: The HTML ...", "Fig. 3 ..."
_CAPTION = re.compile(rf"^\s*(?:\*\*|__|\*|_)?\s*(?:Figure|Fig\.)\s*({_NUMBER})\b", re.IGNORECASE)
# "see Figure 16.12", "Fig. 2-1", "Figures 3-4", "Figures 3 and 4", "Figs. 1, 2"
_CITATION = re.compile(
    rf"\b(?:Figures?|Figs?\.)\s*({_NUMBER}(?:\s*(?:,\s*(?:and\s+)?|and|&|to|–)\s*{_NUMBER})*)",
    re.IGNORECASE,
)
_CITED_NUMBER = re.compile(_NUMBER)


@dataclass(frozen=True)
class Placeholder:
    id: str
    start: int
    end: int


def find_placeholders(text: str) -> list[Placeholder]:
    """Every placeholder in text, valid id or not, in order.

    >>> [p.id for p in find_placeholders("a {{FIGURE_1.2}} b {{ FIGURE_3 }}")]
    ['FIGURE_1.2', 'FIGURE_3']
    """
    return [Placeholder(m.group(1), m.start(), m.end()) for m in PLACEHOLDER.finditer(text)]


def strip_placeholders(text: str) -> str:
    """Text with each placeholder blanked: a marker, not words of the prose. Whatever is matched
    against a source (offered quotes, grounding, TF-IDF) goes through this one rule.

    >>> strip_placeholders("The curve in {{FIGURE_1.1}} rises.")
    'The curve in   rises.'
    """
    return PLACEHOLDER.sub(" ", text)


def is_valid_figure_id(figure_id: str) -> bool:
    return bool(FIGURE_ID.match(figure_id))


def figure_number(figure_id: str) -> str | None:
    """The number a text would cite a figure by: ``FIGURE_14.3`` -> ``14.3``."""
    match = re.search(r"(\d+(?:[.\-]\d+)*)$", figure_id)
    return match.group(1).replace("-", ".") if match else None


def find_caption(text: str, after: int) -> tuple[str, str] | None:
    """The caption following a placeholder that ends at ``after``: (caption, figure number).

    The caption is the next non-empty paragraph when it starts like one; wrapped
    lines are joined and emphasis markers dropped.
    """
    rest = text[after:]
    lines = rest.split("\n", 40)
    # The placeholder's own line may hold more text; captions start on a later line.
    paragraph: list[str] = []
    for line in lines[1:]:
        if not line.strip():
            if paragraph:
                break
            continue
        paragraph.append(line.strip())
        if len(paragraph) == 1 and not _CAPTION.match(line):
            return None
    if not paragraph:
        return None
    caption = " ".join(paragraph).replace("**", "").replace("__", "").strip()
    match = _CAPTION.match(paragraph[0])
    assert match is not None
    return caption, match.group(1).replace("-", ".")


def find_citations(text: str) -> list[str]:
    """Figure numbers a text cites, normalized with dots, ranges kept as ``a-b``.

    >>> find_citations("See Figure 16.12 and Fig. 2-1; Figures 3-4 show it.")
    ['16.12', '2-1', '3-4']
    """
    numbers: list[str] = []
    for match in _CITATION.finditer(text):
        numbers.extend(m.group(0) for m in _CITED_NUMBER.finditer(match.group(1)))
    return numbers


def resolve_cited(number: str, by_number: dict[str, str]) -> list[str]:
    """Figure ids a cited number means: an exact number, or a range ``a-b`` of known figures."""
    exact = by_number.get(number.replace("-", "."))
    if exact:
        return [exact]
    parts = number.split("-")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        lo, hi = int(parts[0]), int(parts[1])
        if lo < hi <= lo + 50:
            return [by_number[str(n)] for n in range(lo, hi + 1) if str(n) in by_number]
    return []


class ImageFolder:
    """The image folder of one document, listed once, matched case-insensitively."""

    def __init__(self, docs_root: Path, folder: Path):
        self.docs_root = docs_root
        self.folder = folder
        self._files: dict[str, str] = {}
        if folder.is_dir():
            for entry in sorted(os.listdir(folder)):
                self._files.setdefault(entry.lower(), entry)

    def resolve(self, figure_id: str) -> tuple[Path | None, str | None]:
        """(absolute path, None) or (None, why not) for a validated figure id."""
        for ext in IMAGE_EXTENSIONS:
            name = self._files.get(f"{figure_id}.{ext}".lower())
            if name is None:
                continue
            path = self.folder / name
            real = Path(os.path.realpath(path))
            if not real.is_relative_to(self.docs_root):
                return None, f"image {name} points outside MARKDOWN_DOCS_DIR; refused"
            if not real.is_file():
                return None, f"image {name} is not a file"
            problem = check_image_header(real)
            if problem:
                return None, f"image {name} {problem}"
            return path, None
        tried = ", ".join(f"{figure_id}.{ext}" for ext in IMAGE_EXTENSIONS)
        return None, f"no image file ({tried}) in {self.folder.name}/"


def check_image_header(path: Path) -> str | None:
    """Cheap check that a file is an image Pillow can identify; None when it is."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.size  # noqa: B018 - the header is parsed lazily
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        return "is too large to decode safely (Pillow's decompression-bomb limit)"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return f"is not a readable image ({type(exc).__name__})"
    return None


@dataclass
class DocumentFigures:
    """Per-section figures of one document, with the warnings found on the way."""

    by_section: list[list[FigureRef]]
    warnings: list[str]


def collect_figures(
    document_name: str,
    section_texts: list[str],
    section_titles: list[str],
    docs_root: Path,
    image_folder: Path,
) -> DocumentFigures:
    """Placed and cited figures of every section of one document."""
    folder = ImageFolder(docs_root, image_folder)
    warnings: list[str] = []
    placed: list[list[FigureRef]] = []
    by_number: dict[str, str] = {}
    refs_by_id: dict[str, FigureRef] = {}
    home: dict[str, int] = {}

    for index, (text, title) in enumerate(zip(section_texts, section_titles)):
        refs: list[FigureRef] = []
        for ph in find_placeholders(text):
            where = f"{document_name}: section '{title}'"
            if not is_valid_figure_id(ph.id):
                warnings.append(f"{where}: invalid figure id {ph.id!r} (allowed: letters, digits, '.', '_', '-')")
                continue
            if ph.id in refs_by_id:
                continue  # the same figure placed twice: its first place is its home
            path, problem = folder.resolve(ph.id)
            if problem:
                warnings.append(f"{where}: figure {ph.id}: {problem}")
            caption_info = find_caption(text, ph.end)
            caption = caption_info[0] if caption_info else None
            rel = path.relative_to(docs_root).as_posix() if path is not None else None
            ref = FigureRef(ph.id, rel, caption, "placed")
            refs.append(ref)
            refs_by_id[ph.id] = ref
            home[ph.id] = index
            number = figure_number(ph.id)
            if number:
                by_number.setdefault(number, ph.id)
            if caption_info:
                by_number[caption_info[1]] = ph.id  # the caption's number is what prose cites
        placed.append(refs)

    by_section: list[list[FigureRef]] = []
    for index, text in enumerate(section_texts):
        refs = list(placed[index])
        seen = {r.id for r in refs}
        for number in find_citations(text):
            for figure_id in resolve_cited(number, by_number):
                if figure_id not in seen and home.get(figure_id) != index:
                    ref = refs_by_id[figure_id]
                    refs.append(FigureRef(ref.id, ref.path, ref.caption, "cited"))
                    seen.add(figure_id)
        by_section.append(refs)
    return DocumentFigures(by_section, warnings)

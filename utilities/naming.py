"""A document's name, put in place of the common noun a question calls it by ("the proposal", "this chapter").

A small model writes "What is the proposal's purpose?" from a document that calls itself
"this EIP" and "the proposal", although the prompt gives its title: the answer is right,
but the question cannot stand on its own, and the self-containment gate rejects it. A
reference of a question to the document itself is replaced by the document's name before
the gates see it: ``EIP-7918`` when the frontmatter numbers the document under a noun the
document calls itself ("eip: 7918" and "This EIP ..."), else its title after that noun
('the chapter "Making Your Own Image Filters"'). The nouns replaced are the ones the
document calls itself ("this chapter", "This EIP") and "document" and "text", which in a
question mean its source unless they open a term of it ("the text color"). A reference to
anything else ("the function", "the two curves") is left for the gate to judge. An answer's references
by the nouns the document calls itself are named too ("This EIP assigns ..."), not its "document" or "text".
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from models.documents import DocumentName
from utilities.sections import TITLE_SEPARATOR

# Series whose documents are named by number ("EIP-7918"): from frontmatter such as "eip: 7918".
SERIES = ("eip", "erc", "bip", "pep", "rfc")
# Nouns a document may call itself; it does when its own text says "this <noun>".
SELF_NOUNS = (
    *SERIES,
    "proposal",
    "specification",
    "paper",
    "chapter",
    "article",
    "guide",
    "tutorial",
    "manual",
    "handbook",
    "report",
    "whitepaper",
    "publication",
    "standard",
    "book",
)
# "the document" or "the text" of a question is its source: named whether or not the document says them
SOURCE_NOUNS = ("document", "text")
_NEXT_WORD = re.compile(r"\s+([A-Za-z]+)")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)


def document_name(metadata: dict[str, Any], body: str, h1_titles: tuple[str, ...] = ()) -> DocumentName | None:
    """The document's name and the nouns it calls itself, or None when it has no name to give.

    ``h1_titles``: the distinct titles of its top-level headings; one of them is its title when the
    frontmatter has none.
    """
    prose = _FENCE.sub(" ", body)
    nouns = [n for n in SELF_NOUNS if re.search(rf"(?<![\w-])this\s+{n}(?![\w-])", prose, re.IGNORECASE)]
    if "chapter" in nouns and "book" in nouns:  # a chapter's "this book" is the book it is part of
        nouns.remove("book")
    for key, value in metadata.items():
        number = str(value).strip() if isinstance(value, (int, str)) and not isinstance(value, bool) else ""
        if str(key).lower() in SERIES and str(key).lower() in nouns and re.fullmatch(r"\d{1,6}", number):
            return DocumentName(f"{str(key).upper()}-{number}", (*nouns, *SOURCE_NOUNS), numbered=True)
    title = metadata.get("title")
    if not (isinstance(title, str) and title.strip()):
        title = h1_titles[0] if len(h1_titles) == 1 else None
    if not title:
        return None
    return DocumentName(" ".join(title.split()), (*nouns, *SOURCE_NOUNS), numbered=False)


@lru_cache(maxsize=256)
def _reference(nouns: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(sorted(nouns, key=len, reverse=True))
    return re.compile(
        rf"(?<![\w-])(?P<det>the|this)\s+(?P<noun>{alternatives})(?P<possessive>'s)?(?![\w-])"
        rf"|(?<![\w-])(?:the|this)\s+(?P<authors>authors?)(?P<their>'s|')?(?![\w-])(?!\s+of\b)",
        re.IGNORECASE,
    )


def name_document(question: str, name: DocumentName | None, source: str = "") -> str:
    """``question`` with each reference to its document replaced by the document's name; unchanged when it
    names the document already or makes no such reference. ``source``: the text its request showed, where
    "text color" names a thing, so "the text color" is no reference to the document."""
    if name is None or name.name.lower() in question.lower():
        return question
    own_noun = next((n for n in name.nouns if n not in SOURCE_NOUNS), "document")

    def named(match: re.Match[str]) -> str:
        opens = match.group(0)[0].isupper()
        if authors := match.group("authors"):  # "the authors' knowledge": "EIP-7918's authors' knowledge"
            if match.group("their"):
                return f"{name.name}'s {authors}{match.group('their')}" if name.numbered else match.group(0)
            return f"{'The' if opens else 'the'} {authors} of {_called(name, own_noun, False)}"
        noun = match.group("noun").lower()
        following = _NEXT_WORD.match(question, match.end())
        if noun in SOURCE_NOUNS and following and f"{noun} {following.group(1).lower()}" in source.lower():
            return match.group(0)  # "the text color" is a thing of the source, not the source
        called = _called(name, own_noun if noun in SOURCE_NOUNS else noun, opens)
        return called + (match.group("possessive") or "")

    return _reference(name.nouns).sub(named, question)


def name_document_in_answer(answer: str, name: DocumentName | None) -> str:
    """``answer`` with each reference to its document by a noun the document calls itself ("This EIP assigns ...",
    "the proposal") replaced by the document's name ("EIP-7918 assigns ..."). Not "the document" or "the text":
    in an answer they are more often things of the source than the source ("formatting the text").

    >>> name_document_in_answer("This EIP assigns a reserve price.", DocumentName("EIP-7918", ("eip",), True))
    'EIP-7918 assigns a reserve price.'
    >>> name_document_in_answer("Markdown formats the text.", DocumentName("Cargo", ("chapter", "text"), False))
    'Markdown formats the text.'
    """
    own = tuple(n for n in name.nouns if n not in SOURCE_NOUNS) if name is not None else ()
    if name is None or not own:
        return answer
    return name_document(answer, DocumentName(name.name, own, name.numbered))


def _called(name: DocumentName, noun: str, opens: bool) -> str:
    """``EIP-7918``, or 'the chapter "Making Your Own Image Filters"' ("The" where it opens the sentence)."""
    if name.numbered:
        return name.name
    return f'{"The" if opens else "the"} {noun} "{name.name}"'


def item_source(name: DocumentName | None, section_title: str) -> tuple[str, ...]:
    """Where a true-or-false or fill-in-the-blank item comes from, as its label may name it, most telling first:
    'from "Making Your Own Image Filters", section "Photographs, the Old Way"' (the section's own heading, not its
    path), then the document alone; the document alone when the heading is its name; none for a document with
    no name.

    >>> item_source(DocumentName("EIP-7918", ("eip",), numbered=True), "Motivation > Reserve price")
    ('from EIP-7918, section "Reserve price"', 'from EIP-7918')
    >>> item_source(DocumentName("More About Cargo", (), numbered=False), "More About Cargo")
    ('from "More About Cargo"',)
    """
    if name is None:
        return ()
    called = f"from {name.name}" if name.numbered else f'from "{name.name}"'
    heading = " ".join(section_title.split(TITLE_SEPARATOR)[-1].split())
    if not heading or heading.lower() == name.name.lower():
        return (called,)
    return (f'{called}, section "{heading}"', called)

"""Split a markdown body into sections at ATX headings found by a real parser.

markdown-it-py's block tokens say where each top-level heading starts, so a
``# comment`` inside a fenced or indented code block, an HTML block or a table
never starts a section. Sections are contiguous character spans that tile the
body exactly: concatenating every section's span gives the body back, so no
word is lost or repeated. What this module does not do: interpret inline
markdown, resolve figures or find facts (see figures.py and facts.py).

Rules:
- text before the first heading is a preamble section when it has real content
  (at least ``MIN_PREAMBLE_WORDS`` words outside HTML comments); otherwise it is
  kept at the top of the first section;
- a heading with no body merges into the section that follows it (its first
  child, when it has one), so ``# Guide`` directly followed by ``## Setup`` gives
  one section titled ``Guide > Setup``;
- a section longer than ``max_chars`` splits between top-level blocks; a single
  paragraph longer than that splits between sentences or words; code blocks,
  tables, HTML blocks and lists are never split inside.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.token import Token

TITLE_SEPARATOR = " > "  # between the headings of a section's title: "Background > Photographs, the Old Way"

MIN_PREAMBLE_WORDS = 3

_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_WORD = re.compile(r"\w")
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s+")


def block_parser() -> MarkdownIt:
    """A CommonMark parser with tables that stops after block parsing (inline is not needed)."""
    md = MarkdownIt("commonmark").enable("table")
    md.core.ruler.disable(["inline", "text_join"])
    return md


_PARSER = block_parser()


def normalize_newlines(text: str) -> str:
    """markdown-it counts lines after this normalization; offsets must agree with it."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "\ufffd")


@dataclass(frozen=True)
class SectionSpan:
    title: str  # heading path joined by TITLE_SEPARATOR, or "Preamble"
    level: int  # heading level of the section's own heading, 0 for a preamble
    start: int
    end: int


@dataclass(frozen=True)
class _Heading:
    line: int
    level: int
    text: str


@dataclass(frozen=True)
class _Block:
    start: int  # character offsets
    end: int
    splittable: bool  # a paragraph may be cut between sentences; nothing else may
    heading: bool = False


def _line_offsets(text: str) -> list[int]:
    """Character offset of the start of every line, plus one past the end.

    >>> _line_offsets("a\\nbc\\n")
    [0, 2, 5, 5]
    """
    offsets = [0]
    find = text.find
    pos = find("\n")
    while pos != -1:
        offsets.append(pos + 1)
        pos = find("\n", pos + 1)
    offsets.append(len(text))
    return offsets


def _scan(tokens: list[Token], offsets: list[int]) -> tuple[list[_Heading], list[_Block]]:
    headings: list[_Heading] = []
    blocks: list[_Block] = []
    last = len(offsets) - 1
    for i, token in enumerate(tokens):
        if token.level != 0 or token.nesting == -1 or token.map is None:
            continue
        start_line, end_line = token.map
        start, end = offsets[min(start_line, last)], offsets[min(end_line, last)]
        is_heading = token.type == "heading_open" and token.markup.startswith("#")
        if is_heading:
            headings.append(_Heading(start_line, int(token.tag[1:]), tokens[i + 1].content.strip()))
        blocks.append(_Block(start, end, splittable=token.type == "paragraph_open", heading=is_heading))
    return headings, blocks


def _has_words(text: str, minimum: int = 1) -> bool:
    text = _HTML_COMMENT.sub(" ", text)
    if minimum <= 1:
        return bool(_WORD.search(text))
    return sum(1 for w in text.split() if _WORD.search(w)) >= minimum


def _cut_inside(text: str, start: int, end: int, limit: int) -> int:
    """Where to cut a long paragraph text[start:end] so that the first part is <= limit chars.

    Prefers the last sentence end, then the last whitespace; never cuts a word.
    """
    window_end = min(end, start + limit)
    window = text[start:window_end]
    best = -1
    for match in _SENTENCE_END.finditer(window):
        best = match.end()
    if best <= 0:
        best = max(window.rfind(" "), window.rfind("\n")) + 1
    if best <= 0:  # one word longer than the limit: cut after it
        nxt = re.search(r"\s", text[window_end:end])
        return end if nxt is None else window_end + nxt.end()
    return start + best


def _split_span(text: str, start: int, end: int, blocks: list[_Block], max_chars: int) -> list[tuple[int, int]]:
    if end - start <= max_chars:
        return [(start, end)]
    inner = [b for b in blocks if start <= b.start < end]
    cuts = sorted({b.start for b in inner if b.start > start})
    parts: list[tuple[int, int]] = []
    part_start = start
    while end - part_start > max_chars:
        # A heading never ends a part: it stays with the text under it.
        floor = part_start
        lead = next((b for b in inner if b.start <= part_start < b.end), None)
        if lead is not None and lead.heading:
            floor = lead.end
        fitting = [c for c in cuts if floor < c <= part_start + max_chars]
        if fitting:
            cut = fitting[-1]
        else:
            block = next((b for b in inner if b.start <= floor < b.end), None)
            if block is not None and block.splittable and block.end - part_start > max_chars:
                cut = _cut_inside(text, part_start, block.end, max_chars)
            else:  # an unsplittable block (code, table, list) is kept whole
                later = [c for c in cuts if c > floor]
                cut = later[0] if later else end
        if cut >= end:
            break
        parts.append((part_start, cut))
        part_start = cut
    parts.append((part_start, end))
    return parts


def split_into_sections(body: str, max_chars: int) -> list[SectionSpan]:
    """Split a (newline-normalized) markdown body into titled spans that tile it.

    >>> [(s.title, s.start, s.end) for s in split_into_sections("# A\\n## B\\nx\\n## C\\ny\\n", 6000)]
    [('A > B', 0, 11), ('A > C', 11, 18)]
    """
    if not body:
        return []
    offsets = _line_offsets(body)
    headings, blocks = _scan(_PARSER.parse(body), offsets)

    # Raw spans: one per heading, plus the text before the first heading.
    raw: list[tuple[str, int, int, int, bool]] = []  # title, level, start, end, has_body
    stack: list[tuple[int, str]] = []
    first_start = offsets[headings[0].line] if headings else len(body)
    preamble = body[:first_start]
    for n, heading in enumerate(headings):
        start = offsets[heading.line]
        end = offsets[headings[n + 1].line] if n + 1 < len(headings) else len(body)
        while stack and stack[-1][0] >= heading.level:
            stack.pop()
        stack.append((heading.level, heading.text or f"(untitled heading {n + 1})"))
        title = TITLE_SEPARATOR.join(text for _, text in stack)
        heading_end = offsets[min(heading.line + 1, len(offsets) - 1)]
        raw.append((title, heading.level, start, end, _has_words(body[heading_end:end])))

    spans: list[SectionSpan] = []
    if not raw:
        spans.append(SectionSpan("Preamble" if _has_words(preamble) else "Document", 0, 0, len(body)))
    else:
        if _has_words(preamble, MIN_PREAMBLE_WORDS):
            spans.append(SectionSpan("Preamble", 0, 0, first_start))
            lead = first_start
        else:
            lead = 0  # trivial preamble ([TOC], a comment) stays atop the first section
        pending_start: int | None = lead
        for title, level, start, end, has_body in raw:
            if pending_start is None:
                pending_start = start
            if not has_body:
                continue  # merges into the next section
            spans.append(SectionSpan(title, level, pending_start, end))
            pending_start = None
        if pending_start is not None:  # trailing headings with no body
            if spans:
                last = spans[-1]
                spans[-1] = SectionSpan(last.title, last.level, last.start, len(body))
            else:
                title, level = raw[-1][0], raw[-1][1]
                spans.append(SectionSpan(title, level, pending_start, len(body)))

    result: list[SectionSpan] = []
    for span in spans:
        parts = _split_span(body, span.start, span.end, blocks, max_chars)
        for i, (start, end) in enumerate(parts, 1):
            title = span.title if len(parts) == 1 else f"{span.title} (part {i} of {len(parts)})"
            result.append(SectionSpan(title, span.level, start, end))
    return result

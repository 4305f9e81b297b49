"""Facts for FACT_BASED requests: sentences, list items and table rows of a section.

- Sentences are split at ``.``, ``!`` and ``?`` followed by space and a capital,
  digit or opening mark, except after known abbreviations (``Fig.``, ``No.``,
  ``e.g.``), initials (``U.S.``); decimals and versions (``3.14``, ``v0.18.0``)
  have no space after the dot and are never split.
- A list item is one fact; a nested item carries its parent item as context.
- A table row is rendered with its header: ``Constant: BLOB_BASE_COST; Value: 2**13``.
- Code blocks, HTML blocks, headings and figure placeholders are not facts, and
  facts shorter than ``MIN_FACT_CHARS`` or ``MIN_FACT_WORDS`` are dropped.
"""

from __future__ import annotations

import re
from functools import lru_cache

from markdown_it.token import Token

from models.documents import Fact
from utilities.figures import strip_placeholders
from utilities.sections import block_parser

MIN_FACT_CHARS = 30
MIN_FACT_WORDS = 5
MAX_FACT_CHARS = 1000  # longer "sentences" are run-on text, not a fact

ABBREVIATIONS = frozenset(
    [
        "fig",
        "figs",
        "no",
        "nos",
        "e.g",
        "i.e",
        "etc",
        "vs",
        "cf",
        "al",
        "approx",
        "eq",
        "eqs",
        "sec",
        "ch",
        "vol",
        "p",
        "pp",
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "jr",
        "sr",
        "inc",
        "ltd",
        "co",
        "corp",
        "dept",
        "est",
        "min",
        "max",
        "nr",
        "ref",
        "refs",
        "resp",
        "viz",
        "ca",
        "op",
        "cit",
        "ed",
        "eds",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
    ]
)

_BOUNDARY = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[\"'“‘(\[`*_]*[A-Z0-9])")
_INITIALS = re.compile(r"^(?:[A-Za-z]\.)+[A-Za-z]?$")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_SPACE = re.compile(r"\s+")
_CODE_SPAN = re.compile(r"(`+)(?:.+?)\1", re.DOTALL)

_PARSER = block_parser()


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences.

    >>> split_sentences("See Fig. 3 for the U.S. data. Version 0.18.0 is out! Is it 3.5 times faster? Yes.")
    ['See Fig. 3 for the U.S. data.', 'Version 0.18.0 is out!', 'Is it 3.5 times faster?', 'Yes.']
    """
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        before = text[start : match.start() + 1].rsplit(None, 1)
        last_word = before[-1] if before else ""
        stem = last_word.rstrip(".").lstrip("(\"'“‘[").lower()
        if text[match.start()] == "." and (stem in ABBREVIATIONS or _INITIALS.match(last_word.rstrip("."))):
            # "U.S. data" is one sentence; "the U.S. The next" is rare enough to accept.
            next_word = text[match.end() :].split(None, 1)
            if stem in ABBREVIATIONS or (next_word and next_word[0][:1].islower()):
                continue
            if _INITIALS.match(last_word.rstrip(".")) and len(last_word.rstrip(".")) <= 4:
                continue
        sentence = text[start : match.end()].strip()
        if sentence:
            sentences.append(sentence)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def clean_inline(text: str) -> str:
    """Plain-ish text for a fact: links become their text, emphasis markers and placeholders go.

    >>> clean_inline("See **[the spec](http://x)** and {{FIGURE_1.2}}  now: `2**13`")
    'See the spec and now: `2**13`'
    """
    pieces: list[str] = []
    last = 0
    for code in _CODE_SPAN.finditer(text):  # code spans are kept verbatim: `2**13`
        pieces.append(_clean_prose(text[last : code.start()]))
        pieces.append(code.group(0))
        last = code.end()
    pieces.append(_clean_prose(text[last:]))
    return _SPACE.sub(" ", "".join(pieces)).strip()


def _clean_prose(text: str) -> str:
    text = strip_placeholders(text)
    text = _LINK.sub(r"\1", text)
    return text.replace("**", "").replace("__", "")


def _is_fact(text: str) -> bool:
    return MIN_FACT_CHARS <= len(text) <= MAX_FACT_CHARS and len(text.split()) >= MIN_FACT_WORDS


def _table_facts(tokens: list[Token], start: int) -> tuple[list[Fact], int]:
    header: list[str] = []
    facts: list[Fact] = []
    row: list[str] = []
    in_head = False
    i = start
    while i < len(tokens):
        token = tokens[i]
        if token.type == "table_close":
            return facts, i
        if token.type == "thead_open":
            in_head = True
        elif token.type == "thead_close":
            in_head = False
        elif token.type == "tr_open":
            row = []
        elif token.type == "inline":
            row.append(clean_inline(token.content))
        elif token.type == "tr_close":
            if in_head:
                header = row
            elif any(row):
                cells = [f"{h}: {c}" if h else c for h, c in zip(header + [""] * len(row), row) if c]
                text = "; ".join(cells)
                if len(text) >= 10:  # table rows are short by nature; keep them
                    facts.append(Fact(text, "table_row"))
        i += 1
    return facts, i


@lru_cache(maxsize=4096)
def quotable_sentences(text: str) -> tuple[str, ...]:
    """Sentences of a text's prose and list items as written (markdown kept), and each table body
    row as its source line, for the evidence a reply may cite. Code, HTML and placeholders are left
    out. A row is one unit because its cells mean nothing apart: "`2**13`" alone is no evidence.

    >>> quotable_sentences("See [the spec](http://x) for `2**13`. It is final now.\\n\\n```\\ncode only here\\n```")
    ('See [the spec](http://x) for `2**13`.', 'It is final now.')
    >>> quotable_sentences("| Constant | Value |\\n| - | - |\\n| `BLOB_BASE_COST` | `2**13` |\\n")
    ('| `BLOB_BASE_COST` | `2**13` |',)
    """
    quotes: list[str] = []
    lines = text.splitlines()
    table = ""  # "", "head" or "body"
    for token in _PARSER.parse(text):
        if token.type in ("table_open", "thead_open", "tbody_open", "table_close"):
            table = {"table_open": "head", "thead_open": "head", "tbody_open": "body"}.get(token.type, "")
        elif token.type == "tr_open" and table == "body" and token.map:
            row = " ".join(lines[token.map[0] : token.map[1]]).strip()
            if len(row.split()) >= 3:
                quotes.append(row)
        elif token.type == "inline" and not table:
            content = _SPACE.sub(" ", strip_placeholders(token.content)).strip()
            quotes.extend(s for s in split_sentences(content) if len(s.split()) >= 3)
    return tuple(dict.fromkeys(quotes))


def extract_facts_from_section(text: str) -> list[Fact]:
    """Facts of one section's markdown, in document order."""
    tokens = _PARSER.parse(text)
    facts: list[Fact] = []
    item_stack: list[str] = []  # text of the list items we are inside
    first_para_of_item = False
    i = 0
    while i < len(tokens):
        token = tokens[i]
        kind = token.type
        if kind == "table_open":
            table_facts, i = _table_facts(tokens, i)
            facts.extend(table_facts)
        elif kind == "list_item_open":
            item_stack.append("")
            first_para_of_item = True
        elif kind == "list_item_close":
            item_stack.pop()
        elif kind == "heading_open":
            i += 2  # skip the heading's inline token and its close
        elif kind == "inline" and tokens[i - 1].type == "paragraph_open":
            content = clean_inline(token.content)
            if item_stack and first_para_of_item:
                item_stack[-1] = content
                first_para_of_item = False
                if _is_fact(content):
                    parent = next((t for t in reversed(item_stack[:-1]) if t), None)
                    facts.append(Fact(content, "list_item", parent))
            else:
                facts.extend(Fact(s, "sentence") for s in split_sentences(content) if _is_fact(s))
        i += 1
    return facts

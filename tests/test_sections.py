"""Sectioning: headings from the parser's block tokens, spans that tile the body."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from utilities.file_utils import read_markdown, split_frontmatter
from utilities.sections import normalize_newlines, split_into_sections

from .conftest import SHARED_DOCUMENTS


def texts(body: str, max_chars: int = 6000) -> list[str]:
    return [body[s.start : s.end] for s in split_into_sections(body, max_chars)]


def titles(body: str, max_chars: int = 6000) -> list[str]:
    return [s.title for s in split_into_sections(body, max_chars)]


def assert_tiles(body: str, max_chars: int = 6000) -> None:
    spans = split_into_sections(body, max_chars)
    assert "".join(body[s.start : s.end] for s in spans) == body
    assert all(a.end == b.start for a, b in itertools.pairwise(spans))
    assert body.split() == [w for s in spans for w in body[s.start : s.end].split()]


def test_hash_lines_inside_fenced_and_indented_code_are_not_headings():
    body = (
        "# Guide\nIntro text here.\n\n```rust\n#[cfg(test)]\n# not a heading\n```\n\n"
        "    # indented code\n\n## Next\nMore.\n"
    )
    assert titles(body) == ["Guide", "Guide > Next"]
    assert "#[cfg(test)]" in texts(body)[0] and "# indented code" in texts(body)[0]


def test_html_blocks_and_tables_do_not_start_sections():
    body = "# A\nText.\n\n<div>\n# inside html\n</div>\n\n| h |\n|---|\n| # cell |\n\n# B\nEnd.\n"
    assert titles(body) == ["A", "B"]


def test_setext_headings_are_not_section_boundaries():
    assert titles("# A\nx\n\nTitle\n=====\ny\n") == ["A"]


def test_heading_path_and_levels():
    body = "# Running a Simulation\nx\n## 5.1 Setup\ny\n## 5.2 Inputs\nz\n### Details\nw\n# Other\nv\n"
    assert titles(body) == [
        "Running a Simulation",
        "Running a Simulation > 5.1 Setup",
        "Running a Simulation > 5.2 Inputs",
        "Running a Simulation > 5.2 Inputs > Details",
        "Other",
    ]


def test_heading_without_body_merges_into_its_first_child():
    body = "# Guide\n## Setup\nInstall it.\n## Use\nRun it.\n"
    assert titles(body) == ["Guide > Setup", "Guide > Use"]
    assert texts(body)[0] == "# Guide\n## Setup\nInstall it.\n"


def test_trailing_heading_without_body_joins_previous_section():
    body = "# A\nText.\n# B\n"
    assert titles(body) == ["A"]
    assert_tiles(body)


def test_preamble_with_content_is_a_section_and_trivial_preamble_is_not():
    assert titles("Some real preamble words here.\n\n# A\nx\n") == ["Preamble", "A"]
    assert titles("[TOC]\n\n# A\nx\n") == ["A"]
    assert texts("[TOC]\n\n# A\nx\n")[0].startswith("[TOC]")


@pytest.mark.parametrize("body", ["Just one paragraph.\n", "# Only\nOne section.\n"])
def test_one_section_documents(body):
    assert len(split_into_sections(body, 6000)) == 1
    assert_tiles(body)


def test_long_section_splits_between_paragraphs_never_inside_code_or_table():
    para = "Word " * 60 + "end.\n\n"
    code = "```\n" + "code line\n" * 40 + "```\n\n"
    table = "| a | b |\n|---|---|\n" + "| 1 | 2 |\n" * 40 + "\n"
    body = "# Big\n" + para * 3 + code + para + table + para * 2
    spans = split_into_sections(body, max_chars=700)
    assert len(spans) > 3
    assert all(re.fullmatch(r"Big \(part \d+ of \d+\)", s.title) for s in spans)
    for s in spans:
        part = body[s.start : s.end]
        assert part.count("```") in (0, 2), "a fence was cut"
        if "| 1 | 2 |" in part:
            assert part.count("| 1 | 2 |") == 40, "a table was cut"
    assert_tiles(body, 700)


def test_oversized_single_paragraph_splits_at_sentences():
    body = "# A\n" + "This is a sentence of moderate length. " * 100 + "\n"
    spans = split_into_sections(body, max_chars=500)
    assert len(spans) >= 8
    for s in spans[:-1]:
        assert body[s.start : s.end].rstrip().endswith(".")
        assert s.end - s.start <= 500
    assert_tiles(body, 500)


# Markdown built from pieces that stress the parser: headings of every level,
# fences with '#' lines, indented code, HTML, tables, lists, setext underlines,
# blank lines and Windows newlines.
_pieces = st.one_of(
    st.builds(lambda n, t: "#" * n + " " + t, st.integers(1, 7), st.text("abc xyz#", max_size=12)),
    st.just("```\n# code heading\n```"),
    st.just("~~~\n## tilde\n"),
    st.just("    # indented"),
    st.just("<div>\n# html\n</div>"),
    st.just("| h | i |\n|---|---|\n| # c | d |"),
    st.just("- item one\n  - # nested heading\n- item two"),
    st.just("> # quoted heading"),
    st.just("Title\n====="),
    st.just("---"),
    st.just("{{FIGURE_1.2}}"),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40),
    st.just(""),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_pieces, max_size=25), st.sampled_from(["\n", "\n\n", "\r\n"]), st.integers(40, 400))
def test_every_word_appears_in_exactly_one_section_in_order(pieces, joiner, max_chars):
    body = normalize_newlines(joiner.join(pieces))
    spans = split_into_sections(body, max_chars)
    if not body:
        assert spans == []
        return
    assert "".join(body[s.start : s.end] for s in spans) == body
    assert body.split() == [w for s in spans for w in body[s.start : s.end].split()]
    assert all(s.title for s in spans)


@pytest.mark.parametrize("name", SHARED_DOCUMENTS)
def test_shared_documents_keep_every_word_in_order(shared_corpus, name):
    text = read_markdown(shared_corpus / f"{name}.md", shared_corpus)
    _, body, _ = split_frontmatter(text)
    for max_chars in (6000, 1500, 300):
        assert_tiles(body, max_chars)
    assert "---\n" not in body[:10]


def test_rust_cfg_test_attribute_stays_inside_its_code_block_section(shared_corpus):
    text = read_markdown(shared_corpus / "rust_book_ch14_cargo.md", shared_corpus)
    _, body, _ = split_frontmatter(text)
    spans = split_into_sections(body, 6000)
    holder = [s for s in spans if "#[cfg(test)]" in body[s.start : s.end]]
    assert len(holder) == 1
    section = body[holder[0].start : holder[0].end]
    assert holder[0].title.endswith("Adding a Test to a Workspace")
    fence_before = section[: section.index("#[cfg(test)]")].count("```")
    assert fence_before % 2 == 1, "the attribute is inside an open code fence"
    assert not any(s.title.endswith("[cfg(test)]") for s in spans)


def test_heading_stays_with_an_oversized_code_block():
    body = "# A\n```\n" + "line of code\n" * 100 + "```\n\nAfter the code comes prose.\n"
    spans = split_into_sections(body, max_chars=300)
    assert body[spans[0].start : spans[0].end].startswith("# A\n```")
    assert all(body[s.start : s.end].strip() != "# A" for s in spans)
    assert_tiles(body, 300)

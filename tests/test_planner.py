"""Which sections get requests: a section with too little text gets none."""

from __future__ import annotations

import pytest

from models.documents import Section
from utilities.planner import section_words, thin_section_reason


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("## Copyright\n\nCopyright and related rights waived via [CC0](../LICENSE.md).", 7),
        ("### Parameters\n\n| Constant | Value \n| - | - |\n| `BLOB_BASE_COST` | `2**13` |", 5),
        ('<div align="center">\n<img src="x.png" alt="logo"/>\n</div>', 0),
        ("## Fees\n\n{{FIGURE_1.2}}\n\nThe fee rises.", 3),
        ("```rust\nfn add_one(x: i32) -> i32 { x + 1 }\n```", 8),  # code is content
    ],
)
def test_section_words_count_text_not_markup(text, words):
    assert section_words(Section(0, "t", text, 0, len(text))) == words


def test_a_section_one_word_short_of_the_floor_is_thin_and_one_at_it_is_not():
    def section(n: int) -> Section:
        text = "## Title words here\n\n" + " ".join(f"word{i}" for i in range(n))
        return Section(0, "Title", text, 0, len(text))

    assert thin_section_reason(section(24), 25) == "24 words of text, fewer than MIN_SECTION_WORDS=25"
    assert thin_section_reason(section(25), 25) is None
    assert thin_section_reason(section(0), 0) is None

"""Facts: sentences, list items with parents, table rows with headers."""

from __future__ import annotations

import pytest

from utilities.facts import extract_facts_from_section, split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("See Fig. 3 for details. Then stop.", ["See Fig. 3 for details.", "Then stop."]),
        ("No. 5 is the entry. It works.", ["No. 5 is the entry.", "It works."]),
        ("Use a tool, e.g. Cargo, to build. Done.", ["Use a tool, e.g. Cargo, to build.", "Done."]),
        ("Made in the U.S. and sold there. Fine.", ["Made in the U.S. and sold there.", "Fine."]),
        ("Pi is 3.14 roughly. Next.", ["Pi is 3.14 roughly.", "Next."]),
        ("Version 0.18.0 shipped. Upgrade now!", ["Version 0.18.0 shipped.", "Upgrade now!"]),
        ("Is it? Yes. (Really.) Ok", ["Is it?", "Yes.", "(Really.)", "Ok"]),
        ("lowercase after period. stays joined", ["lowercase after period. stays joined"]),
    ],
)
def test_split_sentences(text, expected):
    assert split_sentences(text) == expected


def test_list_items_carry_their_parent_item_as_context():
    text = (
        "- The parent item explains the overall setting.\n"
        "  - The nested child item states a specific detail.\n"
        "- A second top level item that is long enough.\n"
    )
    facts = extract_facts_from_section(text)
    assert [(f.kind, f.text, f.context) for f in facts] == [
        ("list_item", "The parent item explains the overall setting.", None),
        (
            "list_item",
            "The nested child item states a specific detail.",
            "The parent item explains the overall setting.",
        ),
        ("list_item", "A second top level item that is long enough.", None),
    ]


def test_table_rows_are_rendered_with_their_header():
    text = "| Constant | Value |\n| - | - |\n| `BLOB_BASE_COST` | `2**13` |\n| `GAS_PER_BLOB` | `2**17` |\n"
    facts = extract_facts_from_section(text)
    assert [f.text for f in facts] == [
        "Constant: `BLOB_BASE_COST`; Value: `2**13`",
        "Constant: `GAS_PER_BLOB`; Value: `2**17`",
    ]
    assert all(f.kind == "table_row" for f in facts)


def test_code_headings_placeholders_and_short_text_are_not_facts():
    text = (
        "# A heading that is long enough to be a sentence\n\n"
        "```python\nx = 'This code line is long enough to look like a fact.'\n```\n\n"
        "{{FIGURE_1.2}}\n\nToo short.\n\n"
        "The real fact in {{FIGURE_1.3}} this section is this sentence here.\n"
    )
    facts = extract_facts_from_section(text)
    assert [f.text for f in facts] == ["The real fact in this section is this sentence here."]


def test_shared_eip_facts_include_table_and_list(shared_corpus):
    from utilities.file_utils import load_documents

    documents = {d.name: d for d in load_documents(shared_corpus).documents}
    facts = [f for s in documents["eip_7918_blob_base_fee"].sections for f in s.facts]
    kinds = {f.kind for f in facts}
    assert kinds == {"sentence", "list_item", "table_row"}
    assert any(f.text == "Constant: `BLOB_BASE_COST`; Value: `2**13`" for f in facts)
    assert not any("def calc_excess_blob_gas" in f.text for f in facts)

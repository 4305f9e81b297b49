"""Placeholders, captions and citations."""

from __future__ import annotations

import pytest

from utilities.figures import find_caption, find_citations, find_placeholders, is_valid_figure_id
from utilities.file_utils import load_documents

from .conftest import write_png


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("{{FIGURE_1.2}}", ["FIGURE_1.2"]),
        ("{{ FIGURE_1.2 }}", ["FIGURE_1.2"]),
        ("a{{FIGURE_A-b_c.1}}b{{FIGURE_2}}", ["FIGURE_A-b_c.1", "FIGURE_2"]),
        ("{FIGURE_1} {{ FIG }}", []),
    ],
)
def test_find_placeholders(text, ids):
    assert [p.id for p in find_placeholders(text)] == ids


@pytest.mark.parametrize(
    ("figure_id", "valid"),
    [
        ("FIGURE_1.2", True),
        ("FIGURE_a-b_c", True),
        ("FIGURE_../x", False),
        ("FIGURE_..", False),
        ("FIGURE_a/b", False),
        ("FIGURE_a\\b", False),
        ("FIGURE 1", False),
    ],
)
def test_figure_id_pattern(figure_id, valid):
    assert is_valid_figure_id(figure_id) is valid


@pytest.mark.parametrize(
    ("after", "caption", "number"),
    [
        ("\n\nFigure 16.3 - Signal phases\n", "Figure 16.3 - Signal phases", "16.3"),
        ("\n**Figure 2-1. Layout of the bus**\n", "Figure 2-1. Layout of the bus", "2.1"),
        ("\n\nFigure 14-1: The HTML documentation for the `add_one`\nfunction\n\nNext para", None, "14.1"),
        ("\n\n**Figure 1.** Hypothetical demand.\n", "Figure 1. Hypothetical demand.", "1"),
        ("\n\nThe next paragraph is prose.\n", None, None),
        ("", None, None),
    ],
)
def test_find_caption(after, caption, number):
    found = find_caption("{{FIGURE_X}}" + after, len("{{FIGURE_X}}"))
    if number is None:
        assert found is None
        return
    if caption is None:
        caption = "Figure 14-1: The HTML documentation for the `add_one` function"
    assert found == (caption, number)


def test_find_citations_forms():
    text = "As shown (see Figure 16.12) and in Fig. 2-1, Figures 3 and 4, Figs. 5, 6 and 7."
    assert find_citations(text) == ["16.12", "2-1", "3", "4", "5", "6", "7"]


def test_section_citing_a_figure_placed_elsewhere_lists_it(docs_dir):
    write_png(docs_dir / "doc" / "FIGURE_1.1.png")
    write_png(docs_dir / "doc" / "FIGURE_1.2.png")
    write_png(docs_dir / "doc" / "FIGURE_1.3.png")
    (docs_dir / "doc.md").write_text(
        "# Charts\n{{FIGURE_1.1}}\n\n**Figure 1.** Demand.\n\n{{FIGURE_1.2}}\n\n**Figure 2.** Supply.\n\n"
        "{{FIGURE_1.3}}\n\n**Figure 3.** Price.\n\n"
        "# Discussion\nAs Figure 1 shows, and Figures 2-3 confirm, the text matters.\n\n"
        "# Unrelated\nNo figures are cited here at all.\n"
    )
    sections = load_documents(docs_dir).documents[0].sections
    assert [(f.id, f.placement) for f in sections[0].figures] == [
        ("FIGURE_1.1", "placed"),
        ("FIGURE_1.2", "placed"),
        ("FIGURE_1.3", "placed"),
    ]
    assert [(f.id, f.placement, f.path) for f in sections[1].figures] == [
        ("FIGURE_1.1", "cited", "doc/FIGURE_1.1.png"),
        ("FIGURE_1.2", "cited", "doc/FIGURE_1.2.png"),
        ("FIGURE_1.3", "cited", "doc/FIGURE_1.3.png"),
    ]
    assert sections[2].figures == []


def test_shared_aosa_citation_of_architecture_diagram(shared_corpus):
    documents = {d.name: d for d in load_documents(shared_corpus).documents}
    sections = documents["aosa500_image_filters"].sections
    citing = [s.title for s in sections if any(f.id == "FIGURE_11.9" and f.placement == "cited" for f in s.figures)]
    placed = [s.title for s in sections if any(f.id == "FIGURE_11.9" and f.placement == "placed" for f in s.figures)]
    assert placed == ["Architecture > Color"]
    assert citing == ["Architecture"]

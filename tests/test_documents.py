"""Reading documents: frontmatter, bad input of every kind, the shared corpus."""

from __future__ import annotations

import logging
import os
import tracemalloc
from pathlib import Path

import pytest

from utilities.file_utils import load_documents, split_frontmatter

from .conftest import SHARED_DOCUMENTS, write_png

GOOD = "# Good\nThis document is fine and has enough words to be useful.\n"
# 300 bytes of YAML whose value holds 9**6 strings: a plan or record holding it would be megabytes.
ALIAS_BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcde", "bcdef")
)


def load_with_warnings(docs: Path, caplog) -> tuple[list[str], dict[str, str], list[str]]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="synthetic_data"):
        result = load_documents(docs)
    names = [d.name for d in result.documents]
    skipped = {s.path: s.reason for s in result.skipped}
    messages = [r.getMessage() for r in caplog.records]
    return names, skipped, messages


def bad_input(docs: Path, name: str, content: bytes) -> None:
    (docs / "good.md").write_text(GOOD)
    (docs / name).write_bytes(content)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "is empty"),
        (b"  \n\t\n   \n", "contains only whitespace"),
        (b"---\ntitle: Only\n---\n\n  \n", "has frontmatter but no body"),
        (b"# Title\ncaf\xe9 au lait\n", "is not valid UTF-8 (byte 0xe9 at offset 11)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "is a binary file (contains NUL bytes), not markdown"),
    ],
    ids=["empty", "whitespace", "frontmatter-only", "non-utf8", "binary"],
)
def test_unusable_file_is_skipped_with_one_line_warning_and_others_load(docs_dir, caplog, content, reason):
    bad_input(docs_dir, "bad.md", content)
    names, skipped, messages = load_with_warnings(docs_dir, caplog)
    assert names == ["good"]
    assert skipped == {"bad.md": reason}
    assert f"bad.md: {reason}; skipped" in messages
    assert all("\n" not in m for m in messages)


def test_directory_named_like_markdown_is_reported(docs_dir, caplog):
    (docs_dir / "good.md").write_text(GOOD)
    (docs_dir / "x.md").mkdir()
    names, skipped, _messages = load_with_warnings(docs_dir, caplog)
    assert names == ["good"]
    assert skipped == {"x.md": "is a directory, not a markdown file"}


def test_symlink_loop_is_reported(docs_dir, caplog):
    (docs_dir / "good.md").write_text(GOOD)
    os.symlink("loop.md", docs_dir / "loop.md")
    names, skipped, _ = load_with_warnings(docs_dir, caplog)
    assert names == ["good"]
    assert skipped == {"loop.md": "symlink loop"}


def test_directory_symlink_loop_does_not_hang(docs_dir, caplog):
    (docs_dir / "good.md").write_text(GOOD)
    (docs_dir / "sub").mkdir()
    os.symlink("..", docs_dir / "sub" / "up")
    names, _, _ = load_with_warnings(docs_dir, caplog)
    assert names == ["good"]


def test_symlinked_document_outside_docs_is_refused(docs_dir, tmp_path, caplog):
    outside = tmp_path / "secret.md"
    outside.write_text("# Secret\nDo not read this file from outside.\n")
    (docs_dir / "good.md").write_text(GOOD)
    os.symlink(outside, docs_dir / "leak.md")
    names, skipped, _ = load_with_warnings(docs_dir, caplog)
    assert names == ["good"]
    assert skipped == {"leak.md": "symlink points outside MARKDOWN_DOCS_DIR; refused"}


@pytest.mark.parametrize(
    ("frontmatter", "warning"),
    [
        ("title: [unclosed\n", "malformed YAML frontmatter at line 3 (expected"),
        ("title: a: b\n", "malformed YAML frontmatter at line 2 (mapping values are not allowed here)"),
        ("- a\n- b\n", "YAML frontmatter is a list, not a mapping; ignored"),
        (ALIAS_BOMB, "YAML frontmatter expands to over 100,000 characters (aliases counted at every use); ignored"),
        ("a: &a [*a]\n", "YAML frontmatter holds a recursive alias; ignored"),
        ("a: " + "[" * 20_000 + "]" * 20_000 + "\n", "YAML frontmatter nests deeper than 64 levels; ignored"),
    ],
    ids=["unclosed", "bad-mapping", "list", "alias-bomb", "recursive-alias", "deep"],
)
def test_bad_frontmatter_warns_and_never_leaks_into_sections(docs_dir, caplog, frontmatter, warning):
    (docs_dir / "doc.md").write_text(f"---\n{frontmatter}---\n# Body\nThe body of this document is here.\n")
    names, skipped, messages = load_with_warnings(docs_dir, caplog)
    assert names == ["doc"] and not skipped
    assert any(m.startswith("doc: ") and warning in m for m in messages), messages
    document = load_documents(docs_dir).documents[0]
    assert document.metadata == {}
    text = "".join(s.text for s in document.sections)
    assert "unclosed" not in text and "- a" not in text


def test_frontmatter_only_at_the_very_start_with_a_closing_line():
    assert split_frontmatter("---\na: 1\n---\nbody") == ({"a": 1}, "body", None)
    assert split_frontmatter("\n---\na: 1\n---\nbody")[0] == {}
    text = "---\nno closing line\n"
    assert split_frontmatter(text) == ({}, text, None)
    assert split_frontmatter("---\n---\nbody") == ({}, "body", None)


@pytest.mark.slow
def test_ten_megabyte_single_line_document_loads_with_bounded_memory(docs_dir, caplog):
    line = ("The quick brown fox jumps over the lazy dog near version 1.2.3 again. " * 150_000)[:10_000_000]
    (docs_dir / "huge.md").write_text(line)
    tracemalloc.start()
    try:
        result = load_documents(docs_dir, max_section_chars=6000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    document = result.documents[0]
    assert len(document.sections) >= 10_000_000 // 6000
    assert all(s.end - s.start <= 6000 for s in document.sections)
    assert "".join(document.body[s.start : s.end] for s in document.sections) == document.body
    assert peak < 40 * len(line), f"peak {peak / 1e6:.0f} MB for a 10 MB document"


def test_figure_id_with_path_traversal_is_rejected(docs_dir, tmp_path, caplog):
    write_png(tmp_path / "secret.png")
    (docs_dir / "doc.md").write_text("# A\nSee {{FIGURE_../../secret}} here in the text.\n")
    _names, _, messages = load_with_warnings(docs_dir, caplog)
    section = load_documents(docs_dir).documents[0].sections[0]
    assert section.figures == []
    assert any(
        "invalid figure id '../../secret'" in m or "invalid figure id 'FIGURE_../../secret'" in m for m in messages
    )
    assert "{{FIGURE_../../secret}}" in section.text


def test_missing_image_warns_with_document_section_and_id_and_keeps_placeholder(docs_dir, caplog):
    (docs_dir / "doc.md").write_text("# Intro\n## Charts\nThe chart: {{FIGURE_2.1}}\n")
    _, _, messages = load_with_warnings(docs_dir, caplog)
    section = load_documents(docs_dir).documents[0].sections[0]
    assert [(f.id, f.path) for f in section.figures] == [("FIGURE_2.1", None)]
    assert "{{FIGURE_2.1}}" in section.text
    assert any(m.startswith("doc: section 'Intro > Charts': figure FIGURE_2.1: no image file") for m in messages)


def test_corrupt_png_is_a_warning_and_the_section_goes_on(docs_dir, caplog):
    (docs_dir / "doc").mkdir()
    (docs_dir / "doc" / "FIGURE_1.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not really a png")
    (docs_dir / "doc.md").write_text("# A\nLook at {{FIGURE_1}} for details of the thing.\n")
    names, _, messages = load_with_warnings(docs_dir, caplog)
    assert names == ["doc"]
    assert any("figure FIGURE_1: image FIGURE_1.png is not a readable image" in m for m in messages)
    assert load_documents(docs_dir).documents[0].sections[0].figures[0].path is None


def test_images_match_extension_and_case_insensitively(docs_dir):
    write_png(docs_dir / "doc" / "figure_3.2.PNG")
    write_png(docs_dir / "doc" / "FIGURE_3.3.Jpeg")
    (docs_dir / "doc.md").write_text("# A\nTwo figures: {{ FIGURE_3.2 }} and {{FIGURE_3.3}}.\n")
    figures = load_documents(docs_dir).documents[0].sections[0].figures
    assert [(f.id, f.path) for f in figures] == [
        ("FIGURE_3.2", "doc/figure_3.2.PNG"),
        ("FIGURE_3.3", "doc/FIGURE_3.3.Jpeg"),
    ]


def test_image_symlink_pointing_outside_docs_is_refused(docs_dir, tmp_path, caplog):
    outside = write_png(tmp_path / "outside.png")
    (docs_dir / "doc").mkdir()
    os.symlink(outside, docs_dir / "doc" / "FIGURE_1.png")
    (docs_dir / "doc.md").write_text("# A\nThe figure {{FIGURE_1}} is here.\n")
    _, _, messages = load_with_warnings(docs_dir, caplog)
    assert load_documents(docs_dir).documents[0].sections[0].figures[0].path is None
    assert any("points outside MARKDOWN_DOCS_DIR; refused" in m for m in messages)


def test_nested_documents_use_their_own_image_folder(docs_dir):
    write_png(docs_dir / "manuals" / "signals" / "FIGURE_1.png")
    (docs_dir / "manuals" / "signals.md").write_text("# A\nThe figure {{FIGURE_1}} is here.\n")
    document = load_documents(docs_dir).documents[0]
    assert document.name == "manuals/signals"
    assert document.sections[0].figures[0].path == "manuals/signals/FIGURE_1.png"


def test_documents_are_read_in_sorted_order(docs_dir):
    for name in ("b", "a", "c"):
        (docs_dir / f"{name}.md").write_text(f"# {name}\nText of document {name} goes here.\n")
    assert [d.name for d in load_documents(docs_dir).documents] == ["a", "b", "c"]


def test_every_image_of_the_shared_documents_resolves(shared_corpus, caplog):
    names, skipped, messages = load_with_warnings(shared_corpus, caplog)
    assert names == sorted(SHARED_DOCUMENTS) and not skipped
    assert messages == []
    documents = load_documents(shared_corpus).documents
    expected = {"aosa500_image_filters": 9, "eip_7918_blob_base_fee": 5, "rust_book_ch14_cargo": 4}
    for document in documents:
        placed = [f for s in document.sections for f in s.figures if f.placement == "placed"]
        assert len(placed) == expected[document.name]
        assert all(f.path and (shared_corpus / f.path).is_file() for f in placed)
        assert all(f.caption and f.caption.startswith("Figure") for f in placed)


def test_shared_frontmatter_is_metadata_not_text(shared_corpus):
    documents = {d.name: d for d in load_documents(shared_corpus).documents}
    eip = documents["eip_7918_blob_base_fee"]
    assert eip.metadata["eip"] == 7918 and eip.metadata["status"] == "Final"
    assert "discussions-to" not in "".join(s.text for s in eip.sections)
    assert eip.sections[0].title == "Abstract"
    assert documents["rust_book_ch14_cargo"].metadata == {}


def test_image_over_the_decompression_bomb_limit_is_refused_at_plan_time(docs_dir, caplog, monkeypatch):
    from PIL import Image

    write_png(docs_dir / "doc" / "FIGURE_1.png", size=(300, 300))
    (docs_dir / "doc.md").write_text("# A\nThe figure {{FIGURE_1}} is large.\n")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 300 * 300 - 1)  # over the limit, under twice it: a warning
    _, _, messages = load_with_warnings(docs_dir, caplog)
    assert any("too large to decode safely" in m for m in messages)
    assert load_documents(docs_dir).documents[0].sections[0].figures[0].path is None


def test_names_that_are_not_utf8_are_skipped_naming_their_bytes(docs_dir, caplog):
    (docs_dir / "good.md").write_text("# Good\nThe figure {{FIGURE_1}} is here in the text.\n")
    root = os.fsencode(docs_dir)
    Path(os.fsdecode(root + b"/bad\xff.md")).write_text(GOOD)
    Path(os.fsdecode(root + b"/dir\xfe")).mkdir()
    Path(os.fsdecode(root + b"/dir\xfe/inner.md")).write_text(GOOD)
    write_png(Path(os.fsdecode(root + b"/good/FIGURE_1\xff.png")))  # not the figure's name: it stays unresolved
    names, skipped, messages = load_with_warnings(docs_dir, caplog)
    assert names == ["good"]
    reason = "file name is not valid UTF-8"
    assert skipped == {r"b'bad\xff.md'": reason, r"b'dir\xfe/inner.md'": reason}
    assert rf"b'bad\xff.md': {reason}; skipped" in messages
    assert all(m.isprintable() and m.encode("utf-8") for m in messages)
    assert any("figure FIGURE_1: no image file" in m for m in messages)

"""Related sections by TF-IDF + cosine KNN."""

from __future__ import annotations

import tracemalloc

from utilities.file_utils import load_documents
from utilities.related import find_related_sections

TEXTS = [
    "Blob base fee pricing and the blob fee market under execution costs.",
    "Execution base fee and blob base fee interplay in the fee market.",
    "Cargo workspaces share one lock file and one target directory.",
    "A workspace in Cargo groups packages with one lock file.",
    "Completely different: the giraffe eats acacia leaves in savanna.",
]


def test_nearest_neighbours_are_similar_never_self_and_at_most_k():
    related = find_related_sections(TEXTS, k=2, min_similarity=0.05)
    assert [r.index for r in related[0]][:1] == [1]
    assert [r.index for r in related[2]][:1] == [3]
    for i, rel in enumerate(related):
        assert i not in [r.index for r in rel]
        assert len(rel) <= 2
        assert [r.similarity for r in rel] == sorted((r.similarity for r in rel), reverse=True)


def test_unrelated_sections_are_not_forced_in():
    related = find_related_sections(TEXTS, k=2, min_similarity=0.05)
    assert related[4] == []
    assert all(4 not in [r.index for r in rel] for rel in related)


def test_min_similarity_filters_and_k_zero_disables():
    assert find_related_sections(TEXTS, k=2, min_similarity=1.0) == [[] for _ in TEXTS]
    assert find_related_sections(TEXTS, k=0, min_similarity=0.0) == [[] for _ in TEXTS]


def test_one_and_two_section_documents():
    assert find_related_sections(["only one section here"], k=2, min_similarity=0.0) == [[]]
    two = find_related_sections(TEXTS[:2], k=2, min_similarity=0.0)
    assert [[r.index for r in rel] for rel in two] == [[1], [0]]


def test_empty_vocabulary_gives_no_related_sections():
    assert find_related_sections(["a", "the", "1"], k=2, min_similarity=0.0) == [[], [], []]


def test_one_and_two_section_documents_load_end_to_end(docs_dir):
    (docs_dir / "one.md").write_text("Just a single paragraph without any heading at all.\n")
    (docs_dir / "two.md").write_text("# A\nFee market blob pricing.\n# B\nBlob fee market design.\n")
    documents = {d.name: d for d in load_documents(docs_dir).documents}
    assert [s.related for s in documents["one"].sections] == [[]]
    assert [[r.index for r in s.related] for s in documents["two"].sections] == [[1], [0]]


def test_neighbours_of_the_first_sections_only_are_those_a_full_search_finds():
    full = find_related_sections(TEXTS, k=2, min_similarity=0.05)
    assert find_related_sections(TEXTS, k=2, min_similarity=0.05, first=2) == [*full[:2], [], [], []]


def test_a_full_search_over_thousands_of_sections_holds_little_memory():
    """scikit-learn's default block of 1 GB held 2.7 GB at 20,000 sections."""
    texts = [f"Paragraph {i} says widget {i} uses value {i * 7} in step {i % 97}." for i in range(6000)]
    tracemalloc.start()
    try:
        related = find_related_sections(texts, k=2, min_similarity=0.1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(1 for r in related if r) > 5000
    assert peak < 250e6, f"peak {peak / 1e6:.0f} MB"

"""Which sections get requests: a section with too little text gets none."""

from __future__ import annotations

import pytest

from models.documents import Section
from models.question_types import QuestionType
from utilities.config import load_config
from utilities.file_utils import load_configured_documents, load_documents
from utilities.planner import (
    AUTHORS_STORY,
    build_plan,
    format_plan_summary,
    no_substance_reason,
    plan_requests,
    section_words,
    thin_section_reason,
    told_by_author,
)
from utilities.prompts import request_key


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


def _section(text: str) -> Section:
    return Section(0, "Title", "## Title\n\n" + text, 0, len(text))


PROSE = (
    "The blob base fee rises when blocks use more blob gas than the target and falls when they use less, so the "
    "price tracks demand. A reserve price keeps it from falling below a share of the execution base fee."
)
BIO = (
    "Cate left the tech industry and spent a year finding her way back whilst building her passion project. She is "
    "Director of Mobile Engineering at Ride and speaks internationally on engineering culture; she blogs weekly."
)
NAMES = "Anders Elowsson, Ben Adams, Francesco D'Amato, Vitalik Buterin, Dankrad Feist, Justin Drake and Toni Wahr"
TOC = "\n".join(
    f"- [{t}](#{t.lower().replace(' ', '-')})"
    for t in (
        "Abstract",
        "Motivation",
        "Specification",
        "Rationale",
        "Security Considerations",
        "Backwards Compatibility",
    )
)
REFERENCES = (
    "1. Buterin, V. et al. (2021) Proto-danksharding. arXiv 2103.1.\n2. Feist, D. (2022) KZG commitments. doi 10.1/x.\n"
    "3. Monnot, B. et al. (2023) Blob fee markets. pp. 12-30."
)
CHANGELOG = "- v1.2.0 added reserve price support\n- v1.1.0 fixed excess blob gas\n- 2024-03-01 first draft\n- v1.0 out"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (
            "Copyright and related rights waived via [CC0](../LICENSE.md). All rights to the text are released.",
            "copyright",
        ),
        (BIO, "biography"),
        (NAMES, "list of names"),
        (TOC, "mostly links"),
        (REFERENCES, "reference list"),
        (CHANGELOG, "change log"),
    ],
)
def test_sections_without_substance_are_named_by_what_they_hold(text, kind):
    assert kind in (no_substance_reason(_section(text)) or "")
    assert kind in (thin_section_reason(_section(text), 1) or ""), "MIN_SECTION_WORDS above 0 applies it"
    assert thin_section_reason(_section(text), 0) is None, "MIN_SECTION_WORDS=0 plans every section"


@pytest.mark.parametrize(
    "text",
    [
        PROSE,
        PROSE + " It was licensed under CC0 when the EIP was finalized.",  # a licence word in prose of substance
        PROSE + " See [EIP-4844](./eip-4844.md) and [EIP-7840](./eip-7840.md).",  # a few links
        "| Constant | Value |\n| - | - |\n| `BLOB_BASE_COST` | `2**13` |\n| `GAS_PER_BLOB` | `2**17` |\n"
        "| `TARGET_BLOB_GAS` | `393216` |",  # identifiers in code are not names
        PROSE + " When the user opens the app, he sees the fee.",  # one pronoun is no biography
        "Version 1.2 of the fee market moved the reserve price into `calc_excess_blob_gas()`, which now checks "
        "the execution base fee before it subtracts the target blob gas from the excess.",
    ],
)
def test_sections_of_substance_near_those_kinds_are_planned(text):
    assert no_substance_reason(_section(text)) is None


def _long_section_doc(docs, sentences: int):
    """One section of ``sentences`` citable sentences: its heading and ``sentences - 1`` of prose."""
    body = " ".join(f"Parameter P{i} of the blob fee market is set to {i * 7} units." for i in range(sentences - 1))
    (docs / "long.md").write_text(f"# Blob fee parameters\n\n{body}\n")
    return load_documents(docs).documents[0]


@pytest.mark.parametrize(("sentences", "windows"), [(8, 1), (9, 2), (16, 2), (17, 3)])
def test_a_focused_type_gets_one_request_per_run_of_sentences_and_the_others_one(docs_dir, sentences, windows):
    document = _long_section_doc(docs_dir, sentences)
    types = (QuestionType.FACTUAL_RECALL, QuestionType.TRUE_FALSE_FILL_BLANK, QuestionType.INFERENCE)
    planned = plan_requests(document, types, 2, sentences_per_request=8)
    focuses = {qt: [p.focus for p in planned if p.question_type is qt] for qt in types}
    expected = [(k, windows) for k in range(1, windows + 1)] if windows > 1 else [()]
    assert focuses == {
        QuestionType.FACTUAL_RECALL: expected,
        QuestionType.TRUE_FALSE_FILL_BLANK: expected,
        QuestionType.INFERENCE: [()],
    }
    assert len({request_key(p) for p in planned}) == len(planned)
    assert [p.focus for p in plan_requests(document, types, 2, sentences_per_request=0)] == [(), (), ()]


def test_quotes_evidence_plans_no_focused_runs(docs_dir, monkeypatch):
    """Runs are named by the [n] marks, which EVIDENCE_FORMAT=quotes does not print."""
    _long_section_doc(docs_dir, 17)
    for fmt, count in (("ids", 3), ("quotes", 1)):
        argv = ["--docs-dir", str(docs_dir), "--question-types", "FACTUAL_RECALL", "--evidence-format", fmt]
        argv += ["--sentences-per-request", "8"]
        config = load_config(argv, {})
        plan = build_plan(load_configured_documents(config), config)
        assert len(plan.requests) == count, fmt


def test_a_fill_in_the_blank_request_goes_only_to_a_run_with_a_sentence_that_can_stand_alone(docs_dir):
    """Run 1 of 2 holds the heading and seven sentences in the author's voice: any item built from them fails the
    gates, so it gets no fill-in-the-blank request, and the plan says so. Run 2 holds one sentence that stands alone
    among seven others in that voice, and keeps its request."""
    voice = [f"I tuned parameter P{i} of the blob fee market to {i * 7} units last spring." for i in range(14)]
    voice.insert(10, "The blob base fee rises when blocks use more blob gas than the target.")
    (docs_dir / "notes.md").write_text("# Blob fee notes\n\n" + " ".join(voice) + "\n")
    argv = ["--docs-dir", str(docs_dir), "--question-types", "TRUE_FALSE_FILL_BLANK"]
    config = load_config([*argv, "--sentences-per-request", "8"], {})
    plan = build_plan(load_configured_documents(config), config)
    assert [p.focus for p in plan.requests] == [(2, 2)]
    [skipped] = plan.documents[0].sections_skipped
    assert (skipped.question_type, skipped.window) == ("TRUE_FALSE_FILL_BLANK", "1 of 2")
    line = "no TRUE_FALSE_FILL_BLANK request for section 0 'Blob fee notes' (sentences run 1 of 2): none of its"
    assert line in format_plan_summary(plan)
    # with the sentence that stands alone in run 1 instead, run 1 keeps its request
    voice.insert(3, voice.pop(10))
    (docs_dir / "notes.md").write_text("# Blob fee notes\n\n" + " ".join(voice) + "\n")
    plan = build_plan(load_configured_documents(config), config)
    assert [p.focus for p in plan.requests] == [(1, 2)]
    # quoted evidence offers every sentence, so nothing is left out
    config = load_config([*argv, "--evidence-format", "quotes"], {})
    plan = build_plan(load_configured_documents(config), config)
    assert [p.question_type for p in plan.requests] == [QuestionType.TRUE_FALSE_FILL_BLANK]


# A run of 8 sentences: ``told`` of them in the author's voice, the rest neutral statements of fact.
_TOLD = "I ran `git fsck` on the packfile {i} times before the checksum of my copy matched."
_NEUTRAL = "The zlib stream of object {i} ends with an adler-32 checksum of the inflated data."


@pytest.mark.parametrize(
    ("told", "left_out"),
    [(4, True), (3, False), (8, True), (0, False)],
)
def test_a_recall_request_goes_only_to_a_run_that_is_not_told_by_its_author(docs_dir, told, left_out):
    """Half or more of a run's sentences in the author's voice: its recall questions ask what "I" did, so the plan
    leaves its recall request out and says why; one sentence fewer and it is sent. Fill-in-the-blank requests
    keep their own rule: run 2 is neutral and keeps both."""
    run1 = [(_TOLD if i < told else _NEUTRAL).format(i=i) for i in range(8)]
    run2 = [_NEUTRAL.format(i=i) for i in range(8, 16)]
    (docs_dir / "notes.md").write_text("# Pack recovery\n\n" + " ".join(run1 + run2) + "\n")
    argv = ["--docs-dir", str(docs_dir), "--question-types", "FACTUAL_RECALL,TRUE_FALSE_FILL_BLANK"]
    config = load_config([*argv, "--sentences-per-request", "8"], {})
    plan = build_plan(load_configured_documents(config), config)
    recall = [p.focus for p in plan.requests if p.question_type is QuestionType.FACTUAL_RECALL]
    assert recall == ([(2, 2)] if left_out else [(1, 2), (2, 2)])
    assert (2, 2) in [p.focus for p in plan.requests if p.question_type is QuestionType.TRUE_FALSE_FILL_BLANK]
    skips = [s for s in plan.documents[0].sections_skipped if s.question_type == "FACTUAL_RECALL"]
    assert [(s.window, s.reason) for s in skips] == ([("1 of 2", AUTHORS_STORY)] if left_out else [])
    if left_out:
        line = "no FACTUAL_RECALL request for section 0 'Pack recovery' (sentences run 1 of 2): half or more of its"
        assert line in format_plan_summary(plan)


@pytest.mark.parametrize(
    ("sentences", "told"),
    [
        (("I found that the checksum failed.", "The pack has an index."), True),
        (("My copy of the pack was corrupt.", "The pack has an index.", "Git reads it."), False),
        (("Set `I` to the loop index.", "The pack has an index."), False),  # an "I" in code is no narrator
        (("The Iteration API ends.", "I/O errors stop the scan."), False),
        ((), False),
    ],
)
def test_told_by_author_counts_sentences_in_the_authors_voice(sentences, told):
    assert told_by_author(sentences) is told

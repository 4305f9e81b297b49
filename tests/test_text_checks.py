"""Text checks for sampling accidents: loops, restatements, stray scripts, JSON debris, cut-offs."""

from __future__ import annotations

import pytest

from utilities.file_utils import load_documents
from utilities.text_checks import (
    content_stems,
    cut_off,
    dangling_end,
    degenerate_reason,
    json_debris,
    repetition_reason,
    restates_question,
    sampling_accident,
    stray_script,
)

EIP = (
    "The blob base fee is bounded below by a reserve price. The reserve price equals "
    "BLOB_BASE_COST times the execution base fee."
)


def paragraphs(text: str) -> list[str]:
    """Blank-line separated blocks, a fenced code block kept whole."""
    blocks, current, fenced = [], [], False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
        if not fenced and not line.strip():
            if current:
                blocks.append("\n".join(current))
            current = []
        else:
            current.append(line)
    return [*blocks, "\n".join(current)] if current else blocks


def test_no_paragraph_of_the_shared_documents_is_degenerate(shared_corpus):
    checked, flagged = 0, []
    for path in sorted(shared_corpus.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        for block in paragraphs(text):
            checked += 1
            if reason := degenerate_reason(block, "", text):
                flagged.append((path.stem, reason, block[:80]))
    assert checked > 400 and flagged == []


def test_sections_of_the_shared_documents_are_degenerate_only_where_captions_repeat(shared_corpus):
    flagged = [
        (document.name, section.title, reason)
        for document in load_documents(shared_corpus).documents
        for section in document.sections
        if (reason := degenerate_reason(section.text, section.title, section.text))
    ]
    # Figures 3 and 4 of EIP-7918 share two caption sentences and most of a third: 33% of a
    # 2,200-character section repeats. An answer (at most 1,200 characters) copying that much is a loop.
    assert flagged == [
        ("eip_7918_blob_base_fee", "Rationale > Empirical analysis", "repeated 5-word runs make 33% of the answer")
    ]


@pytest.mark.parametrize(
    "answer",
    [
        # a short answer that repeats a term
        "Ride.",
        "The blob base fee never falls below the reserve price, so the blob base fee tracks execution costs.",
        # code repeats its clauses
        "Run `cargo build` for the dev profile and `cargo build --release` for the release profile.",
        "Both commands build the crate:\n```\ncargo build\ncargo build\n```\nThe second call does nothing new.",
        "The loop adds one each time:\nx = x + 1\nx = x + 1\nx = x + 1\nso x ends three higher.",
        # a list of similar commands (parallel items, not a loop)
        "- `cargo yank --vers 1.0.1` yanks a version.\n- `cargo yank --vers 1.0.1 --undo` undoes it."
        "\n- `cargo publish` uploads a new one.",
        "If the red is less than the red filter, set the red to zero. If the green is less than the green "
        "filter, set the green to zero. If the blue is less than the blue filter, set the blue to zero.",
    ],
    ids=["fact", "term-twice", "code-spans", "fenced", "code-lines", "command-list", "parallel-sentences"],
)
def test_legitimate_repetition_passes(answer):
    assert degenerate_reason(answer, "How does the reserve price bound the blob base fee?", EIP) is None


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("The reserve price bounds the blob base fee. The reserve price bounds the blob base fee.", "repeats"),
        (
            "The fee rises when demand rises and the fee rises when demand rises and the fee rises when demand "
            "rises and the fee rises.",
            "the 3-gram 'the fee rises'",
        ),
        ("It is the fee, the fee, the fee, the fee, the fee of blobs.", "2-gram"),
    ],
    ids=["sentence", "clause-loop", "word-loop"],
)
def test_looping_answers_fail(answer, reason):
    assert reason in (degenerate_reason(answer, "What bounds the blob base fee?", EIP) or "")


def test_restating_the_question_fails_and_adding_information_passes():
    question = "What is the name of the installed binary `rg`?"
    restated = "The name of the installed binary is `rg`."
    assert restates_question(restated, question)
    assert degenerate_reason(restated, question) == "the answer restates its question"
    assert not restates_question("The installed binary `rg` is ripgrep, a fast search tool.", question)
    assert not restates_question("rg.", question)  # too short to restate; the tautology gate judges it


def test_a_restated_question_that_adds_the_value_asked_for_passes():
    question = "What is the default value for the `opt-level` setting in the `dev` profile?"
    assert not restates_question("The default value for the `opt-level` setting in the `dev` profile is `0`.", question)
    assert not restates_question("The default value for the `opt-level` setting in the `dev` profile is 0.", question)
    # near miss: the "value" is the question's own code span, so nothing is added
    assert restates_question("The default value for the `opt-level` setting is in the `dev` profile.", question)


def test_stray_script_fails_unless_the_source_uses_it():
    assert stray_script("The reserve price 保留价格 bounds it.", EIP) == "CJK"
    assert "CYRILLIC" in (degenerate_reason("It bounds the fee снизу.", "What bounds the fee?", EIP) or "")
    assert stray_script("Привет means hello.", "The word Привет means hello.") is None
    assert stray_script("The angle θ and λ are Greek, as formulas use.", EIP) is None


@pytest.mark.parametrize(
    "answer",
    [
        'The fee rises."}, {"question": "Why?',
        'It equals BLOB_BASE_COST times the base fee. \\"answer\\": yes.',
        'The reserve price."]}',
        '"answer": "The reserve price bounds it."',
    ],
)
def test_json_debris_fails(answer):
    assert "JSON debris" in (degenerate_reason(answer, "What bounds the blob base fee?", EIP) or "")


def test_json_quoted_from_the_source_passes():
    source = 'The config file holds `{"name": "adder", "version": [0, 1]}` at the top.'
    assert json_debris('It holds `{"name": "adder", "version": [0, 1]}`.', source) is None
    assert json_debris('It holds `{"name": "adder"}`.', EIP) is not None


def test_cut_off_and_sampling_accident():
    assert cut_off("The reserve price equals BLOB_BASE_COST times the execution")
    assert not cut_off("Ride.") and not cut_off("Use `cargo publish`") and cut_off("It is 2**13")
    assert sampling_accident("What bounds it?", "The reserve price bounds the") == "answer is cut off mid-sentence"
    assert sampling_accident("What bounds the blob base fee?", "A reserve price bounds it.", EIP) is None
    assert "repeats" in sampling_accident("Why?", "The fee rises with demand. The fee rises with demand.", EIP)


@pytest.mark.parametrize(
    ("answer", "is_cut"),
    [
        ("By applying the reserve price to the blob base fee, EIP-7918 jointly ensures that:", True),
        ("To document the crate as a whole, we add documentation comments that *!", True),
        ("The equilibrium forms on the edges of the upper-left quadrant, at the...", True),
        # near misses: a colon inside, a last word that ends a sentence, a code span of one letter
        ("EIP-7918 ensures two things: the fee market works and consumers pay for compute.", False),
        ("The higher the resolution, the more pixels there are.", False),
        ("The loop index is `a`.", False),
        ("It is what the reserve price is for.", False),
    ],
)
def test_an_answer_that_ends_on_a_colon_or_a_tying_word_is_left_open(answer, is_cut):
    assert dangling_end(answer) is is_cut
    assert not cut_off(answer)  # its punctuation closes it: no sampling accident to re-send


TRUE_FALSE = "True or false: The reserve price equals BLOB_BASE_COST times the execution base fee?"
BLANK_ITEM = "A 10% change in the blob base fee may shift the total cost by just ____."


@pytest.mark.parametrize(
    "answer, question, is_cut",
    [
        ("True", TRUE_FALSE, False),
        ("false.", TRUE_FALSE, False),
        ("True, because the", TRUE_FALSE, True),  # a verdict whose reason stops mid-clause
        ("0.0000001%", BLANK_ITEM, False),
        ("`cargo doc --open`", BLANK_ITEM, False),
        ("0.0000001% of the total cost, which is why the", BLANK_ITEM, True),  # longer than a term
        ("0.0000001%", "How much may a 10% change in the blob base fee shift the total cost?", True),  # no blank
    ],
)
def test_a_verdict_or_the_term_for_a_blank_is_a_whole_answer(answer, question, is_cut):
    assert cut_off(answer, question) is is_cut
    assert (sampling_accident(question, answer, EIP) == "answer is cut off mid-sentence") is is_cut


def test_repetition_counts_prose_only():
    assert repetition_reason("```\nlet x = 1;\nlet x = 1;\nlet x = 1;\nlet x = 1;\n```\nShadowing.") is None
    assert repetition_reason("Shadowing rebinds x. Shadowing rebinds x again. Shadowing rebinds x again.") is None


def test_stems_match_plural_and_verb_forms():
    assert content_stems("fees uploads policies") == content_stems("fee upload policy")
    assert content_stems("class status") == {"class", "status"}

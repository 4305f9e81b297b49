"""Quality gates: each with pairs that pass, pairs that fail, and near-misses."""

from __future__ import annotations

import dataclasses

import pytest

from models.question_types import QuestionType
from models.schemas import ReplyLimits
from utilities.file_utils import load_documents
from utilities.generation import RequestOutcome
from utilities.planner import plan_requests
from utilities.prompts import PromptLibrary, SamplingSettings, build_request
from utilities.quality import GateSettings, apply_gates, grounding_scores, normalize
from utilities.replies import ParsedPair

from .helpers import write_small_doc

SOURCE = (
    'The blob base fee is bounded below by a "reserve price". The reserve price equals '
    "BLOB_BASE_COST times the execution base fee, so blob pricing stays responsive."
)
GOOD = ParsedPair(
    question="What bounds the blob base fee from below?",
    answer="A reserve price bounds it: BLOB_BASE_COST times the execution base fee.",
    reasoning_steps=("Find the lower bound.",),
    evidence=("The blob base fee is bounded below by a “reserve price”.",),
    figures=(),
)


DEFAULT_GATES = GateSettings()


@pytest.fixture
def gate(docs_dir):
    """Run the gates over pairs of one real request built from a small document."""
    write_small_doc(docs_dir)
    document = load_documents(docs_dir).documents[0]
    library = PromptLibrary.load()
    root = docs_dir.resolve()
    paths = {"notes": {r.id: r.path for s in document.sections for r in s.figures if r.path}}

    def run(*pairs: ParsedPair, question_type=QuestionType.FACTUAL_RECALL, settings=DEFAULT_GATES, requests=1):
        planned = plan_requests(document, (question_type,), len(pairs))[:requests]
        outcomes = []
        for p in planned:
            built = build_request(document, p, library, SamplingSettings(), ReplyLimits(), root)
            built = dataclasses.replace(built, context=(SOURCE,))
            outcomes.append(RequestOutcome(built, "accepted", pairs))
        return apply_gates(outcomes, paths, settings, root)

    return run


def only(result) -> tuple[str | None, str]:
    (gated,) = [*result.accepted, *result.rejected]
    return gated.gate, gated.detail


def test_a_good_pair_passes_every_gate(gate):
    result = gate(GOOD)
    assert [g.pair for g in result.accepted] == [GOOD] and not result.rejected
    assert result.accepted[0].grounding == 100.0 and result.accepted[0].support >= 0.5


# 1. grounding


@pytest.mark.parametrize(
    "quote",
    [
        'The blob base fee is bounded below by a "reserve price".',  # exact
        "the  blob base fee is\nbounded below by a ‘reserve price’",  # whitespace, case, curly quotes
        "The reserve price equals BLOB_BASE_COST times the execution base fee",  # exact part
        "The reserve price equals BLOB_BASE_COST times the execution base fee, so blob priceing stays responsive.",
    ],
    ids=["exact", "whitespace-curly", "substring", "one-typo"],
)
def test_grounded_quotes_pass(gate, quote):
    assert only(gate(dataclasses.replace(GOOD, evidence=(quote,))))[0] is None


@pytest.mark.parametrize(
    "quote",
    [
        "Blob fees can never fall below a floor tied to execution costs.",  # paraphrase
        "The blob base fee is bounded above by a ceiling price.",  # near-miss that changes the meaning
        "Validators vote on the blob target every epoch.",  # invented
    ],
    ids=["paraphrase", "changed-meaning", "invented"],
)
def test_ungrounded_quotes_fail(gate, quote):
    reason, detail = only(gate(dataclasses.replace(GOOD, evidence=(quote,))))
    assert reason == "grounding" and "quote not found" in detail


def test_one_bad_quote_among_good_ones_fails_and_no_quote_fails(gate):
    two = dataclasses.replace(GOOD, evidence=(GOOD.evidence[0], "Validators vote on the blob target."))
    assert only(gate(two))[0] == "grounding"
    assert only(gate(dataclasses.replace(GOOD, evidence=())))[0] == "grounding"


def test_grounding_threshold_is_a_setting(gate):
    near = dataclasses.replace(GOOD, evidence=("The blob base fee is bounded above by a ceiling price.",))
    assert only(gate(near, settings=GateSettings(grounding_threshold=50)))[0] is None


def test_normalize_unifies_typography():
    assert normalize("A  “quoted”\n—dash ‘single’ **bold** `code`") == "a \"quoted\" -dash 'single' bold code"
    assert grounding_scores(["“reserve price”"], ['the "reserve price" rule']) == [100.0]


# 2. answer support


def test_answer_with_unsupported_content_fails_support(gate):
    invented = dataclasses.replace(
        GOOD, answer="Miners negotiate tariffs quarterly through governance councils and treasury auctions."
    )
    reason, detail = only(gate(invented))
    assert reason == "answer_support" and "content words" in detail


def test_answer_partly_paraphrased_passes_support(gate):
    paraphrase = dataclasses.replace(
        GOOD, answer="It cannot drop under the reserve price, which scales the execution base fee by BLOB_BASE_COST."
    )
    assert only(gate(paraphrase))[0] is None


# 3. self-contained questions


@pytest.mark.parametrize(
    "question",
    [
        "According to the text, what bounds the blob base fee?",
        "What does this section say about the reserve price?",
        "What does the figure above show?",
        "In the document, what is BLOB_BASE_COST?",
        "What does the passage claim about blob pricing?",
    ],
)
def test_questions_leaning_on_their_source_fail(gate, question):
    reason, detail = only(gate(dataclasses.replace(GOOD, question=question)))
    assert reason == "self_contained" and "leans on its source" in detail


@pytest.mark.parametrize(
    "question",
    ["What does the textbook definition of a reserve price say?", "How does the sectional fee split work?"],
)
def test_whole_word_near_misses_pass_self_containment(gate, question):
    assert only(gate(dataclasses.replace(GOOD, question=question)))[0] != "self_contained"


# 4. near-duplicates


def test_near_duplicate_questions_keep_the_first(gate):
    first = GOOD
    second = dataclasses.replace(
        GOOD, question="What bounds the blob base fee from below ?", answer=GOOD.answer + " Yes."
    )
    third = dataclasses.replace(
        GOOD, question="Which quantity does BLOB_BASE_COST multiply in the reserve price?", answer=GOOD.answer + " So."
    )
    result = gate(first, second, third)
    assert [g.pair for g in result.accepted] == [first, third]
    (dropped,) = result.rejected
    assert dropped.pair is second and dropped.gate == "duplicate" and "near-duplicate" in dropped.detail


def test_dedup_threshold_is_a_setting(gate):
    a = GOOD
    b = dataclasses.replace(
        GOOD, question="What bounds the blob base fee from below in practice?", answer=GOOD.answer + " x."
    )
    assert len(gate(a, b, settings=GateSettings(dedup_threshold=0.99)).accepted) == 2
    assert len(gate(a, b, settings=GateSettings(dedup_threshold=0.5)).accepted) == 1


def test_same_answer_to_different_questions_of_one_type_is_dropped(gate):
    other = dataclasses.replace(GOOD, question="Which factor multiplies the execution base fee?")
    result = gate(GOOD, other)
    assert [g.gate for g in result.rejected] == ["duplicate"]
    assert "same answer" in result.rejected[0].detail


def test_same_pairs_in_two_requests_keep_one(gate):
    result = gate(GOOD, requests=2)  # two sections, the same reply
    assert len(result.accepted) == 1 and [g.gate for g in result.rejected] == ["duplicate"]


# 5. images


def test_figure_not_attached_is_rejected(gate):
    result = gate(dataclasses.replace(GOOD, figures=("FIGURE_9.9",)))
    assert only(result) == ("images", "figure FIGURE_9.9 was not attached to this request")


def test_attached_figure_passes_and_a_deleted_image_fails(gate, docs_dir):
    with_figure = dataclasses.replace(GOOD, figures=("FIGURE_1.1",))
    assert only(gate(with_figure))[0] is None
    (docs_dir / "notes" / "FIGURE_1.1.png").unlink()
    assert only(gate(with_figure)) == ("images", "image file notes/FIGURE_1.1.png does not exist")


# 6. length and form


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"question": "   "}, "empty question"),
        ({"answer": " "}, "empty answer"),
        ({"reasoning_steps": (" ",)}, "empty reasoning step or evidence quote"),
        ({"question": "The reserve price and the blob base fee."}, "no question form"),
        ({"question": "What is this?"}, "shorter than 4 words"),
        ({"answer": "A reserve."}, "shorter than 20"),
        ({"answer": "The reserve price equals BLOB_BASE_COST times the execution"}, "cut off mid-sentence"),
    ],
)
def test_form_failures(gate, change, detail):
    reason, text = only(gate(dataclasses.replace(GOOD, **change)))
    assert reason == "form" and detail in text


@pytest.mark.parametrize(
    "question",
    [
        "Explain how the reserve price bounds the blob base fee.",
        "True or false: the reserve price bounds the blob base fee from below?",
        "Fill in the blank: the blob base fee is bounded below by a ____.",
        "Summarize how blob pricing stays responsive.",
    ],
)
def test_instructions_and_blanks_have_question_form(gate, question):
    assert only(gate(dataclasses.replace(GOOD, question=question)))[0] != "form"


def test_every_pair_is_accepted_or_rejected_exactly_once(gate):
    pairs = [
        GOOD,
        dataclasses.replace(GOOD, question="According to the text, why?"),
        dataclasses.replace(GOOD, evidence=("made up",)),
        dataclasses.replace(GOOD, question="Which factor scales the reserve price?", answer="x"),
    ]
    result = gate(*pairs)
    assert len(result.accepted) + len(result.rejected) == len(pairs)
    assert {id(g.pair) for g in [*result.accepted, *result.rejected]} == {id(p) for p in pairs}

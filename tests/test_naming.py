"""A question's reference to its own document gets the document's name (utilities/naming.py), before the gates."""

from __future__ import annotations

import dataclasses
import json

import pytest

from models.documents import DocumentName
from models.question_types import QuestionType
from models.records import ParsedPair, RequestOutcome, RequestSources
from models.schemas import ReplyLimits
from utilities.config import GateSettings, SamplingSettings
from utilities.facts import quotable_sentences
from utilities.file_utils import load_documents
from utilities.naming import document_name, name_document, name_document_in_answer
from utilities.planner import plan_requests
from utilities.prompts import PromptLibrary, build_request
from utilities.quality import apply_gates

EIP_BODY = "## Abstract\n\nThis EIP assigns a reserve price to blobs. The proposal ensures the fee market works.\n"
EIP = DocumentName("EIP-7918", ("eip", "proposal", "document", "text"), numbered=True)
CHAPTER = DocumentName("Making Your Own Image Filters", ("chapter", "document", "text"), numbered=False)


def test_a_numbered_series_document_is_named_by_its_number():
    name = document_name({"eip": 7918, "title": "Blob base fee bounded by execution cost"}, EIP_BODY)
    assert name == DocumentName("EIP-7918", ("eip", "document", "text"), numbered=True)


def test_a_number_under_a_noun_the_document_never_calls_itself_is_not_its_name():
    # near miss: the frontmatter numbers it, but its text never says "this EIP"
    name = document_name({"eip": "7918", "title": "Blob fees"}, "## Abstract\n\nThe fee market works.\n")
    assert name == DocumentName("Blob fees", ("document", "text"), numbered=False)


def test_a_chapter_number_is_not_a_name_the_title_is():
    body = "# Filters\n\nThis chapter shows filters. Licensed like the rest of this book.\n"
    name = document_name({"title": "Making Your Own Image Filters", "chapter": 11}, body, ("Filters",))
    # "this book" is the book the chapter belongs to, not the chapter
    assert name == DocumentName("Making Your Own Image Filters", ("chapter", "document", "text"), numbered=False)


def test_without_a_frontmatter_title_the_only_top_level_heading_is_the_title():
    body = "# More About Cargo\n\nIn this chapter, we discuss Cargo.\n\n```\n# this paper is a comment\n```\n"
    assert document_name({}, body, ("More About Cargo",)) == DocumentName(
        "More About Cargo", ("chapter", "document", "text"), numbered=False
    )  # "this paper" inside a code block is not the document calling itself a paper
    assert document_name({}, body, ("Part one", "Part two")) is None  # two top-level headings: no one title


@pytest.mark.parametrize(
    "question, named",
    [
        ("What is the proposal's purpose?", "What is EIP-7918's purpose?"),
        ("What is the reserve price assigned by this EIP?", "What is the reserve price assigned by EIP-7918?"),
        (
            "True or false: The proposal alleviates a fee auction quirk.",
            "True or false: EIP-7918 alleviates a fee auction quirk.",
        ),
        ("What average fee is mentioned in the text?", "What average fee is mentioned in EIP-7918?"),
        (
            "Are there security risks, according to the authors?",
            "Are there security risks, according to the authors of EIP-7918?",
        ),
        (
            "True or false: To the best of the authors' knowledge, X is safe.",
            "True or false: To the best of EIP-7918's authors' knowledge, X is safe.",
        ),
    ],
)
def test_a_reference_to_the_document_gets_its_number(question, named):
    assert name_document(question, EIP) == named


@pytest.mark.parametrize(
    "question, named",
    [
        ("What is discussed in this chapter?", 'What is discussed in the chapter "Making Your Own Image Filters"?'),
        (
            "Which tool did the author use?",
            'Which tool did the author of the chapter "Making Your Own Image Filters" use?',
        ),
        ("The document describes which filter?", 'The chapter "Making Your Own Image Filters" describes which filter?'),
    ],
)
def test_a_reference_to_the_document_gets_its_title(question, named):
    assert name_document(question, CHAPTER) == named


@pytest.mark.parametrize(
    "question",
    [
        "What does the function do when the reserve price binds?",  # not the document
        "What do the proposals before EIP-7918 change?",  # names the document already
        "What did the authors of the study measure?",  # authors of something named
        "Which proposals change the blob fee?",  # a plural is not the document
        "Why does the paper argue for a reserve price?",  # a noun this document never calls itself
    ],
)
def test_other_references_are_left_for_the_gates(question):
    assert name_document(question, EIP) == question


def test_a_source_noun_that_opens_a_term_of_the_source_is_that_term():
    source = "Each label sets its text color from the theme."
    assert name_document("What sets the text color of a label?", EIP, source) == "What sets the text color of a label?"
    # near miss: "text" before a word it makes no term with in that source
    assert (
        name_document("What colour does the text give labels?", EIP, source) == "What colour does EIP-7918 give labels?"
    )


def test_a_titled_documents_authors_possessive_is_left_for_the_gates():
    assert name_document("What did the authors' study measure?", CHAPTER) == "What did the authors' study measure?"
    assert name_document("What did the authors' study measure?", EIP) == "What did EIP-7918's authors' study measure?"


def test_no_name_leaves_the_question_as_written():
    assert name_document("What is the proposal's purpose?", None) == "What is the proposal's purpose?"


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        ("This EIP assigns a reserve price to blobs.", "EIP-7918 assigns a reserve price to blobs."),
        ("The proposal ensures that fees cover compute.", "EIP-7918 ensures that fees cover compute."),
        ("Fees rise, as the proposal's if-clause says.", "Fees rise, as EIP-7918's if-clause says."),
        # near misses: another EIP by its number, and the document's generic nouns, which in an answer are
        # often things of the source ("formatting the text")
        (
            "EIP-4844 introduced blobs; the EIP-7594 cells follow.",
            "EIP-4844 introduced blobs; the EIP-7594 cells follow.",
        ),
        ("Markdown is used for formatting the text.", "Markdown is used for formatting the text."),
        ("The document type of a blob is fixed.", "The document type of a blob is fixed."),
    ],
)
def test_an_answer_names_its_document_by_the_nouns_the_document_calls_itself(answer, named):
    assert name_document_in_answer(answer, EIP) == named


def test_an_answer_of_a_chapter_names_it_by_its_title_and_a_document_with_no_noun_of_its_own_is_left():
    assert (
        name_document_in_answer("This chapter covers hue filters.", CHAPTER)
        == 'The chapter "Making Your Own Image Filters" covers hue filters.'
    )
    plain = DocumentName("Blob fees", ("document", "text"), numbered=False)
    assert name_document_in_answer("The text says fees rise.", plain) == "The text says fees rise."
    assert name_document_in_answer("This EIP assigns a price.", None) == "This EIP assigns a price."


EIP_DOC = """---
eip: 7918
title: Blob base fee bounded by execution cost
---
## Abstract

This EIP assigns a reserve price `BLOB_BASE_COST * base_fee_per_gas` to blobs. This proposal ensures that blob
consumers pay at least a relevant fraction of the market rate for the compute they request from nodes.
"""


def _first_recall_request(tmp_path, text: str):
    """A document of ``text``'s first recall request, and the document."""
    (tmp_path / "doc.md").write_text(text)
    document = load_documents(tmp_path).documents[0]
    planned = plan_requests(document, (QuestionType.FACTUAL_RECALL,), 2)[0]
    return build_request(document, planned, PromptLibrary.load(), SamplingSettings(), ReplyLimits(), tmp_path), document


def _eip_request(tmp_path):
    """The EIP document's first recall request, and the document."""
    return _first_recall_request(tmp_path, EIP_DOC)


def test_the_gates_judge_and_keep_the_named_question_and_the_record_keeps_the_written_one(tmp_path):
    built, document = _eip_request(tmp_path)
    assert built.document_name == DocumentName("EIP-7918", ("eip", "proposal", "document", "text"), numbered=True)
    sentence = quotable_sentences(document.sections[0].text)[1]
    pair = ParsedPair(
        question="What does the proposal ensure about blob consumers?",
        answer="It ensures that blob consumers pay at least a relevant fraction of the market rate for compute.",
        reasoning_steps=(),
        evidence=(sentence,),
        figures=(),
    )
    outcome = RequestOutcome(built, "accepted", (pair,))
    (kept,) = apply_gates([outcome], GateSettings(), tmp_path).accepted
    assert kept.pair.question == "What does EIP-7918 ensure about blob consumers?"
    assert kept.question_as_written == pair.question
    assert kept.answer_as_written is None  # the answer names nothing: as written
    # without the name (a journal from before it, or --curate), the same pair leans on "the proposal"
    unnamed = RequestOutcome(dataclasses.replace(built, document_name=None), "accepted", (pair,))
    (rejected,) = apply_gates([unnamed], GateSettings(), tmp_path).rejected
    assert rejected.gate == "self_contained" and "the proposal" in rejected.detail


def test_the_gates_keep_the_named_answer_and_the_record_keeps_the_written_one(tmp_path):
    built, document = _eip_request(tmp_path)
    sentence = quotable_sentences(document.sections[0].text)[0]
    pair = ParsedPair(
        question="What reserve price is assigned to blobs?",
        answer="This EIP assigns a reserve price `BLOB_BASE_COST * base_fee_per_gas` to blobs.",
        reasoning_steps=(),
        evidence=(sentence,),
        figures=(),
    )
    (kept,) = apply_gates([RequestOutcome(built, "accepted", (pair,))], GateSettings(), tmp_path).accepted
    assert kept.pair.answer == "EIP-7918 assigns a reserve price `BLOB_BASE_COST * base_fee_per_gas` to blobs."
    assert kept.answer_as_written == pair.answer and kept.question_as_written is None


CHAPTER_DOC = """---
title: Making Your Own Image Filters
---
# Making Your Own Image Filters

In this chapter, we use Processing to build image filters that decompose an image into pixels. This chapter
explains how the dominant hue filter hides every pixel whose hue differs from the most common hue.
"""


def test_the_gates_keep_a_question_named_by_its_documents_title(tmp_path):
    """'this chapter' becomes 'the chapter "Making Your Own Image Filters"', which names it: the gates keep it."""
    built, document = _first_recall_request(tmp_path, CHAPTER_DOC)
    sentence = quotable_sentences(document.sections[0].text)[1]
    pair = ParsedPair(
        question="What does the dominant hue filter hide in this chapter?",
        answer="The dominant hue filter hides every pixel whose hue differs from the most common hue.",
        reasoning_steps=(),
        evidence=(sentence,),
        figures=(),
    )
    (kept,) = apply_gates([RequestOutcome(built, "accepted", (pair,))], GateSettings(), tmp_path).accepted
    assert kept.pair.question == (
        'What does the dominant hue filter hide in the chapter "Making Your Own Image Filters"?'
    )
    unnamed = RequestOutcome(dataclasses.replace(built, document_name=None), "accepted", (pair,))
    (rejected,) = apply_gates([unnamed], GateSettings(), tmp_path).rejected
    assert rejected.gate == "self_contained" and "this chapter" in rejected.detail


def test_the_name_survives_the_journal(tmp_path):
    built, _ = _eip_request(tmp_path)
    sources = RequestSources.from_dict(json.loads(json.dumps(built.to_dict())))
    assert sources.document_name == built.document_name
    old = {k: v for k, v in built.to_dict().items() if k != "document_name"}  # a journal from before it
    assert RequestSources.from_dict(old).document_name is None

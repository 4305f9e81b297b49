"""Each question type's form: pairs of the form pass, near misses fail, as the ``type_form`` gate's own reason."""

from __future__ import annotations

import dataclasses

import pytest

from models.question_types import QuestionType
from models.schemas import MAX_TERM_CHARS
from utilities.type_forms import (
    FORM_CHECKS,
    cloze_item,
    cloze_terms,
    type_form_reason,
    with_source,
    without_source,
)

from .test_quality import GOOD, gate, only  # noqa: F401  (gate: the fixture running the real gates)

TF = QuestionType.TRUE_FALSE_FILL_BLANK
CMP = QuestionType.COMPARATIVE_ANALYSIS
PROC = QuestionType.PROCESS_WORKFLOW


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("True or false: the reserve price scales the execution base fee?", "True. It equals BLOB_BASE_COST times it."),
        ("The reserve price equals BLOB_BASE_COST times the execution base fee. True or false?", "**False** - it..."),
        ("The blob base fee is bounded below by a ____.", "reserve price, which scales the execution base fee."),
        ("Fill in the blank: the reserve price equals ______ times the base fee.", "BLOB_BASE_COST"),
        ("Fill in the blank: `BLOB_BASE_COST` is __ relative to the compute costs of blobs?", "relatively moderate"),
        ("Fill in the blank: a fee of __.", "1 wei"),  # three words around the blank
        ("Fill in the blank: the mechanism resorts to a ____ auction.", "first-price"),  # the hyphen inside the term
        ("Fill in the blank: the framework [____](https://processing.org/) draws images.", "Processing"),  # link text
        ("Fill in the blank: a roll of ____ was developed at the pharmacy.", "film"),  # a noun, not a degree
        ("Fill in the blank: the ____ resolution, the more pixels an image holds.", "higher image"),  # two words
        # a blank that opens the item before a verb, or before an article in mid-sentence
        ("Fill in the blank: ____ introduced the first phase of the roadmap.", "EIP-4844"),
        ("Fill in the blank: the constant is moderate beside the ____ that blobs impose on nodes.", "compute costs"),
        # a blank beside a whole character reference, and an ampersand that starts none
        (
            "Fill in the blank: ____&mdash;the cool whites of winter and reds of fall&mdash;differentiates seasons.",
            "Color",
        ),
        ("Fill in the blank: AT&T sells ____ plans to customers across the US.", "mobile"),
        # a closing quote after a word, and a possessive, are not a prime
        ("Fill in the blank: we know '____' matches 'revert-c99' exactly.", "master"),
        ("Fill in the blank: the commits go to the ____' mailing list for review.", "maintainers"),
        ("Fill in the blank: the ____'s registry hosts the crates.", "Cargo"),
        # a digit is a value, two letters a name: near misses of the one-letter placeholder
        ("Fill in the blank: the default `opt-level` of the `dev` profile is ____.", "`0`"),
        ("Fill in the blank: validators on the consensus layer (____) verify the commitments.", "CL"),
        ("Fill in the blank: it does fix the problem (from 'make ____' test) and breaks nothing.", "CC=gcc-2.95"),
    ],
)
def test_true_false_and_fill_blank_items_pass(question, answer):
    assert type_form_reason(TF, question, answer) is None


@pytest.mark.parametrize(
    ("question", "answer", "detail"),
    [
        ("What bounds the blob base fee from below?", "A reserve price.", "neither a true-or-false statement"),
        ("True or false: the reserve price scales the base fee?", "It scales the base fee.", "not answered True"),
        ("The fee is bounded by a ____.", "a ____ price", "still has a blank"),
        ("Is the statement true that fees fall?", "Yes.", "neither"),  # a yes/no question is not the form
        ("What is the purpose of verifying KZG proofs? True or false: __?", "True", "no sentence around it"),
        ("Fill in the blank: fee ____.", "1 wei", "no sentence around it"),  # two words: a near miss of three
        ("What does `__init__` return for a crate?", "True", "neither"),  # a dunder name is not a blank
        ("Fill in the blank: the mechanism resorts to a first-____ auction.", "price", "half of one word"),
        ("Fill in the blank: I used a framework called [Processing](https://____/) for it.", "processing.org", "a URL"),
        ("Fill in the blank: we would take it in to be developed (____ at the pharmacy).", "often", "not a term"),
        ("Fill in the blank: the ____ the resolution, the more pixels an image holds.", "higher", "not a term"),
        (
            "Fill in the blank: reference serialization treats classes as attributes and pickles ____.",
            "them",
            "not a term",
        ),
        ("Fill in the blank: [^noanim]: an animated sketch would not call ____ at all.", "`noLoop()`", "footnote"),
        # a term that takes half of an HTML character reference along ("Color&mdash;the" as the source writes it)
        (
            "Fill in the blank: ____;the cool whites of winter and reds of fall differentiate the seasons.",
            "Color&mdash",
            "HTML character reference",
        ),
        ("Fill in the blank: the sketches are at https://____/sketches on the site.", "processing.org", "a URL"),
        ("Fill in the blank: the fee is ____-denominated for blobs.", "ETH", "half of one word"),
        # an example's one-letter names: commits of a drawn history, a project called B
        (
            "Fill in the blank: ____ is a descendant of `Z`, so you can push to update the repository.",
            "`M`",
            "placeholder",
        ),
        ("Fill in the blank: the last command merges updates from '____ project' into yours.", "B", "placeholder"),
        ("Fill in the blank: the merge ____ with swapped parents says 'Merge fix-bug-12345'.", "`M'`", "placeholder"),
        # git's revision suffixes and a prime: the blank takes part of "master^", "HEAD~2", "#1'" or "#1"
        ("Fill in the blank: the ____^ and #1 is applied to master.", "diff between master", "half of one word"),
        ("Fill in the blank: reset the branch to ____~2 before you rebase it.", "HEAD", "half of one word"),
        ("Fill in the blank: the diff is applied and ____' commit is made.", "committed to create #1", "half of one"),
        ("Fill in the blank: the diff between master^ and #____ is applied to master.", "1", "half of one word"),
        (
            "Fill in the blank: ____ the first phase of the data availability sampling roadmap.",
            "EIP-4844 introduced",
            "subject and its verb",
        ),
        (
            "Fill in the blank: ____ it simple to create a little application.",
            "Processing makes",
            "subject and its verb",
        ),
    ],
)
def test_true_false_and_fill_blank_near_misses_fail(question, answer, detail):
    assert detail in (type_form_reason(TF, question, answer) or "")


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        (
            "How does the dev profile differ from the release profile in Cargo?",
            "The dev profile favours fast builds with opt-level 0, while the release profile uses opt-level 3.",
        ),
        (
            "Compare RGB and HSB color spaces for filtering images.",
            "RGB mixes red, green and blue; HSB separates hue from saturation and brightness.",
        ),
        ("What is the difference between yanking and deleting a crate version?", "Yanking keeps the code; deleting..."),
    ],
)
def test_comparisons_of_two_named_things_addressing_both_pass(question, answer):
    assert type_form_reason(CMP, question, answer) is None


@pytest.mark.parametrize(
    ("question", "answer", "detail"),
    [
        ("What does the release profile set opt-level to?", "It sets opt-level to 3.", "asks for no comparison"),
        ("How does the release profile compare?", "It is faster.", "does not name two things"),
        (
            "How does the dev profile differ from the release profile in Cargo?",
            "The dev profile compiles quickly with opt-level 0 for everyday development work.",
            "does not address both",
        ),
    ],
)
def test_comparison_near_misses_fail(question, answer, detail):
    assert detail in (type_form_reason(CMP, question, answer) or "")


@pytest.mark.parametrize(
    "answer",
    [
        "1. Create an account on crates.io.\n2. Run `cargo login`.\n3. Run `cargo publish`.",
        "First log in with `cargo login`, then add metadata, and finally run `cargo publish`.",
        "Step 1: log in. Step 2: publish.",
    ],
)
def test_process_answers_with_ordered_steps_pass(answer):
    assert type_form_reason(PROC, "How do you publish a crate to crates.io?", answer) is None


def test_a_process_answer_without_order_fails():
    answer = "You publish a crate with `cargo publish` after logging in with your API token."  # one "after"
    assert "no ordered steps" in type_form_reason(PROC, "How do you publish a crate to crates.io?", answer)


@pytest.mark.parametrize(
    ("question_type", "question", "answer", "ok"),
    [
        (QuestionType.CAUSE_EFFECT, "Why does the blob base fee fall to 1 wei?", "Demand stays under target.", True),
        (QuestionType.CAUSE_EFFECT, "What is the blob base fee?", "A price per blob.", False),
        (QuestionType.HYPOTHETICAL, "What would happen if BLOB_BASE_COST were zero?", "No reserve price.", True),
        (QuestionType.HYPOTHETICAL, "What is BLOB_BASE_COST?", "A constant of 2**13.", False),
        (QuestionType.CRITICAL_ANALYSIS, "What are the drawbacks of a reserve price?", "It can overprice.", True),
        (QuestionType.CRITICAL_ANALYSIS, "What is a reserve price?", "A lower bound on the fee.", False),
    ],
)
def test_cause_hypothesis_and_critique_forms(question_type, question, answer, ok):
    assert (type_form_reason(question_type, question, answer) is None) is ok


ANSWER = "The reserve price is 1/16 of the execution base fee."


@pytest.mark.parametrize(
    ("question", "answer", "detail"),
    [
        ("How does the proposal's reserve price affect the blob base fee?", ANSWER, "how two things relate"),
        ("How do rising execution fees relate to the blob base fee?", ANSWER, "how two things relate"),
        ("How does the equilibrium under the reserve price compare to the demand curve?", ANSWER, "how two things"),
        ("What is the relationship between the ETH price per blob and the fiat value of the ETH token?",
         "The ETH price per blob falls as Ethereum increases blob throughput.", "leaves one out"),
        # Near misses: a relationship the answer states on both sides, one fact about two things, a question
        # on what one thing does.
        ("What is the relationship between the reserve price and the execution base fee?", ANSWER, None),
        ("What is the ratio between the reserve price and the execution base fee?", ANSWER, None),
        ("What does the reserve price of the blob base fee affect?", ANSWER, None),
        ("How does `calc_excess_blob_gas` compute the excess blob gas?", ANSWER, None),
    ],
)  # fmt: skip
@pytest.mark.parametrize("question_type", [QuestionType.FACTUAL_RECALL, QuestionType.FACT_BASED])
def test_a_recall_question_asks_for_one_fact_not_how_two_things_relate(question_type, question, answer, detail):
    reason = type_form_reason(question_type, question, answer)
    assert (reason is None) is (detail is None), reason
    assert detail is None or detail in reason
    assert type_form_reason(QuestionType.INFERENCE, question, answer) is None, "other types may ask it"


@pytest.mark.parametrize(
    ("question", "ok"),
    [
        ("True or false: How much time does a full node take to verify all blobs?", False),
        ("True or false: When the reserve price is higher than ____, the function skips the subtraction?", False),
        ("Is it true that what the function returns is the excess blob gas?", False),
        # Near misses: a rule led by "when", a statement with "what" inside it.
        ("True or false: When the reserve price is above the blob price, the function skips the subtraction?", True),
        ("True or false: The proposal changes what blob consumers pay?", True),
    ],
)
def test_a_true_or_false_statement_is_neither_a_question_nor_a_blank(question, ok):
    reason = type_form_reason(TF, question, "True: the section says so.")
    assert (reason is None) is ok, reason
    if not ok:
        assert "two forms in one" in reason


def test_types_whose_form_is_not_checked_are_named_in_the_module_docstring():
    import utilities.type_forms as module

    unchecked = [t for t in QuestionType if t not in FORM_CHECKS and t is not QuestionType.MULTI_HOP_REASONING]
    assert unchecked and all(t.value in module.__doc__ for t in unchecked)
    assert type_form_reason(QuestionType.INFERENCE, "What is a crate?", "A package.") is None


def test_a_pair_not_of_its_type_is_rejected_by_type_form(gate):  # noqa: F811
    open_question = dataclasses.replace(GOOD, answer="A reserve price, BLOB_BASE_COST times the execution base fee.")
    reason, detail = only(gate(open_question, question_type=TF))
    assert reason == "type_form" and "neither a true-or-false statement" in detail
    statement = dataclasses.replace(
        open_question, question="True or false: the blob base fee is bounded below by a reserve price?"
    )
    statement = dataclasses.replace(statement, answer="True: a reserve price bounds the blob base fee from below.")
    assert only(gate(statement, question_type=TF))[0] is None


RELATED = "Validators verify KZG proofs for every blob, which costs them execution time on each block."


def test_multi_hop_evidence_must_come_from_both_sections(gate):  # noqa: F811
    both = dataclasses.replace(
        GOOD,
        question="Why does the reserve price matter when validators verify KZG proofs for every blob?",
        answer="The reserve price matters because it ties blob fees to the execution base fee, and validators spend "
        "execution time verifying KZG proofs for every blob.",
        evidence=(GOOD.evidence[1], RELATED),
    )
    hop = QuestionType.MULTI_HOP_REASONING
    result = gate(both, question_type=hop, context=(GOOD.evidence[1], RELATED))
    assert [g.pair for g in result.accepted] == [both]
    one_side = dataclasses.replace(both, answer="It matters since validators spend execution time verifying proofs.")
    one_side = dataclasses.replace(one_side, evidence=(RELATED,))
    reason, detail = only(gate(one_side, question_type=hop, context=(GOOD.evidence[1], RELATED)))
    assert reason == "sources" and "not from both" in detail


def test_the_reply_schema_tells_the_model_each_checked_type_its_form():
    from models.question_types import QUESTION_TYPE_SPECS
    from models.schemas import ReplyLimits, build_reply_model, reply_json_schema

    def fields(question_type: QuestionType) -> dict:
        spec = QUESTION_TYPE_SPECS[question_type]
        schema = reply_json_schema(build_reply_model(1, (), ReplyLimits(), spec.answer, ("A fact.",), spec.form))
        return schema["properties"]["pairs"]["items"]["properties"]

    assert list(fields(TF)) == ["evidence", "missing_term"]  # a cloze item: the pipeline builds the sentence
    assert "replaced by ____" in fields(TF)["evidence"]["description"]
    assert "copied exactly" in fields(TF)["missing_term"]["description"]
    assert "naming each of them" in fields(CMP)["question"]["description"]
    assert "numbered 1., 2., 3." in fields(PROC)["answer"]["description"]
    open_question = fields(QuestionType.FACTUAL_RECALL)
    assert open_question["question"]["description"].startswith("one self-contained question")
    assert open_question["answer"]["description"].startswith("the answer in one to three sentences")


@pytest.mark.parametrize(
    ("sentence", "term", "item", "answer"),
    [
        (
            "The fee uses `BLOB_BASE_COST` as a floor.",
            "BLOB_BASE_COST",
            "The fee uses ____ as a floor.",
            "`BLOB_BASE_COST`",
        ),
        ("The reserve price binds.", "Reserve Price", "The ____ binds.", "reserve price"),  # the sentence's own case
        ("Fees rise; the fee rises again.", "fee", "Fees rise; the ____ rises again.", "fee"),  # whole words only
        ("Prices fell 10x in a decade.", "10x", "Prices fell ____ in a decade.", "10x"),
    ],
)
def test_a_cloze_item_blanks_the_terms_first_whole_occurrence(sentence, term, item, answer):
    assert cloze_item(sentence, term) == ("Fill in the blank: " + item, answer)


def test_a_cloze_item_whose_term_is_said_twice_still_shows_it_and_the_gates_reject_it(gate):  # noqa: F811
    sentence = "The reserve price equals BLOB_BASE_COST times the execution base fee, so blob pricing stays responsive."
    question, answer = cloze_item(sentence, "the execution base fee")
    assert "____" in question  # near miss: a term said once is blanked and gone
    twice = "The blob base fee is bounded below by a reserve price, and the reserve price scales."
    question, answer = cloze_item(twice, "reserve price")
    pair = dataclasses.replace(GOOD, question=question, answer=answer, evidence=(twice,), reasoning_steps=())
    assert only(gate(pair, question_type=TF, context=(twice,)))[0] == "tautology"


@pytest.mark.parametrize(
    ("sentence", "item"),
    [
        ("Specifically, when the reserve price binds, the fee rises.", "When the reserve price binds, the ____ rises."),
        ("Likewise, the new target must be used.", "The new ____ must be used."),
        # near miss: a connective that carries meaning ("However") stays
        ("However, the fee rises.", "However, the ____ rises."),
    ],
)
def test_a_cloze_item_leaves_out_a_connective_that_only_ties_it_to_the_sentence_before(sentence, item):
    term = "fee" if "fee" in sentence else "target"
    assert cloze_item(sentence, term)[0] == "Fill in the blank: " + item


def test_a_blank_sentence_that_stops_at_a_colon_is_not_an_item():
    cut = "Fill in the blank: We define a constant ____ and do not subtract the target if:"
    assert "stops at the colon" in type_form_reason(TF, cut, "BLOB_BASE_COST")
    assert type_form_reason(TF, cut[:-4] + " it binds.", "BLOB_BASE_COST") is None  # near miss: a whole sentence


@pytest.mark.parametrize(
    ("term", "problem"),
    [
        ("point evaluation proof verification performed by", "ends on 'by'"),
        ("of the blob base fee", "begins on 'of'"),
        ("Ethereum increases blob throughput and", "ends on 'and'"),
        ("the market rate for the", "ends on 'the'"),
        # near misses: a leading article, a code span, a term holding a tie word inside it
        ("the reserve price", None),
        ("`BLOB_BASE_COST * base_fee_per_gas`", None),
        ("price per blob", None),
    ],
)
def test_a_blanked_term_that_begins_or_ends_on_a_tie_word_is_a_piece_of_its_sentence(term, problem):
    item = "Fill in the blank: When the reserve price binds, ____ rises with the execution base fee."
    reason = type_form_reason(TF, item, term)
    assert (reason is None) if problem is None else (problem in reason)


def test_a_built_item_whose_term_its_sentence_lacks_is_rejected_for_its_form_not_as_cut_off(gate):  # noqa: F811
    sentence = "The reserve price equals BLOB_BASE_COST times the execution base fee, so blob pricing stays responsive."
    question, answer = cloze_item(sentence, "target supply curve")
    pair = dataclasses.replace(GOOD, question=question, answer=answer, evidence=(sentence,), reasoning_steps=())
    reason, detail = only(gate(pair, question_type=TF, context=(sentence,)))
    assert reason == "type_form" and "nor a sentence with a blank" in detail
    # near miss: a prose answer to an item that stops mid-sentence is still cut off
    prose = dataclasses.replace(pair, answer="The reserve price equals BLOB_BASE_COST times the execution base fee, so")
    assert only(gate(prose, question_type=TF, context=(sentence,)))[0] == "form"


def test_the_terms_offered_for_a_blank_are_phrases_its_sentence_says_once():
    sentence = "The reserve price of `BLOB_BASE_COST` binds, and the reserve price scales with L1 execution costs."
    terms = cloze_terms(sentence)
    assert {"`BLOB_BASE_COST`", "BLOB_BASE_COST", "L1 execution costs", "execution costs", "binds"} <= set(terms)
    # near misses: a phrase said twice, one across a comma, one that begins or ends on a tie word, a lone "the"
    assert not {"reserve price", "binds, and", "price of", "of `BLOB_BASE_COST`", "with L1", "the"} & set(terms)
    assert all(len(t) <= MAX_TERM_CHARS and len(t.split()) <= 4 for t in terms)


def test_the_terms_offered_for_a_blank_hold_no_one_letter_name():
    """The commits `X`, `Y` and `Z` of an example are placeholders; `git push` and the digit `2` are offered."""
    terms = cloze_terms("Because your history that leads to `C` lacks `X`, `Y` and Z, `git push` fails in `2` ways.")
    assert {"`git push`", "git push", "history", "`2`"} <= set(terms)
    assert not {"`C`", "C", "`X`", "X", "`Y`", "Z"} & set(terms)


def test_the_terms_offered_for_a_blank_hold_no_pronoun():
    terms = cloze_terms("Serialization by reference treats classes as attributes of modules and pickles them.")
    assert {"Serialization", "attributes of modules", "pickles"} <= set(terms)
    assert not {"them", "pickles them"} & set(terms)


SECTION = 'from "More About Cargo and Crates.io", section "Customizing Builds (with Release Profiles)"'
CARGO = (SECTION, 'from "More About Cargo and Crates.io"')


@pytest.mark.parametrize(
    ("question", "term", "named"),
    [
        # an item its label opens names its source after the label, a section title's parentheses and all
        ("Fill in the blank: Organize large projects with ____.", "workspaces", SECTION),
        ("True or false: Release profiles let Cargo compile with different options.", "True", SECTION),
        ("fill-in-the-blank: the ____ profile is what `cargo build` uses.", "`dev`", SECTION),
        # a term that is no whole word of the source's name: "Crate" is not "Crates"
        ("Fill in the blank: A ____ is the smallest amount of code the Rust compiler considers.", "crate", SECTION),
        # a term of the section's heading only: the document alone is named
        ("Fill in the blank: Customize your build through ____.", "release profiles", CARGO[1]),
        # near misses, unchanged: an open question, a label that closes the item, a term every name gives away
        ("What do release profiles let Cargo do?", "compile with different options", None),
        ("Release profiles let Cargo compile with different options. True or false?", "True", None),
        ("Fill in the blank: Publish libraries on ____.", "crates.io", None),
        ("Fill in the blank: Extend ____ using custom commands.", "`Cargo`", None),
    ],
)
def test_an_item_names_its_source_after_its_label_unless_the_name_gives_its_blank_away(question, term, named):
    written = with_source(question, CARGO, term)
    if named:
        label, rest = question.split(":", 1)
        assert written == f"{label} ({named}):{rest}"
    else:
        assert written == question
    assert without_source(written) == question, "the gates judge the item as it was built"
    assert with_source(written, CARGO, term) == written, "a source is named once"


def test_an_item_with_no_source_to_name_is_unchanged():
    assert with_source("Fill in the blank: A ____ holds crates.", (), "workspace") == (
        "Fill in the blank: A ____ holds crates."
    )
    assert without_source("Fill in the blank: The (from) clause names ____.") == (
        "Fill in the blank: The (from) clause names ____."
    )


def test_the_terms_offered_for_a_blank_hold_no_piece_of_an_html_character_reference():
    sentence = "Color&mdash;the cool whites of winter, and reds of fall&#8212;differentiate the seasons."
    terms = cloze_terms(sentence)
    assert "Color" in terms and "fall" in terms and "cool whites of winter" in terms
    assert not [t for t in terms if "&" in t or t in ("mdash", "8212")], terms

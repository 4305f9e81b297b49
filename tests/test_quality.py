"""Quality gates: each with pairs that pass, pairs that fail, and near-misses."""

from __future__ import annotations

import dataclasses
import re

import pytest

from models.documents import DocumentName
from models.question_types import QuestionType
from models.records import ParsedPair, RequestOutcome
from models.schemas import ReplyLimits
from utilities import quality
from utilities.facts import quotable_sentences
from utilities.file_utils import load_documents
from utilities.planner import plan_requests
from utilities.prompts import PromptLibrary, SamplingSettings, build_request
from utilities.quality import (
    GATES,
    GateSettings,
    apply_gates,
    check_self_contained,
    grounding_scores,
    item_source_problem,
    normalize,
    reattributed,
    subject_names,
    unsourced_code,
)
from utilities.text_checks import BLANK
from utilities.type_forms import cloze_item

from .conftest import PROJECT_ROOT
from .helpers import write_small_doc

SOURCE = (
    'The blob base fee is bounded below by a "reserve price". The reserve price equals '
    "BLOB_BASE_COST times the execution base fee, so blob pricing stays responsive."
)
GOOD = ParsedPair(
    question="What bounds the blob base fee from below?",
    answer="A reserve price bounds it: BLOB_BASE_COST times the execution base fee.",
    reasoning_steps=("Find the lower bound.", "The reserve price scales the execution base fee."),
    evidence=(
        "The blob base fee is bounded below by a “reserve price”.",
        "The reserve price equals BLOB_BASE_COST times the execution base fee, so blob pricing stays responsive.",
    ),
    figures=(),
)
# Real sentences of EIP-7918 (the shared corpus), for the gates that read meaning.
EIP_ABSTRACT = (
    "This EIP assigns a reserve price `BLOB_BASE_COST * base_fee_per_gas` to blobs by introducing an `if`-clause "
    "in `calc_excess_blob_gas()`.",
    "Specifically, when the reserve price is higher than `GAS_PER_BLOB * base_fee_per_blob_gas`, the function will "
    "not subtract `target_blob_gas` from `excess_blob_gas`, causing `excess_blob_gas` to increase according to "
    "`blob_gas_used`, while keeping the per-block maximum increase unchanged.",
    "The current mechanism can therefore end up repeatedly lowering the blob base fee until it eventually settles "
    "at 1 wei.",
    "| `BLOB_BASE_COST` | `2**13` |",
)


# A floor of 0.6 (GateSettings' own default before settings were declared once; EVIDENCE_SUPPORT_FLOOR is 0.5),
# so that an answer half supported by its quotes is rejected here.
DEFAULT_GATES = GateSettings(evidence_support_floor=0.6)


@pytest.fixture
def gate(docs_dir):
    """Run the gates over pairs of one real request built from a small document."""
    write_small_doc(docs_dir)
    document = load_documents(docs_dir).documents[0]
    library = PromptLibrary.load()
    root = docs_dir.resolve()

    def run(
        *pairs: ParsedPair,
        question_type=QuestionType.FACTUAL_RECALL,
        settings=DEFAULT_GATES,
        requests=1,
        context=(SOURCE,),
        shown=None,
    ):
        """``shown``: the sentences the request offered for citing; by default those of ``context``."""
        planned = plan_requests(document, (question_type,), len(pairs))[:requests]
        outcomes = []
        shown = tuple(q for c in context for q in quotable_sentences(c)) if shown is None else shown
        for p in planned:
            built = build_request(document, p, library, SamplingSettings(), ReplyLimits(), root)
            built = dataclasses.replace(built, context=context, quotes=shown)
            outcomes.append(RequestOutcome(built, "accepted", pairs))
        return apply_gates(outcomes, settings, root)

    return run


def only(result) -> tuple[str | None, str]:
    (gated,) = [*result.accepted, *result.rejected]
    return gated.gate, gated.detail


def gate_over(gate, pair: ParsedPair, shown: tuple[str, ...], offered: tuple[str, ...] | None = None, **kwargs):
    """Gate ``pair`` of a request whose context is the sentences ``shown``, of which ``offered`` (by default all)
    were offered for citing."""
    return gate(pair, context=(" ".join(shown),), shown=shown if offered is None else offered, **kwargs)


def after(name: str) -> tuple[str | None, ...]:
    """The outcomes of a pair that passed gate ``name``: kept (None), or rejected by a gate that runs after it.
    A pair an earlier gate rejects never reached ``name``, so it proves nothing about it."""
    return (None, *GATES[GATES.index(name) + 1 :])


def test_a_good_pair_passes_every_gate(gate):
    result = gate(GOOD)
    assert [g.pair for g in result.accepted] == [GOOD] and not result.rejected
    (kept,) = result.accepted
    assert kept.grounding == 100.0 and kept.support >= DEFAULT_GATES.evidence_support_floor
    assert GATES == (
        "form", "type_form", "degenerate", "self_contained", "tautology", "on_target", "grounding", "evidence_support",
        "unsourced", "sources", "polarity", "images", "duplicate",
    )  # fmt: skip
    assert kept.evidence == GOOD.evidence and kept.evidence_from == "model"


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
    (kept,) = gate(dataclasses.replace(GOOD, evidence=(quote, *GOOD.evidence))).accepted
    assert kept.grounding >= 99


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
    two = dataclasses.replace(GOOD, evidence=(*GOOD.evidence, "Validators vote on the blob target."))
    assert only(gate(two))[0] == "grounding"
    assert only(gate(dataclasses.replace(GOOD, evidence=())))[0] == "grounding"


def test_a_quote_cited_three_times_counts_once(gate):
    first = GOOD.evidence[0]
    (kept,) = gate(dataclasses.replace(GOOD, evidence=(first, first.upper(), *GOOD.evidence))).accepted
    assert kept.grounding == 100.0
    thrice = dataclasses.replace(GOOD, evidence=(first, " " + first, first.replace("“", '"')))
    reason, detail = only(gate(thrice, shown=(first,)))
    assert reason == "evidence_support" and "new content words" in detail  # one quote, not three


INLINE_FIGURES = """# Reserve price

The demand curve in {{FIGURE_1.1}} shows how the blob base fee rises with the execution base fee.
Both curves ({{ FIGURE_1.2 }}, {{FIGURE_1.3}}) meet where the reserve price binds the blob base fee.

- A list item names {{FIGURE_1.1}} inside its own sentence about the reserve price.

# Fee updates

The reserve price equals BLOB_BASE_COST times the execution base fee, as {{FIGURE_1.2}} plots it.
"""


@pytest.fixture(params=["markdown_docs", "inline-figures", "shared-corpus"])
def citable_docs(request, docs_dir):
    if request.param == "markdown_docs":
        return PROJECT_ROOT / "markdown_docs"
    if request.param == "shared-corpus":
        return request.getfixturevalue("shared_corpus")
    (docs_dir / "inline.md").write_text(INLINE_FIGURES)
    return docs_dir


@pytest.mark.parametrize("evidence_format", ["ids", "quotes"])
def test_every_sentence_a_request_offers_as_citable_grounds_in_its_own_context(citable_docs, evidence_format):
    library, limits, root = PromptLibrary.load(), ReplyLimits(evidence_format=evidence_format), citable_docs.resolve()
    offered: set[tuple[str, tuple[str, ...]]] = set()
    for document in load_documents(citable_docs).documents:
        for planned in plan_requests(document, tuple(QuestionType), 2):
            built = build_request(document, planned, library, SamplingSettings(), limits, root)
            offered.update((quote, built.context) for quote in built.quotes)
    assert len(offered) >= 3
    ungrounded = [(q, score) for q, c in offered for score in grounding_scores([q], c) if score < 100]
    assert ungrounded == []


def test_grounding_threshold_is_a_setting(gate):
    near = dataclasses.replace(
        GOOD, evidence=("The blob base fee is bounded above by a ceiling price.", *GOOD.evidence)
    )
    assert only(gate(near))[0] == "grounding"
    assert only(gate(near, settings=GateSettings(grounding_threshold=50)))[0] is None


def test_normalize_unifies_typography():
    assert normalize("A  “quoted”\n—dash ‘single’ **bold** `code`") == "a \"quoted\" -dash 'single' bold code"
    assert grounding_scores(["“reserve price”"], ['the "reserve price" rule']) == [100.0]


# 2. evidence support


def test_answer_with_unsupported_content_fails_support(gate):
    invented = dataclasses.replace(
        GOOD,
        answer="The blob base fee is bounded from below by miners negotiating tariffs quarterly through governance "
        "councils and treasury auctions.",
    )
    reason, detail = only(gate(invented))
    assert reason == "evidence_support" and "new content words are in its quotes" in detail


def test_answer_partly_paraphrased_passes_support(gate):
    paraphrase = dataclasses.replace(
        GOOD, answer="It cannot drop under the reserve price, which scales the execution base fee by BLOB_BASE_COST."
    )
    assert only(gate(paraphrase))[0] is None


def test_an_answer_is_judged_by_its_own_quotes_not_the_whole_section(gate):
    # Both quotes are in the section; only the second says what the answer says.
    supported = dataclasses.replace(
        GOOD,
        question="Which price does BLOB_BASE_COST multiply in the reserve price?",
        answer="The execution base fee, so blob pricing stays responsive.",
        evidence=(GOOD.evidence[1],),
    )
    (kept,) = gate(supported).accepted
    assert kept.evidence == (GOOD.evidence[1],) and kept.evidence_from == "model"
    unrelated = dataclasses.replace(supported, evidence=(GOOD.evidence[0],))
    reason, detail = only(gate(unrelated, shown=(GOOD.evidence[0],)))  # no other sentence shown: nothing to find
    assert reason == "evidence_support" and "50% of the answer's new content words" in detail
    assert "no sentence shown supports it" in detail


def test_when_its_own_quotes_miss_the_sentence_shown_that_supports_the_answer_is_cited(gate):
    """A small model often cites the wrong sentence for a right answer: the gate finds the right one."""
    answer = "The execution base fee, so blob pricing stays responsive."
    question = "Which price does BLOB_BASE_COST multiply in the reserve price?"
    miscited = dataclasses.replace(GOOD, question=question, answer=answer, evidence=(GOOD.evidence[0],))
    (kept,) = gate(miscited).accepted
    assert kept.evidence == (SOURCE.split(". ", 1)[1],) and kept.evidence_from == "found"
    assert kept.pair.evidence == (GOOD.evidence[0],), "the pair itself is not changed"
    # Near miss: the sentence that would support it was not among those shown.
    reason, detail = only(gate(miscited, shown=(SOURCE.split(". ", 1)[0] + ".",)))
    assert reason == "evidence_support" and "no sentence shown supports it" in detail


def test_found_evidence_includes_a_sentence_about_what_is_asked(gate):
    """The answer's words are in one sentence and the question's in another: both are cited."""
    shown = (
        "Nodes must verify KZG proofs, which is computationally expensive.",
        "This EIP introduces an `if`-clause in `calc_excess_blob_gas()`.",
        "Validators vote on gas targets.",
    )
    pair = dataclasses.replace(
        GOOD,
        question="Why does `calc_excess_blob_gas()` gain an `if`-clause?",
        answer="Because nodes must verify KZG proofs, which is computationally expensive.",
        evidence=(shown[2],),
    )
    (kept,) = gate_over(gate, pair, shown).accepted
    assert kept.evidence == shown[:2] and kept.evidence_from == "found"
    # Near miss: no sentence shown is about what is asked, so the answer's sentence alone does not do.
    reason, detail = only(gate_over(gate, pair, shown, offered=(shown[0], shown[2])))
    assert reason == "evidence_support" and detail.startswith("the question shares no content word"), detail


def test_found_evidence_covers_the_answers_number(gate):
    """A value the answer states must be in its evidence: the search for it counts numbers as well as words."""
    shown = (
        "The `opt-level` setting controls how many optimizations Rust applies, with a range of 0 to 3.",
        "The `opt-level` setting of the dev profile trades speed of the code for speed of compiling.",
    )
    pair = dataclasses.replace(
        GOOD,
        question="What is the lowest `opt-level` setting of the dev profile?",
        answer="It is 0.",
        evidence=(shown[1],),
    )
    (kept,) = gate_over(gate, pair, shown).accepted
    assert kept.evidence == (shown[0],) and kept.evidence_from == "found"
    # Near miss: no sentence shown holds the number, so the answer's value is unsupported.
    reason, detail = only(gate_over(gate, dataclasses.replace(pair, answer="It is 7."), shown))
    assert reason == "evidence_support" and "number 7" in detail, detail


def test_an_answer_that_adds_what_no_source_says_is_rejected(gate):
    """Inventions the quotes' half-support lets through ("validators vote weekly") fail; paraphrase words pass."""
    settings = GateSettings()  # the shipped floor and ceiling
    invented = dataclasses.replace(
        GOOD, answer="Validators vote weekly on a reserve price: BLOB_BASE_COST times the execution base fee."
    )
    reason, detail = only(gate(invented, settings=settings))
    assert reason == "unsourced" and detail.startswith("3 of the answer's"), detail
    assert "validator" in detail and "weekly" in detail
    # Near misses: one new word is a paraphrase, and two among many sourced ones are under the ceiling.
    paraphrased = dataclasses.replace(
        GOOD, answer="A reserve price: BLOB_BASE_COST multiplied by the execution base fee."
    )
    assert only(gate(paraphrased, settings=settings))[0] in after("unsourced")
    longer = dataclasses.replace(
        GOOD,
        answer="A reserve price bounds it: BLOB_BASE_COST times the execution base fee, so blob pricing stays "
        "responsive, a clear lower limit.",
    )
    assert only(gate(longer, settings=settings))[0] in after("unsourced")
    # The setting: at 1 nothing is unsourced enough.
    assert only(gate(invented, settings=GateSettings(unsourced_ceiling=1.0)))[0] in after("unsourced")


def test_words_inside_a_sources_identifiers_are_sourced(gate):
    source = (EIP_ABSTRACT[1],)
    pair = dataclasses.replace(
        GOOD,
        question="What happens to `excess_blob_gas` when the reserve price is higher than the blob price?",
        answer="The function does not subtract the target blob gas, so the excess grows with the blob gas used.",
        evidence=source,
    )
    assert only(gate(pair, settings=GateSettings(), context=source))[0] in after("unsourced")
    # Near miss: the same answer with inventions the identifiers do not hold.
    invented = dataclasses.replace(pair, answer=pair.answer + " Miners then refund the surplus to wallets.")
    assert only(gate(invented, settings=GateSettings(), context=source))[0] == "unsourced"


def test_a_verdict_finds_the_sentence_its_statement_rests_on(gate):
    """A "True" adds no word to look for: the statement judged is the question's, so its words find the quote."""
    shown = (
        "Validators vote on gas targets.",
        "The constant `BLOB_BASE_COST` is relatively moderate in comparison with the compute costs of blobs.",
    )
    pair = dataclasses.replace(
        GOOD,
        question="True or false: `BLOB_BASE_COST` is relatively moderate compared with the compute costs of blobs?",
        answer="True",
        evidence=(shown[0],),
    )
    result = gate_over(gate, pair, shown, question_type=QuestionType.TRUE_FALSE_FILL_BLANK)
    (kept,) = result.accepted
    assert kept.evidence == (shown[1],) and kept.evidence_from == "found"
    # Near miss: no sentence shown is about the statement.
    result = gate_over(gate, pair, shown, offered=shown[:1], question_type=QuestionType.TRUE_FALSE_FILL_BLANK)
    assert only(result)[0] == "evidence_support"


def test_an_answers_identifier_made_of_source_words_is_sourced(gate):
    source = (EIP_ABSTRACT[1],)
    question = "When does `calc_excess_blob_gas()` skip subtracting `target_blob_gas`?"
    shortened = "When the reserve price is higher than GAS_PER_BLOB times the base_fee_per_blob of the block."
    pair = dataclasses.replace(GOOD, question=question, answer=shortened, evidence=source)
    assert only(gate(pair, settings=GateSettings(), context=source))[0] in after("unsourced")
    # Near miss: an identifier whose words the source never uses.
    invented = shortened.replace("base_fee_per_blob", "validator_vote_weight")
    assert only(gate(dataclasses.replace(pair, answer=invented), settings=GateSettings(), context=source))[0] == (
        "unsourced"
    )


def test_an_answers_code_that_no_source_holds_is_unsourced(gate):
    """The 1.5B garbles a formula of its source: `GAS_PER_BLOB * base_fee_per_gas` for `... base_fee_per_blob_gas`."""
    source = (EIP_ABSTRACT[1],)
    question = "When does `calc_excess_blob_gas()` skip subtracting `target_blob_gas`?"
    answer = "When the reserve price is higher than `GAS_PER_BLOB * base_fee_per_gas`, it is not subtracted."
    pair = dataclasses.replace(GOOD, question=question, answer=answer, evidence=source)
    reason, detail = only(gate(pair, settings=GateSettings(), context=source))
    assert reason == "unsourced" and "`GAS_PER_BLOB * base_fee_per_gas`" in detail, detail
    # Near misses: the source's own formula spaced otherwise, a code span of the question, a number alone (the
    # number rule's), and the same garbled formula when the gate is turned off
    for fine in (
        "When the reserve price is higher than `GAS_PER_BLOB*base_fee_per_blob_gas`, it is not subtracted.",
        "When the reserve price is higher, `target_blob_gas` is not subtracted.",
    ):
        assert only(gate(dataclasses.replace(pair, answer=fine), settings=GateSettings(), context=source))[0] in (
            after("unsourced")
        ), fine
    assert unsourced_code(question, "It is `8192`.", source) is None
    assert only(gate(pair, settings=GateSettings(unsourced_ceiling=1.0), context=source))[0] in after("unsourced")
    assert unsourced_code(question, answer, source) == "GAS_PER_BLOB * base_fee_per_gas"


HISTORY = "Some projects want to keep a completely linear history without any merges."


@pytest.mark.parametrize(
    ("answer", "sentence", "moved"),
    [
        # the source's words after a subject of the answer's own: said of another thing than the source says
        ("Git follows a linear history without any merges.", HISTORY, ("git follows a", "some projects want")),
        ("The trunk refers to keeping a completely linear history without any merges.", HISTORY, ("the trunk", "")),
        ("The ratio is 1/16 with the proposed constant.", "This ratio is 1/16 with the proposed constant.", None),
        # near misses: the same subject, the document's own name, a copy that is an object or a clause of its own,
        # a short place before the source's subject, a pronoun, four words in a row
        ("Projects keep a completely linear history without any merges.", HISTORY, None),
        (
            "EIP-7918 assigns a reserve price to blobs at last.",
            "This EIP assigns a reserve price to blobs at last.",
            None,
        ),
        (
            "Doc comment syntax writes documentation comments for public API items.",
            "The HTML displays the contents of documentation comments for public API items.",
            None,
        ),
        (
            "The dev and release profiles are predefined, customizable profiles with different configurations.",
            "In Rust, release profiles are predefined, customizable profiles with different configurations.",
            None,
        ),
        (
            "If true, it will not subtract `target_blob_gas` from `excess_blob_gas`.",
            "Specifically, the function will not subtract `target_blob_gas` from `excess_blob_gas`.",
            None,
        ),
        ("Git keeps a linear history without merges.", HISTORY, None),
        # a pronoun after its verbs are set aside: "it" of "it can't"
        (
            "It can't apply when the execution base fee is zero.",
            "The reserve price does not apply when the execution base fee is zero.",
            None,
        ),
    ],
)
def test_an_answer_that_says_of_one_thing_what_its_source_says_of_another_is_unsourced(answer, sentence, moved):
    found = reattributed(answer, [sentence])
    if moved is None:
        assert found is None, found
    else:
        assert found is not None and found[0].startswith(moved[0]) and found[1].startswith(moved[1]), found


def test_the_gate_rejects_a_copied_claim_moved_to_another_subject(gate):
    source = (f"There are three kinds of projects. {HISTORY} Others merge freely and let the trunk hold merges.",)
    question = "What kind of history does Git itself keep?"
    pair = dataclasses.replace(
        GOOD, question=question, answer="Git keeps a completely linear history without any merges.", evidence=source
    )
    reason, detail = only(gate(pair, settings=GateSettings(), context=source))
    assert (
        reason == "unsourced" and "says of 'git keeps' what its source says of 'some projects want to keep'" in detail
    ), detail
    said = dataclasses.replace(pair, answer="Some projects keep a completely linear history without any merges.")
    assert only(gate(said, settings=GateSettings(), context=source))[0] in after("unsourced")
    assert only(gate(pair, settings=GateSettings(unsourced_ceiling=1.0), context=source))[0] in after("unsourced")


def test_an_answer_that_asks_instead_of_answering_fails_and_one_quoting_a_question_passes(gate):
    asking = dataclasses.replace(GOOD, answer="Is it the reserve price? Or BLOB_BASE_COST times the base fee?")
    assert only(gate(asking)) == ("degenerate", "the answer asks a question instead of answering")
    quoting = dataclasses.replace(
        GOOD, answer='Asked "what bounds it?", the reserve price does: BLOB_BASE_COST times the execution base fee.'
    )
    assert only(gate(quoting))[0] in after("degenerate")


def test_an_answer_no_sentence_shown_supports_stays_rejected(gate):
    invented = dataclasses.replace(GOOD, answer="The reserve price doubles every epoch under validator governance.")
    reason, detail = only(gate(invented))
    assert reason == "evidence_support" and "no sentence shown supports it" in detail


def test_a_question_about_something_its_quotes_do_not_mention_fails(gate):
    off = dataclasses.replace(
        GOOD,
        question="What do validators vote on as targets?",
        answer="A reserve price bounds it.",
        evidence=(GOOD.evidence[1],),
    )
    reason, detail = only(gate(off))
    assert reason == "evidence_support" and detail.startswith("the question shares no content word with its quotes")


def test_plural_and_verb_forms_match_their_quote(gate):
    forms = dataclasses.replace(GOOD, answer="Reserve prices bound it, equal to BLOB_BASE_COST times execution fees.")
    (kept,) = gate(forms).accepted
    assert kept.support == 1.0


@pytest.mark.parametrize(
    ("answer", "quotes", "ok"),
    [
        ("It is `2**13`.", (EIP_ABSTRACT[3],), True),  # quoted constant
        ("It is 8192, or `2**13`.", (EIP_ABSTRACT[3],), True),  # 8192 is the quote's 2**13, worked out
        ("It is 8193, or `2**13`.", (EIP_ABSTRACT[3],), False),  # 8193 is in no quote
        ("It settles at 1 wei.", (EIP_ABSTRACT[2],), True),
        ("It settles at 0.5 wei.", (EIP_ABSTRACT[2],), False),  # invented constant
        ("It lowers the blob base fee until it settles at one wei.", (EIP_ABSTRACT[2],), True),  # spelled out
    ],
    ids=["quoted-power", "power-worked-out", "invented-8193", "quoted-1", "invented-0.5", "spelled"],
)
def test_numbers_in_the_answer_must_be_in_its_quotes(gate, answer, quotes, ok):
    question = "At what blob base fee does the current mechanism settle, given BLOB_BASE_COST?"
    pair = dataclasses.replace(GOOD, question=question, answer=answer, evidence=quotes)
    reason, detail = only(gate(pair, context=EIP_ABSTRACT))
    assert (reason is None) is ok, detail
    if not ok:
        assert reason == "evidence_support" and "is in neither its quotes nor its question" in detail


def test_list_markers_are_not_constants(gate):
    listed = dataclasses.replace(
        GOOD, answer="1. A reserve price bounds it. 2. It equals BLOB_BASE_COST times the execution base fee."
    )
    assert only(gate(listed))[0] is None


def test_evidence_support_floor_is_a_setting(gate):
    half = dataclasses.replace(GOOD, answer="A reserve price bounds it, set by validators in quarterly auctions.")
    assert only(gate(half))[0] == "evidence_support"
    assert only(gate(half, settings=GateSettings(evidence_support_floor=0.2)))[0] in after("evidence_support")


# 3. self-contained questions


@pytest.mark.parametrize(
    "answer, leans",
    [
        ("According to the passage, a reserve price: BLOB_BASE_COST times the execution base fee.", True),
        ("A reserve price, as stated in the text: BLOB_BASE_COST times the execution base fee.", True),
        ("The section explicitly describes a reserve price of BLOB_BASE_COST times the execution base fee.", True),
        # near misses: "the text" and "the document" as the subject's own words, not the source's
        ("A reserve price: BLOB_BASE_COST times the execution base fee, shown in the text of each block.", False),
        ("A reserve price, which the document format of a block states as BLOB_BASE_COST times the fee.", False),
    ],
)
def test_an_answer_that_talks_about_its_source_is_not_self_contained(gate, answer, leans):
    reason, detail = only(gate(dataclasses.replace(GOOD, answer=answer), settings=GateSettings()))
    if leans:
        assert reason == "self_contained" and detail.startswith("the answer leans on its source"), detail
    else:
        assert reason in after("self_contained"), detail


@pytest.mark.parametrize(
    "question",
    [
        "According to the text, what bounds the blob base fee?",
        "What does this section say about the reserve price?",
        "What does the figure above show?",
        "In the source, what is BLOB_BASE_COST?",  # "the document" the gates name first (test_naming.py)
        "What does the passage claim about blob pricing?",
        "What does the sentence 'The two essential methods are `setup()` and `draw()`' mean?",
        "What does the phrase 'Customize your build through release profiles' mean in the context of Cargo?",
    ],
)
def test_questions_leaning_on_their_source_fail(gate, question):
    reason, detail = only(gate(dataclasses.replace(GOOD, question=question)))
    assert reason == "self_contained" and "leans on its source" in detail


@pytest.mark.parametrize(
    "question",
    [
        "What does the textbook definition of a reserve price say?",
        "How does the sectional fee split work?",
        "What does the passphrase of an SSH key protect?",
    ],
)
def test_whole_word_near_misses_pass_self_containment(gate, question):
    reason, detail = only(gate(dataclasses.replace(GOOD, question=question)))
    assert reason in after("self_contained"), detail


@pytest.mark.parametrize(
    "question",
    [
        "What does the proposal change about the reserve price?",
        "When does the `if` clause stop subtracting from the excess blob gas?",
        "How do the two curves of the blob base fee differ?",
        "What does the following function return for the reserve price?",
        "Why does this change keep the blob base fee responsive?",
        "What does the code do when the reserve price binds?",
        "What does the EIP assign to blobs as a reserve price?",
        "What is the purpose of this operational guidance document?",  # two modifiers before the noun
        "What does the publication recommend as a reserve price?",
        "Which reserve price does this guide recommend?",
        "In March 2025, how high was the reserve price the proposal applied?",  # a date names no subject
        "Does the reserve price rise once demand at this fee is above its target?",  # no fee before "this fee"
        "What does the task describe about the reserve price?",  # the prompt's "# Task", echoed
        "What does the hook do with the reserve price?",
    ],
)
def test_definite_references_to_unnamed_things_fail(gate, question):
    reason, detail = only(gate(dataclasses.replace(GOOD, question=question)))
    assert reason == "self_contained" and "without naming it" in detail


@pytest.mark.parametrize(
    "question",
    [
        "What does the EIP-7918 proposal change about the reserve price?",
        "How does EIP-7918 set the reserve price of the blob base fee?",
        "When does the `if` clause in `calc_excess_blob_gas()` stop subtracting from the reserve price?",
        "What does the `cargo publish` command upload with the reserve price?",
        "What does the `publish` task of Gradle upload with the reserve price?",
        "What does the function calc_excess_blob_gas return when the reserve price binds?",
        "How does the blob base fee respond when the reserve price binds?",  # named, no generic noun
        "How does the fee change when the reserve price binds?",  # "change" as a verb
        "What does the Ethereum proposal assign as the reserve price?",
        "What does the Ethereum operational guidance document say about the reserve price?",  # named
        "How does the page cache keep the reserve price?",  # "page" alone points at nothing of the source
        "What does the pre-receive hook do with the reserve price?",  # a weak noun after a modifier
        "What does the hooks/update script do with the reserve price?",  # a path, not "the hooks"
        "In March 2025, what did the EIP-7918 proposal set as the reserve price?",  # a date beside a name
        # refers back to its own noun: two blind readers found such a question good (it was a failing case before)
        "Does the blob base fee rise once demand at this fee is above the reserve price?",  # refers back
    ],
)
def test_questions_that_name_their_subject_pass(gate, question):
    reason, detail = only(gate(dataclasses.replace(GOOD, question=question)))
    assert reason in after("self_contained"), detail


def test_names_in_section_titles_name_the_subject(tmp_path):
    # A title-case heading's lowercase words are code names: "cargo" in "Installing Binaries with cargo install".
    docs = tmp_path / "titled"
    write_small_doc(docs)
    text = (docs / "notes.md").read_text().replace("# Reserve price", "# Installing Binaries with cargo install")
    (docs / "notes.md").write_text(text)
    document = load_documents(docs).documents[0]
    (planned,) = plan_requests(document, (QuestionType.FACTUAL_RECALL,), 1)[:1]
    built = build_request(document, planned, PromptLibrary.load(), SamplingSettings(), ReplyLimits(), docs)
    names = subject_names(RequestOutcome(built, "accepted", ()))
    assert {"cargo", "install"} <= names and "binary" not in names
    question = "What does the command in cargo do?"
    assert check_self_contained(question, names) is None
    assert "without naming it" in (check_self_contained(question) or "")


TERM_SOURCE = (
    "Rust has a kind of comment for documentation, known as a documentation comment, that generates HTML. "
    "Documentation comments use three slashes and support Markdown. The function returns a reserve price."
)


@pytest.mark.parametrize(
    "question, named",
    [
        ("What is the format of documentation comments?", True),
        ("What do the documentation comments of a crate generate?", True),  # either number of the term
        ("What does the documentation say about the reserve price?", False),  # the noun alone
        ("What does the function return for blobs?", False),  # "function returns" once, a noun and its verb
        ("What does the documentation support for formatting?", False),  # "documentation support(s)" is not a term
        # "these" points back at the comments the source just showed, term or not
        ("What are the typical uses of these documentation comments?", False),
        ("Where do these documentation comments go in the crate root file?", False),
        # one reference opening a term names only its own thing: "the function" stays unnamed
        ("What do the documentation comments of the function generate?", False),
    ],
)
def test_a_generic_noun_that_opens_a_term_of_the_source_names_it(gate, question, named):
    pair = dataclasses.replace(GOOD, question=question)
    reason, detail = only(gate(pair, context=(TERM_SOURCE,), shown=GOOD.evidence))
    if named:
        assert reason in after("self_contained"), detail
    else:
        assert reason == "self_contained" and "without naming it" in detail, detail


def test_an_item_keeps_its_sentence_s_demonstrative_before_a_term_of_the_source():
    """An item is a sentence of its source: "this documentation comment" is the one it is about, where a question's
    "these documentation comments" points back at ones it does not show."""
    about = "Fill in the blank: We can generate the ____ from this documentation comment by running `cargo doc`."
    assert check_self_contained(about, source=TERM_SOURCE) is None
    other = "Fill in the blank: We use these documentation comments inside the function or a ____."
    assert "'the function' without naming it" in (check_self_contained(other, source=TERM_SOURCE) or "")
    assert "without naming it" in (
        check_self_contained("Why use these documentation comments?", source=TERM_SOURCE) or ""
    )


@pytest.mark.parametrize(
    "question, leans",
    [
        ('What does the chapter "Making Your Own Image Filters" use Processing for?', None),
        ("What does the chapter “More About Cargo” say about workspaces?", None),  # curly quotes
        ('Fill in the blank: The chapter "Making Your Own Image Filters" covers ____ and hue filters.', None),
        ("What does the chapter use Processing for?", "the chapter"),  # the noun alone
        ('What does the chapter "" use Processing for?', "the chapter"),  # quotes with no name in them
        ('What did the author of the chapter "Making Your Own Image Filters" find?', "the author"),
    ],
)
def test_a_title_in_quotes_after_the_source_noun_names_the_source(question, leans):
    """As the gates' own naming writes a document with no number ('the chapter "Making Your Own Image Filters"')."""
    problem = check_self_contained(question)
    assert problem is None if leans is None else f"{leans!r}" in (problem or ""), problem


# 3b. tautology


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("What is the name of the installed binary `rg`?", "`rg`."),
        ("What is the name of the installed binary rg?", "rg."),
        ("Which constant does BLOB_BASE_COST name in the reserve price?", "BLOB_BASE_COST."),
        ("Is the blob base fee bounded below by a reserve price?", "Bounded below."),
    ],
)
def test_an_answer_already_in_its_question_fails(gate, question, answer):
    reason, _ = only(gate(dataclasses.replace(GOOD, question=question, answer=answer)))
    assert reason == "tautology"


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("What bounds the blob base fee from below?", "A reserve price."),
        ("Which constant multiplies the execution base fee in the reserve price?", "BLOB_BASE_COST."),
        ("Is the reserve price higher or lower than the blob base fee floor?", "Lower."),  # a choice
        ("True or false: a reserve price bounds the blob base fee from below?", "True."),
        ("Is the blob base fee bounded below by a reserve price?", "Yes."),
    ],
)
def test_an_answer_that_adds_information_passes_tautology(gate, question, answer):
    reason, detail = only(gate(dataclasses.replace(GOOD, question=question, answer=answer)))
    assert reason in after("tautology"), detail


@pytest.mark.parametrize(
    ("question", "answer", "echoed"),
    [
        # the question's words and one more: nothing asked is answered
        (
            "How do Rust and Cargo make published packages easier for people to find and use?",
            "Rust and Cargo have features that make your published package easier for people to find and use.",
            True,
        ),
        (
            "What color filters can be adjusted in the image app?",
            "The RGB filters can be adjusted in the image app.",
            True,
        ),
        (
            "Where should crate authors typically use doc comments in the crate root file?",
            "Crate authors typically use doc comments in the crate root file by convention.",
            True,
        ),
        # near misses: two new words; a number, a code span or an identifier the question lacks; an option chosen
        (
            "How do Rust and Cargo make published packages easier to find?",
            "Rust and Cargo add metadata and documentation that make published packages easier to find.",
            False,
        ),
        ("What is the default opt-level of the dev profile?", "The default opt-level of the dev profile is 0.", False),
        (
            "Which module is loaded for DAV support in Apache?",
            "The dav_module is loaded for DAV support in Apache.",
            False,
        ),
        ("Which field does the fee update read?", "The fee update reads `baseFeeUpdateFraction`.", False),
        ("Does the reserve price rise with the execution fee or the blob fee?", "With the execution fee.", False),
    ],
)
def test_an_answer_that_echoes_its_question_adding_one_word_fails_tautology(gate, question, answer, echoed):
    pair = dataclasses.replace(GOOD, question=question, answer=answer, evidence=(answer,), reasoning_steps=())
    reason, detail = only(gate_over(gate, pair, (answer,)))
    if echoed:
        assert reason == "tautology" and detail.endswith("to its question's words"), detail
    else:
        assert reason != "tautology", detail


# 3b'. on target: an answer mentions the terms its question asks about


@pytest.mark.parametrize(
    ("question", "answer"),
    [  # answers the 1.5B wrote (blind readers: off target), each a neighbouring sentence copied whole
        (
            "What is the cost of the KZG proof verification on a node?",
            "The ability on the CL to jointly process cell proofs of a column (from all blobs) through batching "
            "reduces the compute time spent per blob as the number of blobs increases.",
        ),
        (
            "What smoothing technique is used in the Ethereum fee histogram?",
            "A four-month period from November 2024 through March 2025 was analyzed, with thresholding applied "
            "directly to the original data.",
        ),
        (
            "What is the value of `BLOB_BASE_COST`?",
            "According to the law of demand, the lower the price, the higher the demand, and when execution costs "
            "dominate the real demand curve becomes inelastic.",
        ),
        # one term short of half (blob, fee of set, floor, blob, base, fee, ethereum)
        (
            "What sets the floor of the blob base fee in Ethereum?",
            "The reserve price equals a constant times the execution gas price and bounds the blob fee from below.",
        ),
    ],
)
def test_an_answer_about_something_else_than_its_question_fails(gate, question, answer):
    reason, detail = only(gate(dataclasses.replace(GOOD, question=question, answer=answer)))
    assert reason == "on_target" and "terms its question asks about (missing: " in detail, detail


@pytest.mark.parametrize(
    ("question", "answer", "question_type"),
    [
        # half the asked terms is on target (blob, base, fee of set, floor, blob, base, fee, ethereum)
        (
            "What sets the floor of the blob base fee in Ethereum?",
            "A reserve price equal to BLOB_BASE_COST times the execution base fee bounds the blob fee from below.",
            QuestionType.FACTUAL_RECALL,
        ),
        # a direct answer names only what was asked for
        ("What bounds the blob base fee from below in Ethereum?", "A reserve price.", QuestionType.FACTUAL_RECALL),
        # frame words ("purpose", "main") are not terms an answer must repeat
        (
            "What is the main purpose of the reserve price of EIP-7918?",
            "The reserve price keeps the blob base fee responsive, since BLOB_BASE_COST times the execution base "
            "fee bounds it from below.",
            QuestionType.FACTUAL_RECALL,
        ),
        # an answer that opens with the condition asked for
        (
            "When does `calc_excess_blob_gas()` skip subtracting `target_blob_gas`?",
            "When the reserve price is higher than GAS_PER_BLOB times the base fee per blob gas of the parent block.",
            QuestionType.FACTUAL_RECALL,
        ),
        # a verdict answers its statement
        (
            "True or false: the KZG proof verification cost of a node falls with batching?",
            "True, because batching cell proofs of a column reduces the compute time spent per blob on the CL.",
            QuestionType.TRUE_FALSE_FILL_BLANK,
        ),
    ],
)
def test_an_answer_mentioning_what_is_asked_passes_on_target(gate, question, answer, question_type):
    pair = dataclasses.replace(GOOD, question=question, answer=answer)
    reason, detail = only(gate(pair, question_type=question_type))
    assert reason in after("on_target"), detail


# 3c. degenerate answers


@pytest.mark.parametrize(
    "answer",
    [
        "A reserve price bounds it. A reserve price bounds it. A reserve price bounds it.",
        "A reserve price bounds it 保留价格.",
        'A reserve price bounds it."}, {"question": "What is BLOB_BASE_COST?',
        "It bounds the blob base fee from below.",
    ],
    ids=["loop", "cjk", "json", "restated"],
)
def test_degenerate_answers_fail(gate, answer):
    assert only(gate(dataclasses.replace(GOOD, answer=answer)))[0] == "degenerate"


def test_an_answer_quoting_a_command_twice_is_not_degenerate(gate):
    code = dataclasses.replace(
        GOOD,
        answer="A reserve price bounds it: run `cargo build` and `cargo build --release`; BLOB_BASE_COST times "
        "the execution base fee.",
    )
    reason, detail = only(gate(code))
    assert reason in after("degenerate"), detail


# 4. near-duplicates


def test_near_duplicate_questions_keep_the_first(gate):
    first = GOOD
    second = dataclasses.replace(
        GOOD, question="What bounds the blob base fee from below ?", answer=GOOD.answer + " Yes."
    )
    third = dataclasses.replace(
        GOOD,
        question="Which quantity does BLOB_BASE_COST multiply in the reserve price?",
        answer="BLOB_BASE_COST multiplies the execution base fee.",
    )
    result = gate(first, second, third)
    assert [g.pair for g in result.accepted] == [first, third]
    (dropped,) = result.rejected
    assert dropped.pair is second and dropped.gate == "duplicate" and "near copy" in dropped.detail


@pytest.mark.parametrize("rows", [1, 3, 256])
def test_duplicates_across_replies_are_found_whatever_the_block_of_rows_compared_at_once(gate, monkeypatch, rows):
    monkeypatch.setattr(quality, "SIMILARITY_ROWS", rows)
    other = dataclasses.replace(
        GOOD,
        question="Which quantity does BLOB_BASE_COST multiply in the reserve price?",
        answer="BLOB_BASE_COST multiplies the execution base fee.",
    )
    result = gate(GOOD, other, requests=2)  # two replies with the same two pairs
    assert [(g.pair, g.outcome) for g in result.accepted] == [
        (GOOD, result.accepted[0].outcome),
        (other, result.accepted[0].outcome),
    ]
    assert len(result.rejected) == 2 and all(
        g.gate == "duplicate" and "near-duplicate" in g.detail for g in result.rejected
    )
    assert all(g.outcome is not result.accepted[0].outcome for g in result.rejected)


def test_short_answers_shared_by_different_questions_are_not_duplicates(gate):
    statements = (
        "True or false: The reserve price equals BLOB_BASE_COST times the execution base fee?",
        "True or false: The blob base fee is bounded below by a reserve price?",
    )
    verdicts = [dataclasses.replace(GOOD, question=q, answer="True") for q in statements]
    result = gate(*verdicts, question_type=QuestionType.TRUE_FALSE_FILL_BLANK)
    assert [g.pair for g in result.accepted] == verdicts, [(g.gate, g.detail) for g in result.rejected]
    # near miss: a sentence-long answer shared by the two questions is still one pair's answer
    long = [dataclasses.replace(v, answer="True. " + GOOD.answer) for v in verdicts]
    result = gate(*long, question_type=QuestionType.TRUE_FALSE_FILL_BLANK)
    assert [g.pair for g in result.accepted] == long[:1]
    assert [(g.gate, "answer" in g.detail) for g in result.rejected] == [("duplicate", True)]


@pytest.mark.parametrize("requests", [1, 2])  # one reply, or two replies of the same section
def test_items_of_one_sentence_that_blank_different_terms_are_not_duplicates(gate, requests):
    sentence = "The reserve price equals BLOB_BASE_COST times the execution base fee, so blob pricing stays responsive."
    items = [
        dataclasses.replace(GOOD, question=q, answer=a, evidence=(sentence,), reasoning_steps=())
        for q, a in (cloze_item(sentence, "BLOB_BASE_COST"), cloze_item(sentence, "execution base fee"))
    ]
    result = gate(*items, question_type=TF_ITEM, context=(sentence,), requests=requests)
    assert [g.pair for g in result.accepted][:2] == items, [(g.gate, g.detail) for g in result.rejected]
    # near miss: the same term blanked again is a copy
    again = gate(items[0], items[0], question_type=TF_ITEM, context=(sentence,))
    assert [g.gate for g in again.rejected] == ["duplicate"]


def test_dedup_threshold_is_a_setting(gate):
    a = GOOD
    b = dataclasses.replace(
        GOOD, question="What bounds the blob base fee from below in practice?", answer=GOOD.answer + " x."
    )
    assert len(gate(a, b, settings=GateSettings(dedup_threshold=0.99)).accepted) == 2
    assert len(gate(a, b, settings=GateSettings(dedup_threshold=0.5)).accepted) == 1


def test_near_copies_within_one_reply_keep_the_first(gate):
    reworded = dataclasses.replace(
        GOOD,
        question="Which factor multiplies the execution base fee in the reserve price?",
        answer="A reserve price bounds it, BLOB_BASE_COST times the execution base fee.",
    )
    different = dataclasses.replace(
        GOOD,
        question="Which factor multiplies the execution base fee in the reserve price?",
        answer="BLOB_BASE_COST multiplies the execution base fee.",
    )
    result = gate(GOOD, reworded)
    assert [g.pair for g in result.accepted] == [GOOD]
    assert result.rejected[0].gate == "duplicate" and "near copy" in result.rejected[0].detail
    assert "answer of pair 1 of the same reply" in result.rejected[0].detail
    assert len(gate(GOOD, different).accepted) == 2


def test_same_answer_to_different_questions_of_one_type_is_dropped(gate):
    other = dataclasses.replace(GOOD, question="Which factor multiplies the execution base fee?")
    result = gate(GOOD, other, requests=2)  # two requests, the same reply: the second's `other` meets GOOD's answer
    assert [g.pair for g in result.accepted] == [GOOD]
    assert [g.gate for g in result.rejected] == ["duplicate"] * 3
    assert "same answer" in result.rejected[-1].detail


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
        ({"answer": "The reserve price equals BLOB_BASE_COST times the execution"}, "cut off mid-sentence"),
        ({"answer": "A reserve price bounds it, so that BLOB_BASE_COST times the base fee ensures that:"}, "cut off"),
    ],
)
def test_form_failures(gate, change, detail):
    reason, text = only(gate(dataclasses.replace(GOOD, **change)))
    assert reason == "form" and detail in text


def test_a_summary_of_a_short_section_may_be_short_but_not_a_fragment():
    from utilities.quality import check_form

    summary = dataclasses.replace(
        GOOD, question="Summarize how the reserve price bounds the blob base fee.", answer=" ".join(["word"] * 12) + "."
    )
    assert "shorter than 30 words" in check_form(summary, QuestionType.SECTION_SUMMARY, source_words=400)
    assert check_form(summary, QuestionType.SECTION_SUMMARY, source_words=24) is None, "half of a 24-word section"
    fragment = dataclasses.replace(summary, answer="Reserve price.")
    assert "shorter than 12 words" in check_form(fragment, QuestionType.SECTION_SUMMARY, source_words=24)


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
    reason, detail = only(gate(dataclasses.replace(GOOD, question=question)))
    assert reason in after("form"), detail


def test_a_short_fact_passes_and_a_fragment_explanation_fails(gate):
    fact = dataclasses.replace(GOOD, question="Which price bounds the blob base fee from below?", answer="Reserve.")
    assert only(gate(fact))[0] is None
    explain = dataclasses.replace(GOOD, question="Explain how the reserve price bounds the blob base fee.")
    fragment = dataclasses.replace(explain, answer="BLOB_BASE_COST times the execution base fee.")
    reason, detail = only(gate(fragment, question_type=QuestionType.TECHNICAL_EXPLANATION))
    assert reason == "form" and re.search(r"shorter than 1\d words, the least for TECHNICAL_EXPLANATION", detail)
    full = dataclasses.replace(
        explain,
        answer="The blob base fee is bounded below by a reserve price, and the reserve price equals "
        "BLOB_BASE_COST times the execution base fee, so blob pricing stays responsive.",
    )
    assert only(gate(full, question_type=QuestionType.TECHNICAL_EXPLANATION))[0] is None


# 7. reasoning steps


def test_steps_that_say_nothing_about_the_source_are_dropped(gate):
    steps = ("Identify the problem.", "Understanding the process.", "The reserve price scales the execution base fee.")
    (kept,) = gate(dataclasses.replace(GOOD, reasoning_steps=steps)).accepted
    assert kept.steps == ("The reserve price scales the execution base fee.",)
    (empty,) = gate(dataclasses.replace(GOOD, reasoning_steps=steps[:2])).accepted
    assert empty.steps == ()  # kept, written without its <think> block


def test_steps_that_talk_about_the_source_are_dropped(gate):
    steps = (
        "The text explicitly states that the reserve price scales the execution base fee.",
        "The reserve price, as stated in the abstract, scales the execution base fee.",
        "The reserve price scales the execution base fee stated in each block.",  # near miss: no source talk
    )
    (kept,) = gate(dataclasses.replace(GOOD, reasoning_steps=steps)).accepted
    assert kept.steps == steps[2:]


def test_every_pair_is_accepted_or_rejected_exactly_once(gate):
    pairs = [
        GOOD,
        dataclasses.replace(GOOD, question="According to the passage, why?"),
        dataclasses.replace(GOOD, evidence=("made up",)),
        dataclasses.replace(GOOD, question="Which factor scales the reserve price?", answer="x"),
    ]
    result = gate(*pairs)
    assert len(result.accepted) + len(result.rejected) == len(pairs)
    assert {id(g.pair) for g in [*result.accepted, *result.rejected]} == {id(p) for p in pairs}


# polarity

NEGATED = "The reserve price does not apply when the execution base fee is zero."


HEDGED = "A change in the blob base fee of 10% may under such circumstances shift the total cost by just 0.0000001%."
WHEN = "When does the reserve price of the blob base fee apply?"
TEN_PERCENT = "What does a 10% change in the blob base fee do to the total cost?"
SHIFTS = "A change in the blob base fee of 10% {}shift{} the total cost by just 0.0000001%."


@pytest.mark.parametrize(
    ("quote", "question", "answer", "dropped"),
    [
        (NEGATED, WHEN, "The reserve price applies when the execution base fee is zero.", "negation"),
        (NEGATED, WHEN, "The reserve price does not apply when the execution base fee is zero.", None),
        (NEGATED, WHEN, "No: with a zero execution base fee the reserve price is not applied.", None),  # other words
        (NEGATED, WHEN, "It can't apply when the execution base fee is zero.", None),
        (HEDGED, TEN_PERCENT, SHIFTS.format("", "s"), "hedge"),
        (HEDGED, TEN_PERCENT, SHIFTS.format("may ", ""), None),
        (HEDGED, "What does a 10% change in the blob base fee possibly do to the total cost?",  # hedged question
         SHIFTS.format("", "s"), None),
        (HEDGED, TEN_PERCENT, "It could shift the total cost of blobspace by just 0.0000001%.", None),  # other words
    ],
)  # fmt: skip
def test_an_answer_that_drops_its_evidence_negation_or_hedge_fails(gate, quote, question, answer, dropped):
    pair = dataclasses.replace(GOOD, question=question, answer=answer, evidence=(quote,))
    reason, detail = only(gate(pair, context=(quote,)))
    assert (reason is None) is (dropped is None), detail
    if dropped:
        assert reason == "polarity" and f"drops the {dropped}" in detail


STATED = "The `blobSchedule` for referencing target and max blobs was introduced in EIP-7840."


@pytest.mark.parametrize(
    ("statement", "answer", "ok"),
    [
        ("The `blobSchedule` for referencing target and max blobs was introduced in EIP-7840", "False", False),
        ("The `blobSchedule` for referencing target and max blobs was introduced in EIP-7840", "True", True),
        ("The `blobSchedule` was not introduced in EIP-7840", "False", True),  # the sentence has no negation
        ("The `blobSchedule` was not introduced in EIP-7840", "True", False),
        # Near misses the check leaves to the other gates: a word the sentence lacks, or too few words.
        ("The `blobSchedule` for referencing target and max blobs was introduced in EIP-4844", "False", True),
        ("`blobSchedule` came in EIP-7840", "False", True),
    ],
)
def test_a_verdict_that_a_shown_sentence_contradicts_fails(gate, statement, answer, ok):
    pair = dataclasses.replace(GOOD, question=f"True or false: {statement}?", answer=answer, evidence=(STATED,))
    reason, detail = only(gate_over(gate, pair, (STATED,), question_type=QuestionType.TRUE_FALSE_FILL_BLANK))
    if ok:
        assert reason != "polarity", detail
    else:
        assert reason == "polarity" and f"answered {answer}, but a shown sentence says" in detail


def test_a_negated_quote_the_answer_does_not_rest_on_is_no_polarity_problem(gate):
    quotes = (GOOD.evidence[1], "Validators do not vote on the blob target.")
    pair = dataclasses.replace(GOOD, evidence=quotes)
    assert only(gate(pair, context=(SOURCE + " " + quotes[1],)))[0] is None


@pytest.mark.parametrize(
    "question",
    [
        "How did you decide on the reserve price for the blob base fee?",
        "Why was it important for you to bound the blob base fee?",
        "What inspired you to bound the blob base fee by BLOB_BASE_COST?",
        "What was the main reason you took longer to bound the blob base fee?",
        "What does the reserve price in the attached figures show?",
    ],
)
def test_questions_to_the_author_or_about_attached_figures_fail(gate, question):
    reason, detail = only(gate(dataclasses.replace(GOOD, question=question)))
    assert reason == "self_contained" and "leans on its source" in detail


@pytest.mark.parametrize(
    "question",
    [
        "How do you compute the reserve price of the blob base fee?",
        "What does BLOB_BASE_COST let you take from the blob base fee?",  # near miss: "you take", now
    ],
)
def test_a_general_second_person_question_passes(gate, question):
    assert only(gate(dataclasses.replace(GOOD, question=question)))[0] is None


@pytest.mark.parametrize(
    "question",
    [
        "What would the reserve price be if demand at this fee were above the target?",  # no fee before it
        "Why do these values bound the blob base fee from below?",
    ],
)
def test_a_demonstrative_pointing_back_at_unseen_text_fails(gate, question):
    reason, detail = only(gate(dataclasses.replace(GOOD, question=question)))
    assert reason == "self_contained" and "without naming it" in detail


@pytest.mark.parametrize(
    "question",
    [
        "How does this change of EIP-7918 bound the blob base fee?",  # named
        "Why is this important for the reserve price of BLOB_BASE_COST?",  # "this is": no noun pointed at
        "Which of these two constants, BLOB_BASE_COST or GAS_PER_BLOB, is larger?",  # not bare: has its noun
        "Is this rule of EIP-7918 applied to every block?",
        "Does the thesis of EIP-7918 bound the blob base fee?",  # "this" inside a word
    ],
)
def test_a_demonstrative_with_a_name_or_no_noun_passes(gate, question):
    reason, detail = only(gate(dataclasses.replace(GOOD, question=question)))
    assert reason in after("self_contained"), detail


@pytest.mark.parametrize(
    "question",
    [
        "Are there security risks associated with this?",
        "Why does EIP-7918 do this, according to its authors?",  # a name elsewhere does not say what "this" is
        "What is the role of BLOB_BASE_COST in these?",
    ],
)
def test_a_bare_demonstrative_ending_a_clause_fails_even_beside_a_name(gate, question):
    reason, detail = only(gate(dataclasses.replace(GOOD, question=question)))
    assert reason == "self_contained" and "with nothing it points at" in detail


@pytest.mark.parametrize(
    ("answer", "ok"),
    [  # the 1.5B copied the section's last sentence as the answer to "Are there security risks of EIP-7918?"
        ("To the best of the authors' knowledge, there are no security risks associated with this.", False),
        ("A reserve price bounds it, and BLOB_BASE_COST times the execution base fee sets these.", False),
        ("A reserve price bounds it: this keeps BLOB_BASE_COST times the execution base fee as the floor.", True),
        ("A reserve price bounds it; `this` is BLOB_BASE_COST times the execution base fee.", True),
    ],
)
def test_an_answer_ending_a_clause_on_a_bare_demonstrative_is_not_self_contained(gate, answer, ok):
    reason, detail = only(gate(dataclasses.replace(GOOD, answer=answer)))
    if ok:
        assert reason in after("self_contained"), detail
    else:
        assert reason == "self_contained" and detail.startswith("the answer ends a clause on")


@pytest.mark.parametrize(
    ("question", "answer", "figures", "ok"),
    [
        ("What does Figure 2 show about the reserve price?", GOOD.answer, (), False),
        ("What bounds the blob base fee from below?", GOOD.answer + " Figure 2 marks it in green.", (), False),
        ("What does Table 11.1 list about the reserve price?", GOOD.answer, (), False),  # a table is never carried
        ("What does Figure 1.1 show about the reserve price?", GOOD.answer, ("FIGURE_1.1",), True),  # attached
        ("What does Figure 1 show about the reserve price?", GOOD.answer, ("FIGURE_1.1",), True),  # its own number
        # a how-to's numbered step is a part of the source, never carried; a step with no number is a word
        ("What error does the push print in step 5 of the reserve price set-up?", GOOD.answer, (), False),
        ("What does Step 2: enable DAV on the reserve price's repository state?", GOOD.answer, (), False),
        ("What is the first step of setting the reserve price?", GOOD.answer, (), True),
        ("How many steps does setting the reserve price take?", GOOD.answer, (), True),
    ],
)
def test_a_pair_pointing_at_a_figure_or_table_it_does_not_carry_fails(gate, question, answer, figures, ok):
    pair = dataclasses.replace(GOOD, question=question, answer=answer, figures=figures)
    reason, detail = only(gate(pair))
    if ok:
        assert reason in after("self_contained"), detail
    else:
        assert reason == "self_contained" and "which the pair does not carry" in detail


def test_the_module_and_the_readme_describe_every_gate_in_order():
    import utilities.quality as quality

    listed = re.findall(r"(?m)^\d+\. ``(\w+)``", quality.__doc__)
    assert tuple(listed) == GATES
    readme = (PROJECT_ROOT / "README.md").read_text()
    rows = re.findall(r"(?m)^\| `(\w+)` \|", readme[readme.index("| gate | a pair is rejected when |") :])
    assert tuple(rows[: len(GATES)]) == GATES


TF_ITEM = QuestionType.TRUE_FALSE_FILL_BLANK


@pytest.mark.parametrize(
    ("question", "opener"),
    [
        ("Fill in the blank: It equals ____ times the execution base fee.", "It"),
        ("Fill in the blank: This implies a reserve price of ____ times the execution base fee.", "This"),
        ("True or false: Such a reserve price scales the execution base fee.", "Such"),
        (
            "Fill in the blank: In this light, the reserve price equals ____ times the execution base fee.",
            "In this light",
        ),
        # near misses: a word that only starts like a pointer, and a pointer inside the sentence with its noun named
        ("Fill in the blank: Items of the reserve price equal ____ times the execution base fee.", None),
        ("Fill in the blank: The reserve price equals ____ times the execution base fee, and it binds.", None),
        ("Fill in the blank: Then the reserve price equals ____ times the execution base fee.", "Then"),
    ],
)
def test_an_item_that_opens_by_pointing_back_is_not_self_contained(gate, question, opener):
    answer = "True" if question.startswith("True or false") else "BLOB_BASE_COST"
    pair = dataclasses.replace(GOOD, question=question, answer=answer, reasoning_steps=())
    reason, detail = only(gate(pair, question_type=TF_ITEM))
    if opener is None:
        assert reason != "self_contained", detail
    else:
        assert reason == "self_contained" and f"opens on {opener!r}" in detail


def test_a_blank_names_nothing_the_question_refers_to():
    unnamed = "Fill in the blank: ____ imposes the maximum of the two curves, in darker colors."
    assert "the two curves" in check_self_contained(unnamed)
    # a name elsewhere in an item does not say which curves; a plural of a strong noun is one too
    elsewhere = "Fill in the blank: EIP-7918 imposes the ____ of the two curves, in darker colors."
    assert "the two curves" in check_self_contained(elsewhere)
    named = "Fill in the blank: ____ imposes the maximum of the two curves `demand(b)` and `supply(b)`."
    assert check_self_contained(named) is None


@pytest.mark.parametrize(
    ("item", "unnamed"),
    [
        # the blank right after the determiner is the name a learner fills in
        ("Fill in the blank: The ____ method is called for every animation of a Processing sketch.", None),
        ("Fill in the blank: EIP-7918 ensures that the ____ can function properly.", None),
        # near misses: a placed adjective before the blank, a blank that is not the reference's own name
        ("Fill in the blank: The *new* ____ and `blobSchedule.target` must be used after a fork.", "The *new* ____"),
        ("Fill in the blank: The method is called for every ____ of a Processing sketch.", "The method"),
    ],
)
def test_a_blank_names_the_thing_it_stands_for(item, unnamed):
    found = check_self_contained(item)
    assert found is None if unnamed is None else (found is not None and unnamed in found), found


def test_a_term_that_fills_a_negated_sentence_keeps_its_negation_in_the_item(gate):
    quote = "`calc_excess_blob_gas` does not subtract `target_blob_gas` when the reserve price binds."
    item = "Fill in the blank: `calc_excess_blob_gas` does not subtract ____ when the reserve price binds."
    pair = dataclasses.replace(GOOD, question=item, answer="`target_blob_gas`", evidence=(quote,), reasoning_steps=())
    assert only(gate(pair, question_type=TF_ITEM, context=(quote,)))[0] is None
    # near miss: the same term answering an open question about the negated sentence drops its negation
    open_question = "What does `calc_excess_blob_gas` subtract when the reserve price binds?"
    answer = "`calc_excess_blob_gas` subtracts `target_blob_gas` when the reserve price binds."
    dropped = dataclasses.replace(pair, question=open_question, answer=answer)
    reason, detail = only(gate(dropped, context=(quote,)))
    assert reason == "polarity" and "drops the negation" in detail


@pytest.mark.parametrize(
    ("question", "answer", "trend"),
    [
        ("What is the reserve price?", "The reserve price generally falls as blob throughput grows.", True),
        ("What are the blob fees?", "Technological progress generally brings down the blob fees over the years.", True),
        # near misses: a value given, a question about a change, a change verb only in a participle
        ("What is the reserve price?", "The reserve price falls to `BLOB_BASE_COST` times the base fee.", False),
        ("What is the effect of BLOB_BASE_COST on the reserve price?", "The reserve price rises with it.", False),
        ("What is the reserve price used for?", "Lowering the fee when gas is unused, it bounds the fee.", False),
    ],
)
def test_asked_what_a_thing_is_an_answer_saying_only_how_it_changes_is_off_target(gate, question, answer, trend):
    reason, detail = only(gate(dataclasses.replace(GOOD, question=question, answer=answer)))
    if trend:
        assert reason == "on_target" and detail.endswith("the answer says only how it changes"), detail
    else:
        assert "only how it changes" not in detail, detail


@pytest.mark.parametrize(
    ("question", "unnamed"),
    [
        ("What is the proposed reserve fee applied to?", "the proposed reserve"),
        ("Fill in the blank: ____ is applied directly to the original data, without its effect.", "the original data"),
        ("What is the new value of the blob target after a fork?", "the new value"),
        ("Fill in the blank: The *new* value of ____ must be used after a fork.", "The *new* value"),
        ("Fill in the blank: The same reflexivity applies to the ____.", "The same reflexivity"),
        ("How does the blob base fee compare to the proposed reserve price?", "the proposed reserve"),
        (
            "Fill in the blank: The *new* `blobSchedule.max` and ____ must be used after a fork.",
            "The *new* `blobSchedule.max`",
        ),
        # near misses: named where it stands, an indefinite "a new", the document named, a noun said before, an idiom
        ("Can two crates be published to crates.io at the same time?", None),
        ("What does the proposed constant `BLOB_BASE_COST` price in execution gas?", None),
        ("Fill in the blank: Running ____ creates a new crate in its own folder.", None),
        ("What is the proposed reserve fee of EIP-7918 applied to?", None),
        ("How is a reserve fee set when the proposed reserve fee binds?", None),
    ],
)
def test_an_adjective_that_places_a_noun_in_the_sources_story_points_at_it(question, unnamed):
    """ "The proposed reserve fee", "the original data": readers cannot tell whose proposal or which data."""
    problem = check_self_contained(question)
    if unnamed is None:
        assert problem is None
    else:
        assert problem is not None and repr(unnamed) in problem


@pytest.mark.parametrize(
    ("sentence", "problem"),
    [
        ("However, when execution costs dominate, the price signal is lost.", "opens on 'However'"),
        ("The function no longer subtracts `target_blob_gas` when the reserve price binds.", "'The function'"),
        ("Figure 2 shows verification time per blob for each node type.", "'Figure 2'"),
        ("Figures 3-4 show price evolution over three weeks in November 2024.", "'Figures 3-4'"),
        ("By applying the reserve price, the proposal jointly ensures that:", "a colon"),
        ("Fee-inelasticity and reserve price", "not a sentence"),
        ("| `BLOB_BASE_COST` | `2**13` |", "not a sentence"),
        # a clause that ends on "this", a sentence about its source
        ("To the best of the authors' knowledge, there are no security risks associated with this.", "'this'"),
        ("As mentioned in the text, the reserve price tracks the execution base fee.", "leans on its source"),
        # a figure's marks, "such" pointing back, a one-letter symbol defined elsewhere
        ("The protocol uses a long-run perfectly inelastic supply curve (vertical blue line).", "'vertical blue line'"),
        ("The equilibrium (squares) must form along the edge of the upper-left quadrant.", "'(squares)'"),
        ("The EL mempool verification (red) takes 15 times longer than the CL verification.", "'(red)'"),
        ("A 10% change may under such circumstances shift the total cost by just 0.0000001%.", "'such circumstances'"),
        ("From the perspective of the blob base fee update mechanism, $c$ is fixed.", "'$c$'"),
        ("A reserve price is specified below which $b$ cannot be reduced.", "'$b$'"),
        # the author's own story, a question of the source
        ("I thought it would show travel, and progression through the seasons.", "author's voice ('I')"),
        ("University, and later work, filled up my time with other people's ideas.", "author's voice ('my')"),
        ("Random person or thing that we didn't notice at the time?", "a question"),
        ("Alternatively, you can call `background(int r, int g, int b)` to set the colour.", "'Alternatively'"),
        ("In Chapter 3, we discussed how to comment Rust code using two slashes.", "'Chapter 3'"),
        # a figure's mark by its colour, where in the source its subject is
        ("The hypothetical organic demand is illustrated in black.", "'illustrated in black'"),
        ("Each column's cell proofs can be batch-verified (also applicable below).", "'applicable below'"),
        ("The reserve price tracks the execution base fee, as described above.", "'described above'"),
        ("Full nodes custody 4 columns (see below).", "'(see below)'"),
        # near misses: the document named where the sentence calls it "This EIP", a function named in place,
        # "this" before the noun it points at; "such as"; a symbol a noun names; no mark after "vertical";
        # "I/O" and "we"
        ("Processing reads images through its I/O functions.", None),
        ("We'll use Processing, a programming language and development environment built in Java.", None),
        ("Fees such as the blob base fee track the execution base fee.", None),
        ("The blob base fee $b$ never falls below the reserve price.", None),
        ("The lower the price $b+c$, the higher the demand for blobspace.", None),
        ("Ethereum scales blobspace by vertical scaling of the node software.", None),
        ("This EIP assigns a reserve price `BLOB_BASE_COST * base_fee_per_gas` to blobs.", None),
        ("The function `calc_excess_blob_gas()` no longer subtracts `target_blob_gas` when it binds.", None),
        ("No security risks are associated with the reserve price `BLOB_BASE_COST` this EIP sets.", None),
        # near misses: a colour that is the subject, not a mark; "below"/"above" before what they bound
        ("Black-and-white photography records only the brightness of light.", None),
        ("The blob base fee of EIP-7918 is never set below the reserve price.", None),
        ("A reserve price is defined below 1 gwei for testnets of EIP-7918.", None),
        ("A blob fee given above the reserve price of EIP-7918 is paid in full.", None),
        # an ordinal and a count with no noun stand for what came before; with their noun, or "of", they do not
        ("The first two are the red value, and the third two the blue value of a hex colour.", "counts with"),
        ("A hex colour holds the red value in its first pair, the second two the green value.", "counts with"),
        ("The first two characters of a hex colour are its red value.", None),
        ("The last three columns of an extended blob are parity data.", None),
        ("Of the six hex digits of a colour, the first two of them give its red value.", None),
    ],
)
def test_a_sentence_is_offered_for_an_item_when_an_item_of_it_could_stand_alone(sentence, problem):
    called = DocumentName("EIP-7918", ("eip", "proposal", "document", "text"), numbered=True)
    found = item_source_problem(sentence, frozenset(), sentence, called)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_a_blank_whose_term_is_only_a_generic_reference_names_nothing_to_recall(gate):
    generic = "Whenever demand picks up, the mechanism resorts to a first-price auction for the blob base fee."
    named = "Whenever demand picks up, the blob base fee resorts to a first-price auction."
    for sentence, term, passes in ((generic, "the mechanism", False), (named, "first-price auction", True)):
        question, answer = cloze_item(sentence, term)
        pair = dataclasses.replace(GOOD, question=question, answer=answer, evidence=(sentence,), reasoning_steps=())
        reason, detail = only(gate(pair, question_type=TF_ITEM, context=(sentence,)))
        assert (reason != "self_contained") if passes else ("names nothing" in detail), detail


@pytest.mark.parametrize(
    ("question", "answer", "restated"),
    [
        # the 1.5B's restatements of a sentence as a question: no reason, or a condition the question holds
        (
            "Why are fixed thresholds not sustainable?",
            "Fixed thresholds not relating to blob quantity may not be sustainable.",
            True,
        ),
        (
            "Why does scaling blockspace and blobspace in synchrony keep the reserve price at the desired level?",
            "If Ethereum scales blockspace and blobspace in synchrony, the reserve price remains at the desired level.",
            True,
        ),
        (
            "How does EIP-7918 ensure that blob consumers pay a relevant fraction of the market rate?",
            "The proposal ensures that blob consumers pay a relevant fraction of the market rate for compute.",
            True,
        ),
        # examples after "such as" are no reason
        (
            "Why do some projects want each commit on the trunk to do one single thing?",
            "Some projects want each commit on the trunk to do one single thing, such as solving a single issue.",
            True,
        ),
        # near misses: a reason the question lacks, after "because", "if", "by" or "as"; a value as the reason; how
        # two things differ
        (
            "Why do some projects want each commit on the trunk to do one single thing?",
            "Projects want each trunk commit to do one thing, as reviewers read the history commit by commit.",
            False,
        ),
        (
            "How do the `dev` and `release` profiles differ?",
            "The `dev` and `release` profiles differ in their optimization level and debug information.",
            False,
        ),
        (
            "Why does the function skip subtracting `target_blob_gas`?",
            "Because the reserve price exceeds the blob price, the function skips subtracting `target_blob_gas`.",
            False,
        ),
        (
            "Why can there be a few blocks before the blob base fee catches up?",
            "If the execution base fee rises quickly, there may be a few blocks before the blob base fee catches up.",
            False,
        ),
        ("Why is the cost negligible?", "The cost is negligible since it shifts by 0.0000001%.", False),
        ("What does the reserve price ensure?", "The reserve price ensures that fees stay responsive.", False),
    ],
)
def test_a_why_question_answered_without_a_reason_restates_itself(gate, question, answer, restated):
    pair = dataclasses.replace(GOOD, question=question, answer=answer, evidence=(answer,), reasoning_steps=())
    reason, detail = only(gate_over(gate, pair, (answer,)))
    if restated:
        assert reason == "tautology" and re.fullmatch(
            r"asked (why|how), the answer gives no reason that the question does not already hold", detail
        )
    else:
        assert reason != "tautology", detail


@pytest.mark.parametrize(
    ("question", "answer", "problem"),
    [
        ("What does the vertical blue line in EIP-7918's supply chart mark?", GOOD.answer, "'vertical blue line'"),
        ("What bounds the blob base fee from below?", "The reserve price, shown as a dashed line.", "'dashed line'"),
        ("What sets the floor of EIP-7918 under such circumstances?", GOOD.answer, "'such circumstances'"),
        ("What bounds the blob base fee from below?", "This would be the reserve price.", "opens on 'This would'"),
        ("What floor does BLOB_BASE_COST set for $b$?", GOOD.answer, "'$b$'"),
        ("How did I compute the blob base fee from BLOB_BASE_COST?", GOOD.answer, "author's voice ('I')"),
        ("What bounds the blob base fee from below?", "The figure shows BLOB_BASE_COST as its floor.", "'The figure'"),
        ("What does this diagram show about BLOB_BASE_COST?", GOOD.answer, "'this diagram'"),
        ("What bounds the blob base fee from below?", "My reserve price, BLOB_BASE_COST times the base fee.", "('My')"),
        # near misses: "such as"; "such" naming the question's own noun; "This" before a noun; a symbol a noun names
        ("What fees, such as the blob base fee, does BLOB_BASE_COST bound from below?", GOOD.answer, None),
        ("What makes the dynamic pricing auction of EIP-7918 work?", "Such an auction works when " + GOOD.answer, None),
        (
            "What bounds the blob base fee from below?",
            "This EIP bounds it: BLOB_BASE_COST times the execution base fee.",
            None,
        ),
        ("What keeps the blob base fee $b$ above the BLOB_BASE_COST floor?", GOOD.answer, None),
        # a figure by its number is for the other rule; a graph may be a commit graph, a figure of speech no figure
        ("What does the commit graph of EIP-7918's repository hold?", GOOD.answer, None),
        ("What figures does BLOB_BASE_COST set for the blob base fee?", GOOD.answer, None),
    ],
)
def test_a_pair_leaning_on_figure_marks_such_or_an_undefined_symbol_is_not_self_contained(
    gate, question, answer, problem
):
    reason, detail = only(gate(dataclasses.replace(GOOD, question=question, answer=answer)))
    if problem is None:
        assert reason in after("self_contained"), detail
    else:
        assert reason == "self_contained" and problem in detail, detail


@pytest.mark.parametrize(
    ("question", "answer", "problem"),
    [
        (
            "What is the value of BLOB_BASE_COST?",
            "BLOB_BASE_COST is set so that blobs pay for their compute.",
            "amount",
        ),
        (
            "How many columns does a full node verify for the reserve price?",
            "Full nodes verify custodied columns of cells.",
            "amount",
        ),
        (
            "What is the name of the auction Ethereum uses for blobs?",
            "Ethereum uses an auction to set the blob fee.",
            "name",
        ),
        # near misses: a code span, a number word, a word of quantity, a name the question lacks
        ("What is the value of BLOB_BASE_COST?", "The value of BLOB_BASE_COST is `2**13`.", None),
        ("How many columns does a full node verify for the reserve price?", "A full node verifies four columns.", None),
        ("How long does the blob base fee take to catch up with the reserve price?", "A few blocks at most.", None),
        ("What is the name of the auction Ethereum uses for blobs?", "It is called EIP-1559 style pricing.", None),
    ],
)
def test_asked_for_an_amount_or_a_name_an_answer_without_one_is_off_target(gate, question, answer, problem):
    pair = dataclasses.replace(GOOD, question=question, answer=answer, evidence=(answer,), reasoning_steps=())
    reason, detail = only(gate_over(gate, pair, (answer,)))
    if problem is None:
        assert "the answer gives none" not in detail, detail
    else:
        assert (
            reason == "on_target"
            and detail == f"asked for {'an' if problem == 'amount' else 'a'} {problem}, the answer gives none"
        )


@pytest.mark.parametrize(
    ("item", "answer", "spelled"),
    [
        ("Fill in the blank: Execution layer (____) nodes must validate every blob in their pool.", "EL", True),
        ("Fill in the blank: Data availability sampling (____) spreads blobs over many nodes.", "DAS", True),
        # near misses: a value in parentheses; an acronym whose words come after it
        ("Fill in the blank: EL nodes verify `CELLS_PER_EXT_BLOB` (____) cell proofs per blob.", "128", False),
        ("Fill in the blank: ____ (EL) nodes must validate every blob in their pool.", "Execution layer", False),
    ],
)
def test_a_blanked_acronym_spelled_out_before_it_gives_its_answer_away(gate, item, answer, spelled):
    sentence = BLANK.sub(answer, item.removeprefix("Fill in the blank: "))
    pair = dataclasses.replace(GOOD, question=item, answer=answer, evidence=(sentence,), reasoning_steps=())
    reason, detail = only(gate(pair, question_type=TF_ITEM, context=(sentence,)))
    if spelled:
        assert reason == "tautology" and detail == "the blanked acronym is spelled out before it"
    else:
        assert reason != "tautology", detail


@pytest.mark.parametrize(
    ("question", "answer", "undefined"),
    [
        ("What is the blob base fee?", "The blob base fee will settle where a blob costs at least its compute.", True),
        ("What is the execution layer?", "Nodes of the execution layer verify every blob in their pool.", True),
        # its verb says what something else is: the thing comes after it
        ("What is silver halide crystals?", "Photographic film is covered in silver halide crystals.", True),
        ("What is the alpha channel?", "Each pixel is stored with an alpha channel beside its colour.", True),
        # near misses: the thing before a later verb; an inverted definition names it before "is" too; a colon
        ("What is the alpha channel?", "In a PNG, the alpha channel is how opaque each pixel is.", False),
        ("What are silver halide crystals?", "Film is coated, and these crystals are what light darkens.", False),
        ("What is the alpha channel?", "Per the PNG spec: the opacity stored beside each pixel.", False),
        # near misses: a definition; an opening "A ..."; a named thing; a purpose; a thing placed by "of"
        ("What is the reserve price?", "The reserve price is BLOB_BASE_COST times the execution base fee.", False),
        ("What is the reserve price?", "A floor under the blob base fee, set by BLOB_BASE_COST.", False),
        ("What is BLOB_BASE_COST?", "BLOB_BASE_COST sets the reserve price under the blob base fee.", False),
        ("What is the reserve price's purpose?", "The reserve price keeps the blob base fee responsive.", False),
        ("What is the floor of the blob base fee?", "Ethereum sets a reserve price under the blob base fee.", False),
    ],
)
def test_asked_what_a_bare_thing_is_an_answer_never_saying_what_it_is_is_off_target(gate, question, answer, undefined):
    pair = dataclasses.replace(GOOD, question=question, answer=answer, evidence=(answer,), reasoning_steps=())
    reason, detail = only(gate_over(gate, pair, (answer,)))
    if undefined:
        assert reason == "on_target" and detail.endswith("the answer never says what it is"), detail
    else:
        assert "never says what it is" not in detail, detail


@pytest.mark.parametrize(
    ("item", "answer", "given_away"),
    [
        (
            "Fill in the blank: we call [____](http://processing.org/reference/noLoop_.html) in setup.",
            "`noLoop()`",
            True,
        ),
        (
            "Fill in the blank: Processing stops drawing once ____ runs (https://processing.org/reference/noLoop_.html).",
            "noLoop",
            True,
        ),
        # near misses: an address that does not hold the term, a term too short to tell
        ("Fill in the blank: we call [____](http://processing.org/reference/) in setup.", "`noLoop()`", False),
        ("Fill in the blank: Processing reads images through its ____ functions (see http://io.org).", "IO", False),
    ],
)
def test_a_link_address_that_spells_out_the_blanked_term_gives_it_away(gate, item, answer, given_away):
    sentence = BLANK.sub(answer, item.removeprefix("Fill in the blank: "))
    pair = dataclasses.replace(GOOD, question=item, answer=answer, evidence=(sentence,), reasoning_steps=())
    reason, detail = only(gate(pair, question_type=TF_ITEM, context=(sentence,)))
    if given_away:
        assert reason == "tautology", detail  # the address spells the term out, as a link or a bare address
    else:
        assert "address" not in (detail or ""), detail

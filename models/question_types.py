"""The 15 question types of the specification, their difficulties and request specs.

Enum values are the exact strings written to output files (``"question_type"``),
and difficulties are the lowercase strings written beside them (``"difficulty"``).
Each type also declares what context a request for it carries, whether it fills
the train or the eval split (summaries go to eval), and how long its answers
should be, so the planner, the prompt builder and the gates never branch on type
names.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class QuestionType(str, Enum):
    FACTUAL_RECALL = "FACTUAL_RECALL"
    INFERENCE = "INFERENCE"
    MULTI_HOP_REASONING = "MULTI_HOP_REASONING"
    APPLICATION = "APPLICATION"
    COMPARATIVE_ANALYSIS = "COMPARATIVE_ANALYSIS"
    CAUSE_EFFECT = "CAUSE_EFFECT"
    SUMMARIZATION = "SUMMARIZATION"
    HYPOTHETICAL = "HYPOTHETICAL"
    CRITICAL_ANALYSIS = "CRITICAL_ANALYSIS"
    TECHNICAL_EXPLANATION = "TECHNICAL_EXPLANATION"
    PROCESS_WORKFLOW = "PROCESS_WORKFLOW"
    TRUE_FALSE_FILL_BLANK = "TRUE_FALSE_FILL_BLANK"
    CONTEXTUAL_AMBIGUITY = "CONTEXTUAL_AMBIGUITY"
    FACT_BASED = "FACT_BASED"
    SECTION_SUMMARY = "SECTION_SUMMARY"


class Difficulty(str, Enum):
    EASY = "easy"
    MEDIUM = "medium"
    HARD = "hard"


QUESTION_TYPE_DIFFICULTY: dict[QuestionType, Difficulty] = {
    QuestionType.FACTUAL_RECALL: Difficulty.EASY,
    QuestionType.INFERENCE: Difficulty.MEDIUM,
    QuestionType.MULTI_HOP_REASONING: Difficulty.HARD,
    QuestionType.APPLICATION: Difficulty.MEDIUM,
    QuestionType.COMPARATIVE_ANALYSIS: Difficulty.MEDIUM,
    QuestionType.CAUSE_EFFECT: Difficulty.MEDIUM,
    QuestionType.SUMMARIZATION: Difficulty.EASY,
    QuestionType.HYPOTHETICAL: Difficulty.HARD,
    QuestionType.CRITICAL_ANALYSIS: Difficulty.HARD,
    QuestionType.TECHNICAL_EXPLANATION: Difficulty.MEDIUM,
    QuestionType.PROCESS_WORKFLOW: Difficulty.EASY,
    QuestionType.TRUE_FALSE_FILL_BLANK: Difficulty.EASY,
    QuestionType.CONTEXTUAL_AMBIGUITY: Difficulty.HARD,
    QuestionType.FACT_BASED: Difficulty.EASY,
    QuestionType.SECTION_SUMMARY: Difficulty.MEDIUM,
}


class ContextKind(str, Enum):
    """What a request for a question type carries besides the system prompt."""

    SECTION = "section"  # the section alone
    SECTION_WITH_RELATED = "section_with_related"  # the section plus its related sections
    SECTION_PAIR = "section_pair"  # the section and its most similar related section
    FACTS = "facts"  # a group of facts plus the section they came from


class Split(str, Enum):
    TRAIN = "train"
    EVAL = "eval"


@dataclass(frozen=True)
class AnswerBudget:
    """How long an answer of a type should be: stated in the prompt, bounded in the schema, checked by the form gate.

    ``min_words`` is the shortest answer kept ("Ride." answers "Which company ...?";
    a one-line reply to "Explain how ..." is a fragment); ``max_chars`` bounds the
    schema's string, so a model looping inside the answer is closed early and cheaply.
    """

    min_words: int
    max_chars: int
    length: str  # the budget in words a model follows, e.g. "one to three sentences"


FACT = AnswerBudget(min_words=1, max_chars=400, length="one to three sentences")
SHORT = AnswerBudget(min_words=8, max_chars=700, length="two to four sentences")
EXPLAIN = AnswerBudget(min_words=15, max_chars=1000, length="three to six sentences")
SUMMARY = AnswerBudget(min_words=30, max_chars=1200, length="one or two paragraphs")


@dataclass(frozen=True)
class PairForm:
    """The form of a type's question and answer, as the reply schema describes each field to the model
    (``models/schemas.py``) and ``utilities/type_forms.py`` checks it."""

    question: str = "one self-contained question about what the evidence says, naming its subject"
    answer: str = "the answer"  # the answer field's lead: "<answer> in <length>, using only what the evidence says"
    # Whether the reply has reasoning steps. A recall question's steps restate its evidence and
    # answer (a third of its characters on the 1.5B's labelled pairs), so it goes without them. A
    # true-or-false item keeps them: without, the 1.5B answered four true statements of its
    # source False in one run of the sample's 18 items.
    reasoning: bool = True
    # The reply names a source sentence and a term of it, and the item is built from them: the sentence
    # with the term blanked, answered with the term (``utilities/type_forms.py`` ``cloze_item``), so its
    # form and its answer hold by construction. ``question`` and ``answer`` then describe the result.
    cloze: bool = False
    # Pairs a request asks for per QUESTIONS_PER_REQUEST. A cloze item is a term and a sentence number
    # (about 15 completion tokens against 60 to 100 for a recall pair), so its request asks for more.
    pairs_per_question: int = 1


OPEN_QUESTION = PairForm()
RECALL = PairForm(reasoning=False)
FORMS = {
    QuestionType.FACTUAL_RECALL: RECALL,
    QuestionType.FACT_BASED: RECALL,
    QuestionType.TRUE_FALSE_FILL_BLANK: PairForm(
        question="a source sentence with its key term replaced by ____",
        answer="the missing term",
        reasoning=False,
        cloze=True,
        pairs_per_question=2,
    ),
    QuestionType.COMPARATIVE_ANALYSIS: PairForm(
        question="one self-contained question comparing two or more things of the sources, naming each of them",
        answer="the answer, saying something about each thing compared,",
    ),
    QuestionType.PROCESS_WORKFLOW: PairForm(answer="the steps in order, numbered 1., 2., 3.,"),
    QuestionType.MULTI_HOP_REASONING: PairForm(
        answer="the answer, combining a statement of the section with a statement of the related section,"
    ),
}


# Types whose pair is about one statement of the section: a long section gets one request per run of
# SENTENCES_PER_REQUEST sentences, each asking about its own run (utilities/planner.py), so the pairs
# cover the section instead of its first facts, and the requests share the section as a cached prefix.
FOCUSED = frozenset({QuestionType.FACTUAL_RECALL, QuestionType.TRUE_FALSE_FILL_BLANK})


@dataclass(frozen=True)
class QuestionTypeSpec:
    question_type: QuestionType
    difficulty: Difficulty
    context: ContextKind
    split: Split
    description: str
    answer: AnswerBudget
    form: PairForm = OPEN_QUESTION
    focused: bool = False  # one request per run of the section's sentences (FOCUSED)


_SPEC_ROWS: list[tuple[QuestionType, ContextKind, str, AnswerBudget]] = [
    (QuestionType.FACTUAL_RECALL, ContextKind.SECTION, "Direct information retrieval", FACT),
    (QuestionType.INFERENCE, ContextKind.SECTION, "Logical reasoning from text", SHORT),
    (QuestionType.MULTI_HOP_REASONING, ContextKind.SECTION_PAIR, "Combining information across sections", SHORT),
    (QuestionType.APPLICATION, ContextKind.SECTION_WITH_RELATED, "Scenario-based practical application", EXPLAIN),
    (QuestionType.COMPARATIVE_ANALYSIS, ContextKind.SECTION_PAIR, "Comparing concepts or approaches", EXPLAIN),
    (QuestionType.CAUSE_EFFECT, ContextKind.SECTION, "Understanding causal relationships", SHORT),
    (QuestionType.SUMMARIZATION, ContextKind.SECTION, "Concise content summarization", SHORT),
    (QuestionType.HYPOTHETICAL, ContextKind.SECTION_WITH_RELATED, "What-if scenario extensions", SHORT),
    (QuestionType.CRITICAL_ANALYSIS, ContextKind.SECTION_WITH_RELATED, "Evaluating strengths and weaknesses", EXPLAIN),
    (QuestionType.TECHNICAL_EXPLANATION, ContextKind.SECTION_WITH_RELATED, "Simplifying complex concepts", EXPLAIN),
    (QuestionType.PROCESS_WORKFLOW, ContextKind.SECTION, "Sequential process understanding", EXPLAIN),
    (QuestionType.TRUE_FALSE_FILL_BLANK, ContextKind.SECTION, "Basic recall testing", FACT),
    (QuestionType.CONTEXTUAL_AMBIGUITY, ContextKind.SECTION_WITH_RELATED, "Context-dependent interpretation", SHORT),
    (QuestionType.FACT_BASED, ContextKind.FACTS, "Individual fact-based questions", FACT),
    (QuestionType.SECTION_SUMMARY, ContextKind.SECTION, "Comprehensive section summaries", SUMMARY),
]

QUESTION_TYPE_SPECS: dict[QuestionType, QuestionTypeSpec] = {
    qt: QuestionTypeSpec(
        question_type=qt,
        difficulty=QUESTION_TYPE_DIFFICULTY[qt],
        context=context,
        # The specification: section summaries are the evaluation set, the rest trains.
        split=Split.EVAL if qt is QuestionType.SECTION_SUMMARY else Split.TRAIN,
        description=description,
        answer=answer,
        form=FORMS.get(qt, OPEN_QUESTION),
        focused=qt in FOCUSED,
    )
    for qt, context, description, answer in _SPEC_ROWS
}


def parse_question_types(value: str) -> list[QuestionType]:
    """Parse a comma-separated list of type names; empty or ``all`` means every type.

    >>> [t.value for t in parse_question_types("fact_based, SECTION_SUMMARY")]
    ['FACT_BASED', 'SECTION_SUMMARY']
    """
    names = [part.strip().upper() for part in value.split(",") if part.strip()]
    if not names or names == ["ALL"]:
        return list(QuestionType)
    chosen: list[QuestionType] = []
    for name in names:
        try:
            qt = QuestionType[name]
        except KeyError:
            raise ValueError(f"unknown question type {name!r}") from None
        if qt not in chosen:
            chosen.append(qt)
    return chosen

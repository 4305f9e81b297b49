"""Each question type's form, checked without a model: the ``type_form`` gate (utilities/quality.py).

A type's prompt (``prompts/<TYPE>.md``) states the form of its question and answer;
``type_form_reason`` rejects a pair whose form does not match, for the types whose
form shows in their words:

- TRUE_FALSE_FILL_BLANK: a statement to judge ("True or false: ...") answered True
  or False with its reason, or a sentence with a blank (``____``) answered with the
  missing term (the generator builds the latter, ``cloze_item``; a curated record may
  hold either). An open question is neither, and a statement to judge that is a
  question ("True or false: How much ...?") or holds a blank is two forms in one.
- COMPARATIVE_ANALYSIS: the question asks for a comparison (compare, differ,
  versus, ...) of two or more things it names ("X and Y", "X or Y", "X vs Y", "X
  than Y"), and the answer names something of each side.
- PROCESS_WORKFLOW: the answer gives ordered steps: numbered ("1.", "Step 2") or
  two or more sequence words ("first", "then", "next", "finally", ...).
- FACTUAL_RECALL, FACT_BASED: the question asks for one fact, not how two things
  relate ("how does X affect Y"); asked for "the relationship between X and Y",
  the answer names something of each.
- MULTI_HOP_REASONING: the cited evidence holds a sentence of the section and one
  of its related section (checked in the gate, which knows where each quote is).
- CAUSE_EFFECT: the question or answer states a cause or an effect ("why",
  "because", "leads to", "results in", ...).
- HYPOTHETICAL: the question poses a supposition ("what if", "suppose", "would",
  "if ... were").
- CRITICAL_ANALYSIS: the question or answer weighs strengths and weaknesses
  (advantage, drawback, limitation, trade-off, risk, ...).

Not checked, because their form cannot be told from their words: INFERENCE (a
conclusion not stated outright: telling it from a look-up needs meaning),
APPLICATION, TECHNICAL_EXPLANATION, CONTEXTUAL_AMBIGUITY, SUMMARIZATION and
SECTION_SUMMARY (their length is the ``form`` gate's answer minimum).
"""

from __future__ import annotations

import re

from models.question_types import QuestionType
from models.schemas import MAX_TERM_CHARS
from utilities.text_checks import BLANK, content_stems, normalize

_TRUE_FALSE_QUESTION = re.compile(r"^(?:true or false|is it true|true/false)\b|\btrue or false\??$")
_TRUE_FALSE_ANSWER = re.compile(r"^\W*(?:true|false)\b")
_COMPARISON = re.compile(
    r"\b(?:compar\w*|contrast\w*|differ\w*|distinguish\w*|versus|vs\.?|similar\w*|unlike|alike|same as|"
    r"than|prefer\w*|trade-?offs?|better|worse|relat\w+ to|relationship between|between)\b"
)
# What joins the two things compared: "X and Y", "X or Y", "X vs Y", "X than Y", "X from Y", "X with Y", "X to Y".
_SIDES = re.compile(r"\b(?:and|or|vs\.?|versus|than|from|with|to)\b")
_COMPARISON_WORDS = frozenset(
    content_stems(
        "compare compared comparing comparison contrast contrasting differ differs different difference differences "
        "distinguish similar similarity similarities unlike alike versus prefer preferable better worse tradeoff "
        "relate related relationship between each other both how does do did what which when why"
    )
)
_STEP_NUMBER = re.compile(r"(?:^|\n)\s*(?:\d{1,2}[.)]|[-*]\s+\*{0,2}step\b)|\bstep\s+\d+\b|\(\d\)", re.IGNORECASE)
_SEQUENCE = re.compile(
    r"\b(?:first(?:ly)?|second(?:ly)?|third|then|next|after(?:wards?)?|finally|lastly|before|once|"
    r"subsequently|followed by|begin(?:s|ning)? (?:by|with)|start(?:s|ing)? (?:by|with))\b"
)
_CAUSAL = re.compile(
    r"\b(?:why|because|cause[sd]?|causing|effects?|affects?|results? in|resulting|leads? to|led to|"
    r"consequences?|due to|so that|therefore|thus|hence|impacts?|since|reason|as a result|in order to|"
    r"prevents?|makes?|allows?|enables?|ensures?)\b"
)
_SUPPOSITION = re.compile(
    r"\b(?:what if|suppose|supposing|imagine|hypothetical\w*|would|were to|had|if|in case|assuming|could)\b"
)
_CRITICAL = re.compile(
    r"\b(?:strengths?|weakness\w*|advantages?|disadvantages?|drawbacks?|limitations?|limits?|trade-?offs?|"
    r"benefits?|risks?|costs?|downsides?|upsides?|pros?|cons|evaluate|assess\w*|critique|critical\w*|"
    r"effective\w*|shortcomings?|concerns?|problems?|issues?|justif\w+|merits?|flaws?|weigh\w*)\b"
)


MIN_BLANK_SENTENCE_WORDS = 3  # words around a blank, its sentence's: "True or false: ____?" gives nothing to fill
# the label that opens an item: "True or false:", "Fill in the blank:" (the gates build on it too)
ITEM_LABEL = r"^\W*(?:true or false|true/false|fill[- ]in[- ]the[- ]blanks?(?: sentence)?)"
_ITEM_LABEL = re.compile(ITEM_LABEL + r"\W*", re.I)


def _blank_context(question: str, blank: re.Match[str]) -> int:
    """Words of the sentence that holds the question's ``blank``, its item label ("Fill in the blank:") aside."""
    start = max(question.rfind(end, 0, blank.start()) for end in ("? ", ". ", "! ", ": "))
    start = 0 if start < 0 or _ITEM_LABEL.fullmatch(question[: start + 2]) else start + 2
    end = min((i for i in (question.find(e, blank.end()) for e in ("? ", ". ", "! ")) if i >= 0), default=len(question))
    return len(re.findall(r"\w+", BLANK.sub(" ", _ITEM_LABEL.sub("", question[start:end]))))


def verdict(question: str, answer: str) -> str | None:
    """The verdict of a true-or-false statement's answer, "True" or "False"; None for any other pair.

    >>> verdict("True or false: fees fall?", "**False**: they rise."), verdict("What falls?", "True fees.")
    ('False', None)
    """
    found = _TRUE_FALSE_ANSWER.search(normalize(answer))
    if found is None or not _states_true_or_false(normalize(question)):
        return None
    return found.group(0).strip(" *_`'\"").capitalize()


_WH_WORD = re.compile(r"^(?:how|what|why|which|who|whom|whose)\b")  # not "when": "When X, Y" states a rule
_STATEMENT_LABEL = re.compile(r"^\W*(?:true or false|true/false)\W*|^\W*is it true that\s+|\W*true or false\W*$", re.I)


def judged_statement(question: str) -> str | None:
    """The statement a true-or-false item asks to judge, its label removed; None for any other question.

    >>> judged_statement("True or false: fees fall when demand falls?"), judged_statement("Why do fees fall?")
    ('fees fall when demand falls', None)
    """
    if not _states_true_or_false(normalize(question)):
        return None
    return _STATEMENT_LABEL.sub("", question.strip()).strip(" ?.") or None


def _states_true_or_false(q: str) -> bool:
    """The normalized question ``q`` is a statement to judge: "True or false: ...", "... True or false?"."""
    return bool(_TRUE_FALSE_QUESTION.search(q.rstrip(" ?.:")) or _TRUE_FALSE_QUESTION.search(q))


CLOZE_LABEL = "Fill in the blank: "
# A kept item's source after its label: 'Fill in the blank (from "More About Cargo", section "Workspaces"): ...'
_ITEM_SOURCE = re.compile(ITEM_LABEL + r"(?P<source>\s+\(from\s(?:[^()]|\([^()]*\))*\))(?=\s*:)", re.I)


def with_source(question: str, sources: tuple[str, ...], term: str = "") -> str:
    """The item ``question`` with the first of ``sources`` (``naming.item_source``) that does not give its blank
    away named after its label, so that "Save the ____ we have made." or "Organize large projects with ____."
    says what it is about. Unchanged for an open question, an item whose label does not open it, and an item
    every source would give away: its blank's ``term`` is a whole word or phrase of each.

    >>> sources = ('from "More About Cargo", section "Release Profiles"', 'from "More About Cargo"')
    >>> with_source("Fill in the blank: Organize large projects with ____.", sources, "workspaces")
    'Fill in the blank (from "More About Cargo", section "Release Profiles"): Organize large projects with ____.'
    >>> with_source("Fill in the blank: Customize your build through ____.", sources, "release profiles")
    'Fill in the blank (from "More About Cargo"): Customize your build through ____.'
    >>> with_source("Fill in the blank: Extend ____ using custom commands.", sources, "Cargo")
    'Fill in the blank: Extend ____ using custom commands.'
    """
    label = re.match(ITEM_LABEL + r"(?=\s*:)", question, re.I)
    if label is None or _ITEM_SOURCE.match(question):
        return question
    words = re.findall(r"\w+", term.lower()) if BLANK.search(question) else []
    gives_away = re.compile(r"(?<!\w)" + r"\W+".join(words) + r"(?!\w)") if words else None
    source = next((s for s in sources if gives_away is None or not gives_away.search(s.lower())), None)
    if source is None:
        return question
    return f"{question[: label.end()]} ({source}){question[label.end() :]}"


def without_source(question: str) -> str:
    """The item as the gates judge it: ``question`` without the source ``with_source`` named.

    >>> without_source('True or false (from EIP-7918, section "Fees (gas)"): Fees fall.')
    'True or false: Fees fall.'
    """
    found = _ITEM_SOURCE.match(question)
    return question if found is None else question[: found.start("source")] + question[found.end("source") :]


# A connective that only ties the sentence to the one before ("Specifically, when ..."): left out of an item
_CONNECTIVE = re.compile(
    r"^(?:specifically|likewise|similarly|in particular|in essence|moreover|furthermore|additionally|also|notably|"
    r"indeed|in other words|in practice),\s+(\w)",
    re.IGNORECASE,
)


def without_connective(sentence: str) -> str:
    """The sentence without a leading connective that only ties it to the one before.

    >>> without_connective("Specifically, when the reserve price binds, fees rise.")
    'When the reserve price binds, fees rise.'
    """
    return _CONNECTIVE.sub(lambda m: m.group(1).upper(), sentence, count=1)


def _whole_word(term: str) -> str:
    """A pattern for ``term`` as whole words: not inside a longer word at an end that is a letter or digit."""
    left, right = (r"(?<!\w)" if term[:1].isalnum() else ""), (r"(?!\w)" if term[-1:].isalnum() else "")
    return left + re.escape(term) + right


def cloze_item(sentence: str, term: str) -> tuple[str, str]:
    """A fill-in-the-blank item built from a source sentence and the term a reply chose to blank.

    The term's first whole occurrence (case aside; with the backticks of a code span around it) becomes
    ``____`` and is the answer, as the sentence writes it. A term the sentence lacks leaves an item with no
    blank, which the ``type_form`` gate rejects.

    >>> cloze_item("This EIP assigns a reserve price `BLOB_BASE_COST` to blobs.", "blob_base_cost")
    ('Fill in the blank: This EIP assigns a reserve price ____ to blobs.', '`BLOB_BASE_COST`')
    >>> cloze_item("Fees rise.", "fall")
    ('Fill in the blank: Fees rise.', 'fall')
    """
    sentence = without_connective(sentence)
    term = term.strip().strip("`").strip()
    found = re.search(rf"`{re.escape(term)}`|{_whole_word(term)}", sentence, re.IGNORECASE) if term else None
    if found is None:
        return CLOZE_LABEL + sentence, term
    return CLOZE_LABEL + sentence[: found.start()] + "____" + sentence[found.end() :], found.group(0)


MAX_TERM_WORDS = 4  # a key term is a name, value, identifier or short phrase: "L1 execution costs"
_TERM_TOKEN = re.compile(r"`[^`\n]+`|[\w$%][\w$%.'’/-]*[\w$%]|[\w$%]")
# An HTML character reference ("&mdash;", "&#8212;"), which markdown keeps as written: markup, not a word a term may
# hold ("Color&mdash" blanked leaves "____;the cool whites of winter ...")
_CHAR_REFERENCE = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")


def cloze_terms(sentence: str) -> tuple[str, ...]:
    """The phrases of ``sentence`` a fill-in-the-blank item may blank: a code span, or one to ``MAX_TERM_WORDS``
    words that neither begin nor end on a tie word ("of", "by", "is": ``_term_edge``) or a common word ("the",
    "also"), hold a letter or digit, and occur once in the sentence (blanked, the term is gone from the item).
    The reply schema offers them as the term's values, so the model's term is one its sentence holds.

    >>> cloze_terms("The `blobSchedule` sets the target of blobs, once.")
    ('`blobSchedule`', 'blobSchedule', 'sets', 'target', 'blobs', 'once', 'target of blobs')
    """
    words = _CHAR_REFERENCE.sub(lambda m: " " * len(m.group(0)), sentence)  # offsets kept
    tokens = [(m.group(0), m.start(), m.end()) for m in _TERM_TOKEN.finditer(words)]
    found: list[str] = []
    for i in range(len(tokens)):
        for j in range(i, min(i + MAX_TERM_WORDS, len(tokens))):
            first, last = tokens[i][0], tokens[j][0]
            if i == j and _placeholder(first):
                continue
            if i == j and first.startswith("`"):
                found.extend((first, first.strip("`")))
                continue
            inner = [t.lower() for t, _, _ in tokens[i + 1 : j]]
            text = sentence[tokens[i][1] : tokens[j][2]]
            if any(t.startswith("`") for t, _, _ in tokens[i : j + 1]) or re.search(r"[,;:()\[\]&]", text):
                continue
            if _common(first) or _common(last) or any(_common(t) and t not in _INNER_TIES for t in inner):
                continue
            if _joined(sentence, tokens[i][1], tokens[j][2], text):
                continue
            found.append(text)
    once = [t for t in dict.fromkeys(found) if len(t) <= MAX_TERM_CHARS and _said_once(t, sentence)]
    return tuple(sorted(once, key=lambda t: (len(t.split()), found.index(t))))


_INNER_TIES = frozenset({"of", "per", "and", "for", "to"})  # inside a term: "costs of blob consumers"
_COMMON = frozenset({
    "the", "a", "an", "this", "these", "those", "its", "their", "also", "not", "no", "it", "they", "there", "here",
    # a pronoun stands for a thing its sentence or the one before names: never the term ("pickles ____" of "them")
    "them", "we", "us", "our", "you", "your", "he", "him", "his", "she", "her", "i", "me", "my",
    "then", "so", "such", "any", "all", "each", "some", "more", "most", "very", "however", "thus", "therefore",
    "when", "if", "while", "where", "whenever", "what", "how", "why",
    # how often, and more or less than something: a sentence's degree, never a term a learner recalls ("(____ at
    # the pharmacy)" answered "often", "the ____ the resolution" answered "higher")
    "often", "always", "never", "sometimes", "usually", "rarely", "seldom", "typically", "generally", "frequently",
    "normally", "higher", "lower", "faster", "slower", "larger", "smaller", "bigger", "better", "worse", "greater",
    "fewer", "less", "longer", "shorter", "easier", "harder", "earlier", "later",
})  # fmt: skip


# A one-letter name: the commits `A`, `M'` and `X` of an example's history, "the B project", $b$. An example's
# placeholder, which a learner cannot recall as a fact of the source; a digit is a value ("`opt-level` ____" `0`).
_PLACEHOLDER = re.compile(r"[`'\"$*_]*[A-Za-z]['’]?[`'\"$*_]*\.?")


def _placeholder(term: str) -> bool:
    return bool(_PLACEHOLDER.fullmatch(term.strip()))


def _common(word: str) -> bool:
    w = word.lower().strip("`")
    return w in TIE_WORDS or w in _COMMON or not re.search(r"[a-z0-9]", w)


def _joined(text: str, start: int, end: int, term: str) -> bool:
    """Whether ``text[start:end]``, which holds ``term`` or its blank, is joined to the rest of one token: by a
    hyphen ("first-____ auction"), a "#" before it ("#____" of "#1"), git's "^" or "~" after it ("____^" of
    "master^", "HEAD~2"), or a prime after a term that ends on a digit ("____' commit" of "#1'"; a quote that closes
    one opened before it is no prime: "'make ____' test" of "make CC=gcc-2.95").

    >>> _joined("diff between master^ and #1", 0, 19, "diff between master"), _joined("'master' head", 1, 7, "master")
    (True, False)
    """
    before, after = text[start - 1 : start] if start else "", text[end : end + 1]
    if before in ("-", "#") or after in ("-", "^", "~"):
        return True
    opened = text[:start].count(after) + (text[:start].count("‘") if after == "’" else 0)
    return after in ("'", "’") and term.rstrip("`")[-1:].isdigit() and opened % 2 == 0


def _said_once(term: str, sentence: str) -> bool:
    return len(re.findall(_whole_word(term.strip("`")), sentence, re.IGNORECASE)) == 1


def cloze_from(term: str, cited: str, shown: tuple[str, ...]) -> tuple[str, str, str]:
    """(item, answer, sentence): the item built from the cited sentence when it holds the term, else from the
    first of ``shown`` (the sentences its request offered) that does (the 1.5B often cites a sentence beside
    the one its term is from), else the cited sentence, with no blank."""
    for sentence in (cited, *shown):
        item, answer = cloze_item(sentence, term)
        if BLANK.search(item):
            return item, answer, sentence
    return (*cloze_item(cited, term), cited)


# Words that tie a phrase into its sentence: a blanked term that begins or ends on one ("verification performed
# by", "of blobs") is a piece of the sentence, and the item left without it does not read.
TIE_WORDS = frozenset({
    "of", "by", "to", "in", "on", "at", "for", "from", "with", "into", "via", "per", "and", "or", "but", "nor", "as",
    "than", "that", "which", "whose", "who", "is", "are", "was", "were", "be", "been", "has", "have", "had", "will",
    "would", "can", "could", "should", "may", "might", "must",
})  # fmt: skip


def _term_edge(term: str) -> str | None:
    """Why the blanked ``term`` is no term, or None.

    >>> _term_edge("point evaluation proof verification performed by"), _term_edge("the reserve price")
    ("a blanked term that ends on 'by' is a piece of its sentence, not a term", None)
    """
    words = re.findall(r"[\w'-]+", term.lower())
    if not words:
        return None
    for where, word in (("begins", words[0]), ("ends", words[-1])):
        if word in TIE_WORDS or (where == "ends" and word in ("the", "a", "an")):
            return f"a blanked term that {where} on {word!r} is a piece of its sentence, not a term"
    return None


# "____ the first phase of the roadmap." (term "EIP-4844 introduced"): a sentence's subject comes before its verb,
# so a blank that opens the item with an article or pronoun right after it took the verb along with the subject
_ARTICLE_NEXT = re.compile(r"\s+(?:the|a|an|it|its|this|these|their)\b", re.I)
# a blank in a link's target or a bare address: "[Processing](https://____/)", "https://____.org"
_IN_ADDRESS = re.compile(r"\]\([^)\s]*_{2,}[^)\s]*\)|\b(?:https?|ftp)://\S*_{2,}")


def _cuts_char_reference(question: str, blank: re.Match[str], answer: str) -> bool:
    """The filled blank holds part of an HTML character reference of its sentence, not the whole of one."""
    filled = question[: blank.start()] + answer + question[blank.end() :]
    end = blank.start() + len(answer)
    return any(
        r.start() < end and r.end() > blank.start() and not (blank.start() <= r.start() and r.end() <= end)
        for r in _CHAR_REFERENCE.finditer(filled)
    )


def _true_false_fill_blank(question: str, answer: str) -> str | None:
    q, a = normalize(question), normalize(answer)
    blank = BLANK.search(question)
    if blank and _blank_context(question, blank) < MIN_BLANK_SENTENCE_WORDS:
        return "a blank with no sentence around it to fill"
    statement = judged_statement(question)
    if statement is not None and (blank or _WH_WORD.match(normalize(statement))):
        return "a true-or-false item whose statement is a question or has a blank: two forms in one"
    if blank and question.rstrip().endswith(":"):
        return "a fill-in-the-blank sentence that stops at the colon before what it introduces"
    if blank and _IN_ADDRESS.search(question):
        return "a blank inside a link's address: the term is part of a URL"
    if blank and _joined(question, blank.start(), blank.end(), answer):
        return "a blank joined to the rest of its token ('first-____ auction', '____^' of 'master^'): half of one word"
    opens_item = blank and question[: blank.start()].strip().lower() in ("", CLOZE_LABEL.strip().lower())
    if opens_item and _ARTICLE_NEXT.match(question, blank.end()):
        return "a blank that opens the sentence before an article holds its subject and its verb, not a term"
    if blank and _cuts_char_reference(question, blank, answer):
        return "a blank that cuts through an HTML character reference ('Color&mdash' of 'Color&mdash;the')"
    if blank and re.search(r"\[\^[^\]]+\]", question):
        return "a fill-in-the-blank item that carries a footnote's markup ('[^note]:')"
    if blank and _placeholder(answer):
        return (
            f"a blanked one-letter name ({answer.strip()!r}) is an example's placeholder, not a term a learner recalls"
        )
    if blank and len(words := answer.split()) == 1 and _common(words[0]):
        return f"a blanked {words[0]!r} is a word of the sentence's grammar or degree, not a term"
    if blank:
        return "a fill-in-the-blank answer that still has a blank" if BLANK.search(answer) else _term_edge(answer)
    if _states_true_or_false(q):
        return None if _TRUE_FALSE_ANSWER.search(a) else "a true-or-false statement not answered True or False"
    return "neither a true-or-false statement nor a sentence with a blank (____)"


def comparison_sides(question: str) -> tuple[set[str], set[str]] | None:
    """The content words of the two things a comparative question names, or None when it names no two.

    >>> sorted(map(sorted, comparison_sides("How does the dev profile differ from the release profile?")))
    [['dev', 'profil'], ['profil', 'releas']]
    """
    q = normalize(question)
    for match in _SIDES.finditer(q):
        left = content_stems(q[: match.start()]) - _COMPARISON_WORDS
        right = content_stems(q[match.end() :]) - _COMPARISON_WORDS
        if left and right and left != right:
            return left, right
    return None


def _comparative(question: str, answer: str) -> str | None:
    if not _COMPARISON.search(normalize(question)):
        return "the question asks for no comparison (compare, differ, versus, ...)"
    sides = comparison_sides(question)
    if sides is None:
        return "the question does not name two things to compare"
    return "the answer does not address both things compared" if _leaves_a_side_out(sides, answer) else None


def _leaves_a_side_out(sides: tuple[set[str], set[str]], answer: str) -> bool:
    """The answer names nothing of one of ``sides``: none of its own words (those the other side lacks), or
    of its words at all when it has none of its own."""
    said, shared = content_stems(answer), sides[0] & sides[1]
    return any(not ((side - shared) or side) & said for side in sides)


_HOW_RELATED = re.compile(r"\bhow (?:does|do|did|would|will|can) .+? (?:affect|relate|impact|influence|compare)")


def _recall(question: str, answer: str) -> str | None:
    """A recall question asks for one fact. "How does X affect Y?" asks how two things relate, and the 1.5B
    answered each such FACTUAL_RECALL question of the labelled sets with one side only; "the relationship
    between X and Y" is a fact (a ratio, a dependence) when the answer speaks of both."""
    q = normalize(question)
    if _HOW_RELATED.search(q):
        return "a recall question asking how two things relate, not for one fact"
    sides = comparison_sides(question) if "relationship between" in q else None
    if sides is not None and _leaves_a_side_out(sides, answer):
        return "a question on the relationship between two things whose answer leaves one out"
    return None


def _process(question: str, answer: str) -> str | None:
    if _STEP_NUMBER.search(answer) or len(_SEQUENCE.findall(normalize(answer))) >= 2:
        return None
    return "the answer gives no ordered steps (numbered, or first/then/next/finally)"


def _cause_effect(question: str, answer: str) -> str | None:
    if _CAUSAL.search(normalize(question)) or _CAUSAL.search(normalize(answer)):
        return None
    return "neither the question nor the answer states a cause or an effect"


def _hypothetical(question: str, answer: str) -> str | None:
    return (
        None if _SUPPOSITION.search(normalize(question)) else "the question poses no supposition (if, suppose, would)"
    )


def _critical(question: str, answer: str) -> str | None:
    if _CRITICAL.search(normalize(question)) or _CRITICAL.search(normalize(answer)):
        return None
    return "the pair weighs no strength, weakness, trade-off or risk"


FORM_CHECKS = {
    QuestionType.FACTUAL_RECALL: _recall,
    QuestionType.FACT_BASED: _recall,
    QuestionType.TRUE_FALSE_FILL_BLANK: _true_false_fill_blank,
    QuestionType.COMPARATIVE_ANALYSIS: _comparative,
    QuestionType.PROCESS_WORKFLOW: _process,
    QuestionType.CAUSE_EFFECT: _cause_effect,
    QuestionType.HYPOTHETICAL: _hypothetical,
    QuestionType.CRITICAL_ANALYSIS: _critical,
}


def type_form_reason(question_type: QuestionType, question: str, answer: str) -> str | None:
    """Why a pair is not of its type's form, or None (also for the types whose form is not checked)."""
    check = FORM_CHECKS.get(question_type)
    return check(question, answer) if check else None

"""Pure text checks on one generated answer: is it a sampling accident?

A small model sometimes loops inside the answer string, restates its question,
slips into another script, or leaks the reply's JSON into the text. These are
accidents of sampling, not of the request: ``sampling_accident`` names one, so
the caller can re-send the request with a new seed, and the ``degenerate`` gate
rejects what is left. Also the matching helpers every gate shares (``normalize``,
``content_words``, ``stem``).

Deliberately no model and no imports from the pipeline: these functions take
strings and return strings, so generation and the gates can both use them.

Repetition adapts the Gopher rules (Rae et al. 2021, appendix A; HF datatrove's
``GopherRepetitionFilter``) to answers of one to six sentences. Gopher measures
documents: its top-n-gram rule (2-gram 20%, 3-gram 18%, 4-gram 16% of the
characters) counts the most frequent n-gram even when it occurs once, which
flags any answer of a few words, and a legitimate answer may repeat
"``cargo build``" or "the blob base fee". So code (fenced blocks, code spans,
code-like lines) is left out of the count, since code legitimately repeats its
clauses; the thresholds are set above the highest share any paragraph of the
three shared documents reaches (see ``TOP_NGRAM_FRACTIONS``), and a verbatim
repeated sentence of five words or more is a loop. tests/test_text_checks.py
runs the checks over every paragraph of those documents: none is flagged.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from difflib import SequenceMatcher

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

_TRANSLATE = str.maketrans(
    {"‘": "'", "’": "'", "‚": "'", "‛": "'", "“": '"', "”": '"', "„": '"', "–": "-", "—": "-", "−": "-", "\u00a0": " "}
)
_EMPHASIS = re.compile(r"\*\*|__|(?<!\w)[*_](?=\w)|(?<=\w)[*_](?!\w)|`")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[a-z0-9][a-z0-9_'-]*[a-z0-9]|[a-z0-9]")
BLANK = re.compile(r"(?<![\w`])_{2,}(?![\w`])")  # the blank of a fill-in-the-blank sentence, not `__init__`
_VERDICT = re.compile(r"\W*(?:true|false)\W*", re.IGNORECASE)
MAX_TERM_WORDS = 6  # a term that fills a blank; a longer answer is a sentence and must end like one
_ENDS_SENTENCE = re.compile(r"""[.!?:;)\]"'`>*]\s*$""")
# An ending that leaves its sentence open: a colon with nothing after it ("EIP-7918 jointly ensures that:"), or a last
# word that only ties on what should follow ("... documentation comments that *!", "... at the...")
_DANGLING_END = re.compile(r"""(?:(?<![`\w])(?:the|a|an|and|or|of|that|which|whose)[^\w`]*|:\s*)$""", re.IGNORECASE)
_CODE = re.compile(r"```.*?(?:```|$)|`[^`\n]*`|<!--.*?-->", re.DOTALL)
# Code outside backticks: an indented line, a line ending in ; { or }, an assignment line, an HTML tag.
_CODE_LINE = re.compile(r"^(?: {4,}|\t).*$|^.*[;{}]\s*$|^\s*[\w.\[\]]+\s*[-+*/]?=\s.*$|<[^>\n]+>", re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_PROSE_WORD = re.compile(r"\w+")

# Gopher's thresholds (datatrove: 2-gram 0.20, 3-gram 0.18, 4-gram 0.16; duplicated 5..10-grams
# 0.15 down to 0.10) flag paragraphs of the shared documents, whose highest shares are: top
# 2-gram 0.33 (3 times; 0.23 at 4 times), 3-gram 0.21, 4-gram 0.20; duplicated 5-gram 0.13,
# 6-gram 0.15, 7-gram 0.16 (parallel list items), 10-gram 0.10. Hence: the top n-gram counts
# from four occurrences at 1.5 times Gopher's share, duplicated runs at Gopher's share + 0.10.
# A loop repeats a clause verbatim and reaches 0.4 and more.
TOP_NGRAM_FRACTIONS = ((2, 0.30), (3, 0.27), (4, 0.24))
TOP_NGRAM_MIN_COUNT = 4
DUP_NGRAM_FRACTIONS = ((5, 0.25), (6, 0.24), (7, 0.23), (8, 0.22), (9, 0.21), (10, 0.20))
MIN_REPEATED_SENTENCE_WORDS = 5  # "Run it." twice is fine; a repeated five-word sentence may be a loop
DUP_SENTENCE_FRACTION = 0.2  # ... when its repeats make this share of the text (Gopher: 0.2 for lines;
# the EIP's figure captions repeat two sentences, 14% of a section)
RESTATE_SHARE = 0.8  # this share of the answer's words are the question's words, in order, and it adds no
# content word ("rg" has two letters: "The name of the installed binary is `rg`." adds none)
MIN_RESTATE_WORDS = 4
_VALUE = re.compile(r"`[^`\n]+`|\d+(?:[.,]\d+)*")
# Scripts an English technical answer never needs unless its source uses them. Greek is
# left out: α, β, λ and π stand in formulas whatever the source spelled.
FOREIGN_SCRIPTS = (
    "CJK", "HIRAGANA", "KATAKANA", "HANGUL", "CYRILLIC", "ARABIC", "HEBREW", "THAI", "DEVANAGARI",
    "BENGALI", "TAMIL", "ARMENIAN", "GEORGIAN", "ETHIOPIC",
)  # fmt: skip
REPLY_KEYS = ("question", "answer", "reasoning_steps", "evidence", "figures", "pairs")
# The reply's JSON leaking into a string: escaped quotes, a quoted key, a closing "]} or "}.
_JSON_DEBRIS = re.compile(r'\\"|\{\s*"\w|"\s*:\s*["\[{]|"\s*\]\s*\}|"\s*\}\s*[,\]]|"\s*\}\s*$')
_REPLY_KEY = re.compile('"(?:' + "|".join(REPLY_KEYS) + ')"')


def normalize(text: str) -> str:
    """Text for matching: NFKC, straight quotes and dashes, no emphasis marks, one space, lowercase.

    >>> normalize("The  “reserve”\\n price — **fixed**")
    'the "reserve" price - fixed'
    """
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    text = _EMPHASIS.sub("", text)
    return _SPACE.sub(" ", text).strip().lower()


def content_words(text: str) -> set[str]:
    """Words of three or more characters that are not English stop words."""
    return {w for w in _WORD.findall(normalize(text)) if len(w) > 2 and w not in ENGLISH_STOP_WORDS}


def stem(word: str) -> str:
    """A light stem for matching word forms: plural and verb endings, a final ``e``, possessive ``'s``.

    >>> [stem(w) for w in ("fees", "policies", "boxes", "uploads", "class", "status", "rust's")]
    ['fee', 'policy', 'box', 'upload', 'class', 'status', 'rust']
    >>> [stem(w) for w in ("scales", "scaling", "scaled", "lowering", "lowers", "bounded", "price", "prices")]
    ['scal', 'scal', 'scal', 'lower', 'lower', 'bound', 'pric', 'pric']
    """
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) > 3 and not word.endswith(("ss", "us", "is", "'")):
        if word.endswith("ies") and len(word) > 4:
            word = word[:-3] + "y"
        elif word.endswith(("ches", "shes", "xes", "sses", "zes")):
            word = word[:-2]
        elif word.endswith("s"):
            word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def content_stems(text: str) -> set[str]:
    return {stem(w) for w in content_words(text)}


def cut_off(answer: str, question: str = "") -> bool:
    """The answer stops mid-sentence: it does not end with sentence punctuation, a bracket or a code mark.

    A bare verdict ("True", "False") and a short term that fills the question's blank are whole
    answers, not sentences cut short (a small model often answers a true-or-false item so).

    >>> cut_off("The blob base fee falls until it")
    True
    >>> cut_off("True"), cut_off("true and the"), cut_off("0.0000001%", "It shifts the cost by just ___.")
    (False, True, False)
    >>> cut_off("0.0000001% of the total cost because the", "It shifts the cost by just ___.")
    True
    """
    text = answer.strip()
    if _VERDICT.fullmatch(text) or (BLANK.search(question) and len(text.split()) <= MAX_TERM_WORDS):
        return False
    return not _ENDS_SENTENCE.search(text)


def dangling_end(answer: str) -> bool:
    """The answer ends on a colon with nothing after it, or on a word that ties on what should follow ("the",
    "and", "that"): a sentence left open though its punctuation closes it. The form gate's, not a sampling
    accident's (``sampling_accident``): a model that ends so does it again, and a re-send only costs tokens.

    >>> dangling_end("By applying it, EIP-7918 ensures that:"), dangling_end("We add comments that *!")
    (True, True)
    >>> dangling_end("Set `a`."), dangling_end("The higher the resolution, the more pixels there are.")
    (False, False)
    """
    return bool(_DANGLING_END.search(answer.strip()))


def short_answer(answer: str) -> bool:
    """A verdict or a term ("True", "8192", "`cargo doc --open`"), which different questions may share."""
    return len(answer.split()) <= MAX_TERM_WORDS


def _prose(text: str) -> str:
    """The text without code: fenced blocks, code spans, code-like lines, HTML tags."""
    return _CODE_LINE.sub(" ", _CODE.sub(" ", text))


def _duplicated_chars(words: list[str], n: int) -> int:
    """Characters of n-grams that repeat an earlier one, not overlapping (datatrove's ``find_all_duplicate``)."""
    seen: set[tuple[str, ...]] = set()
    repeated, i = 0, 0
    while i <= len(words) - n:
        gram = tuple(words[i : i + n])
        if gram in seen:
            repeated += sum(map(len, gram))
            i += n
        else:
            seen.add(gram)
            i += 1
    return repeated


def repetition_reason(text: str) -> str | None:
    """Why ``text`` repeats itself like a loop, or None.

    >>> repetition_reason("Run `cargo build`, then `cargo build --release` for the release profile.") is None
    True
    >>> repetition_reason("The fee rises with demand. The fee rises with demand.")
    'repeats the sentence "the fee rises with demand."'
    """
    prose = _prose(text)
    sentences = [normalize(s) for s in _SENTENCE_END.split(prose) if s.strip()]
    counts = Counter(s for s in sentences if len(_PROSE_WORD.findall(s)) >= MIN_REPEATED_SENTENCE_WORDS)
    repeated = [(s, c) for s, c in counts.items() if c > 1]
    if sum(len(s) * (c - 1) for s, c in repeated) > DUP_SENTENCE_FRACTION * sum(map(len, sentences)):
        return f"repeats the sentence {repeated[0][0][:80]!r}".replace("'", '"')
    words = _PROSE_WORD.findall(prose.lower())
    chars = sum(map(len, words))
    if not chars:
        return None
    for n, fraction in TOP_NGRAM_FRACTIONS:
        grams = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
        if not grams:
            continue
        gram, count = grams.most_common(1)[0]
        share = count * sum(map(len, gram)) / chars
        if count >= TOP_NGRAM_MIN_COUNT and share > fraction:
            return f"the {n}-gram {' '.join(gram)!r} makes {share:.0%} of the answer ({count} times)"
    for n, fraction in DUP_NGRAM_FRACTIONS:
        share = _duplicated_chars(words, n) / chars
        if share > fraction:
            return f"repeated {n}-word runs make {share:.0%} of the answer"
    return None


def restates_question(answer: str, question: str) -> bool:
    """Most of the answer is the question's words in the question's order, adding no content word.

    >>> restates_question("The name of the installed binary is rg.", "What is the name of the installed binary rg?")
    True
    >>> restates_question("It uploads the crate to crates.io.", "What does cargo publish upload?")
    False
    >>> restates_question("True. Cargo has two main profiles.", "True or false: Cargo has two main profiles?")
    False
    >>> restates_question("The default opt-level of dev is `0`.", "What is the default opt-level of dev?")
    False
    """
    a, q = _PROSE_WORD.findall(normalize(answer)), _PROSE_WORD.findall(normalize(question))
    if a[:1] in (["true"], ["false"]) and "true or false" in normalize(question):
        return False  # a verdict on a statement, restating it as its reason, is the item's form
    if len(a) < MIN_RESTATE_WORDS:
        return False
    matched = sum(block.size for block in SequenceMatcher(None, a, q, autojunk=False).get_matching_blocks())
    new = (content_words(answer) - content_words(question)) | (value_tokens(answer) - value_tokens(question))
    return matched / len(a) >= RESTATE_SHARE and not new


def value_tokens(text: str) -> set[str]:
    """Numbers and code spans: what a look-up answer adds to a restated question ("... is `0`.")."""
    return set(_VALUE.findall(text))


def _script(char: str) -> str | None:
    if not char.isalpha():
        return None
    name = unicodedata.name(char, "")
    return next((s for s in FOREIGN_SCRIPTS if name.startswith(s)), None)


def stray_script(answer: str, source: str) -> str | None:
    """The first script of the answer that the source never uses (CJK in an answer to an English text).

    >>> stray_script("The fee rises 上涨.", "The fee rises.")
    'CJK'
    >>> stray_script("Привет means hello.", "Привет means hello in Russian.") is None
    True
    """
    for script in dict.fromkeys(s for s in map(_script, answer) if s):
        if not any(_script(c) == script for c in source if not c.isascii()):
            return script
    return None


def json_debris(answer: str, source: str = "") -> str | None:
    """A fragment of the reply's JSON inside the answer (``\\"``, ``"answer":``, a closing ``"]}``), unless the
    source has the same construct (an answer may quote JSON from its source).

    >>> json_debris('The fee rises."}, {"question": "Why?')
    '"question"'
    >>> json_debris('Set `{"a": 1}` in the config.', 'Set `{"a": 1}` in the config.') is None
    True
    """
    for pattern in (_REPLY_KEY, _JSON_DEBRIS):
        match = pattern.search(answer)
        if match and not pattern.search(source):
            return match.group(0)
    return None


def asks_only(answer: str) -> bool:
    """Every sentence of the answer is a question: it asks instead of answering. (Not a sampling
    accident: a document's own paragraph may be a question, "How do we do it?", but an answer may not.)

    >>> asks_only("Overexposed? A person we did not notice?"), asks_only("Why does it matter? It bounds the fee.")
    (True, False)
    """
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", answer.strip().rstrip(" *_`'\"")) if s.strip()]
    return bool(sentences) and all(s.endswith("?") for s in sentences)


def degenerate_reason(answer: str, question: str, source: str = "") -> str | None:
    """Why the answer is a sampling accident rather than an answer, or None.

    Checks, in order: JSON debris, a script the source does not use, repetition,
    a restatement of the question.
    """
    debris = json_debris(answer, source)
    if debris:
        return f"JSON debris in the answer: {debris!r}"
    script = stray_script(answer, f"{source} {question}")
    if script:
        return f"{script} characters the source does not use"
    repeated = repetition_reason(answer)
    if repeated:
        return repeated
    if restates_question(answer, question):
        return "the answer restates its question"
    return None


def sampling_accident(question: str, answer: str, source: str = "") -> str | None:
    """A short reason when the answer is degenerate or cut off mid-sentence, else None."""
    reason = degenerate_reason(answer, question, source)
    if reason:
        return reason
    if cut_off(answer, question):
        return "answer is cut off mid-sentence"
    return None

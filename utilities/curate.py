"""``--curate``'s inputs: read pairs from dataset files, find each pair's source, make it a run's outcome.

A record becomes the one pair of the request a run would have made for its source
section, so the run's own gate-and-verify stage, report and journal take it
(``pipeline.curate``); ``outputs/curated.py`` writes the kept records back in
their own format. Files: ``.json`` (an array), ``.jsonl`` (a record per line),
``.parquet`` (needs pyarrow); records are told apart one by one: ``messages``
(role/content, with string or typed-part content), ``conversations``
(from/value), or plain ``question``/``answer``. How the question, answer,
reasoning, source section, context, question type, evidence and figures of a
record are decided where it is silent: README, "Curating a dataset". A record
that cannot be read is a one-line error naming its file and record, and a line
in the rejects file; the others go on.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sklearn.feature_extraction.text import TfidfVectorizer

from models.documents import Document
from models.question_types import QUESTION_TYPE_SPECS, ContextKind, QuestionType
from models.records import PlannedRequest
from utilities.figures import strip_placeholders
from utilities.logger import get_logger
from utilities.planner import type_context

log = get_logger(__name__)

SUFFIXES = (".json", ".jsonl", ".parquet")
DEFAULT_QUESTION_TYPE = QuestionType.FACTUAL_RECALL
MAX_ERRORS_LOGGED = 20  # per file; every unreadable record is in the rejects file

_ROLES = {"user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant", "system": "system"}
_PLACEHOLDER = re.compile(r"(?:Image-\d+: )?<(?:image|video|audio)>\n?")
_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_STEP = re.compile(r"^\s*Step \d+:[ \t]*(.*?)\s*$", re.MULTILINE)


class RecordError(ValueError):
    """A record no pair can be read from; the message says why."""


@dataclass(frozen=True)
class Hints:
    """What a record says about its source; None where it says nothing usable."""

    document: str | None = None
    section_index: int | None = None
    section_title: str | None = None
    related: tuple[int, ...] | None = None
    evidence: tuple[str, ...] | None = None
    figures: tuple[str, ...] | None = None
    images: tuple[str, ...] = ()
    question_type: QuestionType | None = None


@dataclass(frozen=True)
class RecordPair:
    question: str
    answer: str
    reasoning_steps: tuple[str, ...]
    hints: Hints


_KINDS = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}


def _kind(value: Any) -> str:
    return _KINDS.get(type(value), "a number")


def _content(value: Any, where: str) -> tuple[str, list[str]]:
    """(text, image paths) of a turn's content: a string, or a list of typed parts."""
    if value is None:
        return "", []
    if isinstance(value, str):
        return value, []
    if not isinstance(value, list):
        raise RecordError(f"{where} has content that is {_kind(value)}, not text or a list of parts")
    texts: list[str] = []
    images: list[str] = []
    for part in value:
        if isinstance(part, str):
            texts.append(part)
        elif not isinstance(part, dict):
            raise RecordError(f"{where} has a content part that is {_kind(part)}, not an object")
        elif part.get("type") == "image_url":
            url = part.get("image_url")
            url = url.get("url") if isinstance(url, dict) else url
            if isinstance(url, str):
                images.append(url)
        elif part.get("type") == "image":  # TRL: the path is in the row's "images"
            path = part.get("image") or part.get("path")
            if isinstance(path, str):
                images.append(path)
        elif isinstance(part.get("text"), str):
            texts.append(part["text"])
    return "\n".join(texts), images


def _turns(value: Any, name: str, role_key: str, content_key: str) -> list[tuple[str, str, list[str]]]:
    if not isinstance(value, list):
        raise RecordError(f"{name} is {_kind(value)}, not an array of turns")
    turns = []
    for n, turn in enumerate(value, 1):
        where = f"{name} turn {n}"
        if not isinstance(turn, dict):
            raise RecordError(f"{where} is {_kind(turn)}, not an object")
        role = _ROLES.get(str(turn.get(role_key, turn.get("role", ""))).lower())
        if role is None:
            raise RecordError(f"{where} has {role_key} {turn.get(role_key)!r}, not user, assistant or system")
        text, images = _content(turn.get(content_key, turn.get("content")), where)
        turns.append((role, text, images))
    return turns


def _record_images(record: dict[str, Any]) -> list[str]:
    value = record.get("images", record.get("image"))
    items = value if isinstance(value, list) else [] if value is None else [value]
    paths = []
    for n, item in enumerate(items, 1):
        path = item.get("path") if isinstance(item, dict) else item  # datasets' Image: {"bytes", "path"}
        paths.append(path if isinstance(path, str) and path else f"image {n} (no path)")
    return paths


def _strings(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _hints(record: dict[str, Any], images: list[str]) -> Hints:
    meta = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}

    def pick(name: str) -> Any:
        return meta.get(name, record.get(name))

    index = meta.get("section_index")
    related = meta.get("related_sections")
    evidence = tuple(e for e in _strings(pick("evidence")) or () if e.strip())
    qt = pick("question_type")
    return Hints(
        document=pick("document") if isinstance(pick("document"), str) else None,
        section_index=index if isinstance(index, int) and not isinstance(index, bool) else None,
        section_title=pick("section") if isinstance(pick("section"), str) else None,
        related=tuple(related)
        if isinstance(related, list) and all(isinstance(r, int) and not isinstance(r, bool) for r in related)
        else None,
        evidence=evidence or None,
        figures=_strings(meta.get("figures")),
        images=tuple(images),
        question_type=QuestionType(qt) if isinstance(qt, str) and qt in QuestionType.__members__ else None,
    )


def split_answer(text: str) -> tuple[str, tuple[str, ...]]:
    """(answer, reasoning steps) of an assistant turn: the ``<think>`` block removed, its ``Step N:`` lines kept.

    >>> split_answer("<think>\\nStep 1: The fee doubles.\\n</think>\\n\\nIt doubles.")
    ('It doubles.', ('The fee doubles.',))
    """
    think = _THINK.search(text)
    if think is None:
        return text.strip(), ()
    steps = tuple(s for s in _STEP.findall(think.group(1)) if s)
    return (text[: think.start()] + text[think.end() :]).strip(), steps


def read_pair(record: Any) -> RecordPair:
    """The pair a record holds and what it says about its source. Raises RecordError."""
    if not isinstance(record, dict):
        raise RecordError(f"is {_kind(record)}, not an object")
    if "messages" in record:
        turns = _turns(record["messages"], "messages", "role", "content")
    elif "conversations" in record:
        turns = _turns(record["conversations"], "conversations", "from", "value")
    elif "question" in record and "answer" in record:
        for name in ("question", "answer"):
            if not isinstance(record[name], str):
                raise RecordError(f"{name} is {_kind(record[name])}, not text")
        turns = [("user", record["question"], []), ("assistant", record["answer"], [])]
    else:
        raise RecordError("has no messages, no conversations, and no question and answer")
    last = next((i for i in range(len(turns) - 1, -1, -1) if turns[i][0] == "assistant"), None)
    if last is None:
        raise RecordError("has no assistant turn")
    asked = next((i for i in range(last - 1, -1, -1) if turns[i][0] == "user"), None)
    if asked is None:
        raise RecordError("has no user turn before its last assistant turn")
    images = [path for _, _, found in turns[: last + 1] for path in found] + _record_images(record)
    answer, steps = split_answer(turns[last][1])
    question = _PLACEHOLDER.sub("", turns[asked][1]).strip()
    return RecordPair(question, answer, steps, _hints(record, images))


@dataclass
class InputFile:
    path: Path
    stem: str  # unique among this run's inputs: part of each pair's key and of the output names
    digest: str = ""  # sha256 of the file's bytes: part of the journal key
    records: dict[int, Any] = field(default_factory=dict)  # record number (from 1) -> the record as read
    lines: dict[int, bytes] = field(default_factory=dict)  # .jsonl: record number -> its line, written back as is
    unreadable: list[dict[str, Any]] = field(default_factory=list)  # rejects lines of records no pair came from
    table: Any = None  # .parquet: the table, whose kept rows are written back in its own schema
    error: str | None = None  # why the whole file could not be read

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower()

    def reject_unreadable(self, number: int, problem: str, record: Any = None, raw: str | None = None) -> None:
        what = {"raw": raw} if raw is not None else {"record": record}
        self.unreadable.append(
            {"file": str(self.path), "record_number": number, "gate": "unreadable", "detail": problem, **what}
        )
        if len(self.unreadable) <= MAX_ERRORS_LOGGED:
            unit = "line" if self.suffix == ".jsonl" else "record"
            log.error("%s: %s %d: %s", self.path, unit, number, problem)
        elif len(self.unreadable) == MAX_ERRORS_LOGGED + 1:
            log.error("%s: more unreadable records; every one is in the rejects file", self.path)


def read_input(path: Path, stem: str) -> InputFile:
    """The records of one file; ``error`` says why none could be read (logged as one line)."""
    f = InputFile(path, stem)
    if f.suffix not in SUFFIXES:
        f.error = f"has suffix '{path.suffix}'; --curate reads {', '.join(SUFFIXES)}"
    else:
        try:
            data = path.read_bytes()
        except OSError as exc:
            f.error = f"cannot be read ({exc.strerror})"
        else:
            f.digest = hashlib.sha256(data).hexdigest()
            f.error = _parse_file(f, data)
    if f.error:
        log.error("%s: %s; skipped", path, f.error)
    elif not f.records and not f.unreadable:
        log.warning("%s: has no records", path)
    return f


def _parse_file(f: InputFile, data: bytes) -> str | None:
    if f.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            return "is parquet, which needs pyarrow: pip install pyarrow"
        try:
            f.table = pq.read_table(io.BytesIO(data))
        except (ValueError, OSError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            return f"is not a readable parquet file ({str(exc).splitlines()[0]})"
        f.records = dict(enumerate(f.table.to_pylist(), 1))
        return None
    if f.suffix == ".json":
        try:
            records = json.loads(data.decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            return f"is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        except json.JSONDecodeError as exc:
            return f"is not valid JSON: {exc.msg}, line {exc.lineno} column {exc.colno}"
        if not isinstance(records, list):
            return f"holds {_kind(records)}, not an array of records (one record per line: name it .jsonl)"
        f.records = dict(enumerate(records, 1))
        return None
    for number, line in enumerate(data.split(b"\n"), 1):
        if number == 1:
            line = line.removeprefix(b"\xef\xbb\xbf")
        if not line.strip():
            continue
        try:
            f.records[number] = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError as exc:
            f.reject_unreadable(number, f"is not valid UTF-8 (byte 0x{line[exc.start]:02x})", raw=repr(line))
            continue
        except json.JSONDecodeError as exc:
            f.reject_unreadable(number, f"is not valid JSON: {exc.msg}, column {exc.colno}", raw=line.decode())
            continue
        f.lines[number] = line.rstrip(b"\r") + b"\n"
    return None


def read_pairs(files: list[InputFile]) -> list[tuple[InputFile, int, RecordPair]]:
    """Each readable record's pair, with its file and number; the others go to their file's rejects."""
    pairs = []
    for f in files:
        for number, record in f.records.items():
            try:
                pairs.append((f, number, read_pair(record)))
            except RecordError as exc:
                f.reject_unreadable(number, str(exc), record=record)
    return pairs


@dataclass(frozen=True)
class Source:
    document: Document
    section_index: int
    located_by: str  # "section_index", "section_title", "document" or "similarity"
    similarity: float | None = None  # TF-IDF cosine of question + answer to the section, when it chose

    def to_dict(self) -> dict[str, Any]:
        section = self.document.sections[self.section_index]
        return {
            "document": self.document.name,
            "section_index": self.section_index,
            "section": section.title,
            "located_by": self.located_by,
            "similarity": self.similarity,
        }


class SourceIndex:
    """Every section of every document, to find the source of a pair (the rules: README, "Curating a dataset")."""

    BATCH = 512  # pairs compared at a time: a dense BATCH x sections similarity block

    def __init__(self, documents: list[Document]):
        self.documents = {d.name: d for d in documents}
        self.rows = [(d, s.index) for d in documents for s in d.sections]
        self.rows_of: dict[str, list[int]] = {}
        for row, (document, _) in enumerate(self.rows):
            self.rows_of.setdefault(document.name, []).append(row)
        self.vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True, token_pattern=r"(?u)\b\w\w+\b")
        texts = [strip_placeholders(d.sections[i].text) for d, i in self.rows]
        try:
            self.matrix = self.vectorizer.fit_transform(texts)
        except ValueError:  # no word in any section: every similarity is 0
            self.matrix = None

    def locate(self, pairs: list[RecordPair]) -> list[Source]:
        sources = []
        for start in range(0, len(pairs), self.BATCH):
            batch = pairs[start : start + self.BATCH]
            if self.matrix is None:
                similarity = [[0.0] * len(self.rows) for _ in batch]
            else:
                queries = self.vectorizer.transform(f"{p.question}\n{p.answer}" for p in batch)
                similarity = (queries @ self.matrix.T).toarray().tolist()
            sources.extend(self._locate(p.hints, row) for p, row in zip(batch, similarity))
        return sources

    def _locate(self, hints: Hints, similarity: list[float]) -> Source:
        document = self.documents.get(hints.document or "")
        index = hints.section_index
        if document is not None and index is not None and 0 <= index < len(document.sections):
            title = document.sections[index].title  # a title that no longer matches: the document changed
            if hints.section_title is None or hints.section_title == title:
                return Source(document, index, "section_index")
        candidates, located_by = list(range(len(self.rows))), "similarity"
        if document is not None:
            candidates, located_by = self.rows_of[document.name], "document"
            titled = [r for r in candidates if document.sections[self.rows[r][1]].title == hints.section_title]
            if titled:
                candidates, located_by = titled, "section_title"
        best = max(candidates, key=similarity.__getitem__)  # the first of equals: document order
        found, index = self.rows[best]
        return Source(found, index, located_by, round(similarity[best], 4))


def _context_sections(source: Source, hints: Hints, question_type: QuestionType) -> tuple[int, ...]:
    """The record's related sections when its source came from its index; else the planner's for its type."""
    sections = source.document.sections
    if source.located_by == "section_index" and hints.related is not None:
        valid = [r for r in hints.related if 0 <= r < len(sections) and r != source.section_index]
        if len(valid) == len(hints.related):
            return tuple(valid)
    return type_context(sections[source.section_index], question_type) or ()


def pair_figures(hints: Hints, document: Document) -> tuple[str, ...]:
    """The record's figure ids; else its images matched by file name to the document's figures."""
    if hints.figures is not None:
        return hints.figures
    by_name = {Path(r.path).name: r.id for s in document.sections for r in s.figures if r.path}
    return tuple(dict.fromkeys(by_name.get(Path(image).name, image) for image in hints.images))


def plan_pair(pair: RecordPair, source: Source, figures: tuple[str, ...]) -> PlannedRequest:
    """The request a generation run would have made for this pair's source (one pair)."""
    question_type = pair.hints.question_type or DEFAULT_QUESTION_TYPE
    document, index = source.document, source.section_index
    related = _context_sections(source, pair.hints, question_type)
    section = document.sections[index]
    facts = tuple(range(len(section.facts))) if QUESTION_TYPE_SPECS[question_type].context is ContextKind.FACTS else ()
    attachable = {r.id for i in (index, *related) for r in document.sections[i].figures if r.path}
    attached = tuple(f for f in figures if f in attachable)
    return PlannedRequest(document.name, index, question_type, related, facts, 1, attached)

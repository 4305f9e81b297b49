"""Curate existing question-answer datasets: the run's gates and verify pass over pairs from anywhere.

``curate(config)`` reads each ``--curate`` file, reads one pair from each
record, finds the pair's source in MARKDOWN_DOCS_DIR, runs the quality gates and
the verify pass exactly as a generation run does, and writes, per input file,
the kept records unchanged in the file's own format, a rejects file, and one
report for the run. A record that cannot be read is a one-line error naming its
file and record, and a line in the rejects file; the others go on.

Files: ``.json`` (an array of records), ``.jsonl`` (a record per line) and
``.parquet`` (needs pyarrow). Records, told apart one by one, so a file may mix
them: ``messages`` of role/content turns (phi, jsonl, sharegpt with ``<image>``
placeholders, TRL/hf rows whose content is a list of typed parts),
``conversations`` of from/value turns (InternVL, ShareGPT's own tags), and
plain ``{"question": ..., "answer": ...}``. The question is the last user turn
before the last assistant turn, without image placeholders; the answer is that
assistant turn without its ``<think>`` block; the reasoning steps are the
``Step N:`` lines inside it.

Where the spec of a record is silent, these rules decide:

- Source section, the first that applies: ``metadata.document`` and
  ``metadata.section_index`` naming an existing section; a known ``document``
  (in ``metadata`` or top-level, as the sharegpt, internvl and hf exports write
  it) and the sections titled ``section`` in it; a known document alone;
  otherwise every section of every document. Among several candidates, the one
  most similar to question + answer (TF-IDF cosine, fitted on all sections).
- Context sections: ``metadata.related_sections`` when the source came from
  ``section_index``; otherwise what the planner gives a request of the pair's
  type (FACT_BASED: every fact of the section).
- Question type: the record's ``question_type`` when it is one of the 15;
  otherwise FACTUAL_RECALL, whose answer budget is the loosest (one word) and
  whose context is the section alone (counted as ``default_question_type``).
- Evidence: ``metadata.evidence`` (or a top-level ``evidence``) when it is a
  non-empty list of strings; otherwise up to three of the source's citable
  sentences, chosen greedily to cover the answer's content words (each must add
  a word the others lack: see ``quality.choose_evidence``). None when no sentence shares
  a word with the answer: the grounding gate then rejects the pair.
- Figures: ``metadata.figures``; otherwise each attached image is matched by
  file name to a figure of the source document. An image that matches none
  keeps its path as its id, and the images gate rejects the pair.

It never repairs, re-labels or rewrites a record, and generates nothing: a kept
record is written as it was read (JSONL lines byte for byte, parquet rows in the
file's own schema). Every readable input gets its curated file, empty when
nothing was kept; the exit code is 1 when no pair at all was kept. Verify requests are journaled like a run's
(``OUTPUT_DIR/.runs/<key>/``, the key hashing the input files, the documents and
the verify settings), so a curate cut short resumes without repeating them.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sklearn.feature_extraction.text import TfidfVectorizer

from models.documents import Document
from models.question_types import QUESTION_TYPE_SPECS, ContextKind, QuestionType
from models.records import BuiltRequest, GatedPair, GateResult, ParsedPair, PlannedRequest, RequestOutcome
from utilities.api_utils import LazyEngine, choose_backend
from utilities.config import SETTINGS, Config
from utilities.figures import strip_placeholders
from utilities.file_utils import load_configured_documents
from utilities.generation import RunStats
from utilities.journal import Journal
from utilities.logger import get_logger
from utilities.outputs.files import json_array_chunks, timestamp, write_new_file, write_new_json
from utilities.prompts import PROMPT_VERSION, PromptLibrary, RequestBuilder
from utilities.quality import GateSettings, apply_gates, choose_evidence
from utilities.report import STAGES, build_report
from utilities.run_control import EXIT_UNFINISHED, StopSignal
from utilities.text_checks import content_words
from utilities.verify import VerifySettings, VerifyStats, load_system_prompt, verify_key, verify_pairs

log = get_logger(__name__)

SUFFIXES = (".json", ".jsonl", ".parquet")
DEFAULT_QUESTION_TYPE = QuestionType.FACTUAL_RECALL
MAX_ERRORS_LOGGED = 20  # per file; every unreadable record is in the rejects file
CURATE_JOURNAL_VERSION = 1
# Of the run key's settings, those that change a curated pair's context or its verify replies:
# marked ``curate_key=True`` where they are declared.
CURATE_KEY_SETTINGS = tuple(s.env for s in SETTINGS if s.curate_key)

_ROLES = {"user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant", "system": "system"}
_PLACEHOLDER = re.compile(r"(?:Image-\d+: )?<(?:image|video|audio)>\n?")
_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_STEP = re.compile(r"^\s*Step \d+:[ \t]*(.*?)\s*$", re.MULTILINE)


class RecordError(ValueError):
    """A record no pair can be read from; the message says why."""


# --- reading records ------------------------------------------------------------------------


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


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


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

    @property
    def unit(self) -> str:
        return "line" if self.suffix == ".jsonl" else "record"

    def reject_unreadable(self, number: int, problem: str, record: Any = None, raw: str | None = None) -> None:
        line: dict[str, Any] = {"file": str(self.path), "record_number": number, "gate": "unreadable"}
        line["detail"] = problem
        line.update({"raw": raw} if raw is not None else {"record": record})
        self.unreadable.append(line)
        if len(self.unreadable) <= MAX_ERRORS_LOGGED:
            log.error("%s: %s %d: %s", self.path, self.unit, number, problem)
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


def unique_stems(paths: Iterable[Path]) -> list[str]:
    """File stems, ``-2``, ``-3``... added to repeats: ``[a/train.json, b/train.json]`` -> ``[train, train-2]``."""
    seen: Counter = Counter()
    out = []
    for path in paths:
        seen[path.stem] += 1
        out.append(path.stem if seen[path.stem] == 1 else f"{path.stem}-{seen[path.stem]}")
    return out


# --- finding the source ---------------------------------------------------------------------


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
    """Every section of every document, to find the source of a pair (see the module docstring)."""

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
    sections = source.document.sections
    if source.located_by == "section_index" and hints.related is not None:
        valid = [r for r in hints.related if 0 <= r < len(sections) and r != source.section_index]
        if len(valid) == len(hints.related):
            return tuple(valid)
    related = [r.index for r in sections[source.section_index].related]
    context = QUESTION_TYPE_SPECS[question_type].context
    if context is ContextKind.SECTION_WITH_RELATED:
        return tuple(related)
    return tuple(related[:1]) if context is ContextKind.SECTION_PAIR else ()


def _figures(hints: Hints, document: Document) -> tuple[str, ...]:
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


# --- the run --------------------------------------------------------------------------------


@dataclass
class Curated:
    """One pair read from a record, with its request as a generation run would have built it."""

    file: InputFile
    number: int  # the record's number in its file
    source: Source
    outcome: RequestOutcome
    defaulted_type: bool
    evidence_from: str  # "record" (its own evidence) or "source" (chosen by choose_evidence)


def _journal_inputs(files: list[InputFile], documents: list[Document], config: Config, settings: VerifySettings):
    prompts = {mode: hashlib.sha256(load_system_prompt(mode).encode()).hexdigest() for mode in settings.modes}
    values = config.to_dict()
    return {
        "kind": "curate",
        "journal_version": CURATE_JOURNAL_VERSION,
        "prompt_version": PROMPT_VERSION,
        "files": {f.stem: f.digest for f in files if f.error is None},
        "documents": {d.name: d.content_hash for d in documents},
        "settings": {name: values[name] for name in CURATE_KEY_SETTINGS},
        "verify": settings.to_dict(),
        "verify_prompts": prompts,
    }


def _build_all(files: list[InputFile], documents: list[Document], config: Config, docs_root: Path) -> list[Curated]:
    pairs: list[tuple[InputFile, int, RecordPair]] = []
    for f in files:
        for number, record in f.records.items():
            try:
                pairs.append((f, number, read_pair(record)))
            except RecordError as exc:
                f.reject_unreadable(number, str(exc), record=record)
    library = PromptLibrary.load(config.run.system_prompt_file)
    build = RequestBuilder(documents, library, config.sampling, config.limits, docs_root)
    built_for: dict[PlannedRequest, BuiltRequest] = {}  # pairs of one section share their request
    words = functools.lru_cache(maxsize=None)(content_words)  # a section's quotes serve all its pairs
    curated = []
    sources = SourceIndex(documents).locate([p for _, _, p in pairs])
    for (f, number, pair), source in zip(pairs, sources):
        figures = _figures(pair.hints, source.document)
        planned = plan_pair(pair, source, figures)
        if planned not in built_for:
            built_for[planned] = build(planned)
        built = dataclasses.replace(built_for[planned], key=f"curate:{f.stem}:{number}")
        evidence = pair.hints.evidence or choose_evidence(pair.answer, built.quotes, build.limits.max_evidence, words)
        parsed = ParsedPair(pair.question, pair.answer, pair.reasoning_steps, evidence, figures)
        outcome = RequestOutcome(built, "accepted", (parsed,), None, [])
        evidence_from = "record" if pair.hints.evidence else "source"
        curated.append(Curated(f, number, source, outcome, pair.hints.question_type is None, evidence_from))
    return curated


def _gate(config: Config, outcomes: list[RequestOutcome], docs_root: Path) -> GateResult:
    """As a run gates its pairs."""
    return apply_gates(outcomes, GateSettings.from_config(config), docs_root)


def curate(config: Config) -> int:
    """Gate and verify the pairs of ``config.curate``; write what is kept, the rejects and a report."""
    loaded = load_configured_documents(config)
    if not loaded.documents:
        log.error("no usable markdown documents in %s: curated pairs need their sources", config.run.markdown_docs_dir)
        return 1
    docs_root = config.docs_root
    files = [read_input(path, stem) for path, stem in zip(config.curate, unique_stems(config.curate))]
    curated = _build_all(files, loaded.documents, config, docs_root)
    outcomes = [c.outcome for c in curated]
    gates = _gate(config, outcomes, docs_root)
    backend = choose_backend(config)
    settings = VerifySettings.from_config(config, backend[0])
    verify = VerifyStats(modes=settings.modes)
    engine = LazyEngine(config, backend)
    entries: dict[str, dict[str, Any]] = {}
    if settings.modes and gates.accepted:
        inputs = _journal_inputs(files, loaded.documents, config, settings)
        journal = Journal.open(config.run.output_dir, inputs, fresh=config.fresh)
        with StopSignal(journal.path, config.run.stop_grace) as stop, engine:
            try:
                verify = verify_pairs(gates, engine, settings, journal.load(), journal.append_entry, stop.event)
            finally:
                journal.close()
        if stop.signum is not None:
            log.warning(
                "stopped by signal %d; rerun the same command to resume (journal: %s)", stop.signum, journal.path
            )
            return 128 + stop.signum
        if verify.unfinished:
            log.error(
                "%d verify request(s) unfinished because the engine failed; rerun the same command to resume "
                "(journal: %s)",
                verify.unfinished,
                journal.path,
            )
            return EXIT_UNFINISHED
        entries = journal.load()
    engine_info = engine.info if settings.modes else {"backend": "none", "note": "VERIFY=none: no engine was used"}
    return _write(config, files, curated, gates, verify, entries, engine_info)


# --- writing --------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    return str(value)


def _kept_data(f: InputFile, numbers: list[int]) -> bytes | Iterable[bytes]:
    if f.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        pq.write_table(f.table.take([n - 1 for n in numbers]), sink)
        return sink.getvalue().to_pybytes()
    if f.suffix == ".jsonl":
        return (f.lines[n] for n in numbers)
    return json_array_chunks(f.records[n] for n in numbers)


def _reject_line(c: Curated, gated: GatedPair) -> dict[str, Any]:
    pair = gated.pair
    return {
        "file": str(c.file.path),
        "record_number": c.number,
        "gate": gated.gate,
        "detail": gated.detail,
        "verify": dict(gated.verify),
        "source": c.source.to_dict(),
        "question_type": c.outcome.request.planned.question_type.value,
        "evidence_from": c.evidence_from,
        "pair": pair.to_dict(),
        "record": c.file.records[c.number],
    }


def _empty_row() -> dict[str, Any]:
    return {
        "records": 0,
        "unreadable": 0,
        "pairs": 0,
        "kept": 0,
        "rejections": dict.fromkeys(STAGES, 0),
        "located_by": dict.fromkeys(("section_index", "section_title", "document", "similarity"), 0),
        "default_question_type": 0,
        "verify_requests": 0,
        "verify_prompt_tokens": 0,
        "verify_completion_tokens": 0,
    }


def _add(total: dict[str, Any], row: dict[str, Any]) -> None:
    for key, value in row.items():
        if isinstance(value, dict):
            for name, n in value.items():
                total[key][name] = total[key].get(name, 0) + n
        elif isinstance(value, int):
            total[key] += value


def _write(config, files, curated: list[Curated], gates, verify: VerifyStats, entries, engine_info) -> int:
    stamp = timestamp()
    by_key = {c.outcome.request.key: c for c in curated}
    rows = {id(f): _empty_row() for f in files}
    kept: dict[int, list[int]] = {id(f): [] for f in files}
    rejects: dict[int, list[dict[str, Any]]] = {id(f): list(f.unreadable) for f in files}
    for c in curated:
        row = rows[id(c.file)]
        row["located_by"][c.source.located_by] += 1
        row["default_question_type"] += c.defaulted_type
    for gated in [*gates.accepted, *gates.rejected]:
        c = by_key[gated.outcome.request.key]
        row = rows[id(c.file)]
        row["pairs"] += 1
        for mode in verify.modes:
            entry = entries.get(verify_key(mode, gated))
            if entry is not None and mode in gated.verify:  # verified in this run, not a stale verdict
                row["verify_requests"] += 1
                row["verify_prompt_tokens"] += sum(a["prompt_tokens"] for a in entry["attempts"])
                row["verify_completion_tokens"] += sum(a["completion_tokens"] for a in entry["attempts"])
        if gated.gate is None:
            row["kept"] += 1
            kept[id(c.file)].append(c.number)
        else:
            row["rejections"][gated.gate] += 1
            rejects[id(c.file)].append(_reject_line(c, gated))
    report_files: dict[str, dict[str, Any]] = {}
    total = _empty_row()
    for f in files:
        row = rows[id(f)]
        row["records"] = len(set(f.records) | {line["record_number"] for line in f.unreadable})
        row["unreadable"] = len(f.unreadable)
        row["output"] = row["rejects"] = None
        if f.error is None:
            numbers = sorted(kept[id(f)])
            path = write_new_file(config.run.output_dir, f"curated-{f.stem}-{stamp}", f.suffix, _kept_data(f, numbers))
            row["output"] = str(path)
            log.info("%s: %d of %d records kept: %s", f.path, len(numbers), row["records"], path)
        if rejects[id(f)]:
            lines = sorted(rejects[id(f)], key=lambda line: line["record_number"])
            data = "".join(json.dumps(line, ensure_ascii=False, default=_json_default) + "\n" for line in lines)
            path = write_new_file(config.run.output_dir, f"rejects-curated-{f.stem}-{stamp}", ".jsonl", data.encode())
            row["rejects"] = str(path)
            log.info("%s: rejected records, with the gate or verifier and why: %s", f.path, path)
        report_files[str(f.path)] = {"error": f.error, **row}
        _add(total, row)
    outcomes = [c.outcome for c in curated]
    report = build_report(outcomes, gates, RunStats(), engine_info, config.to_dict(), 0, verify)
    report["curate"] = {
        "inputs": [str(f.path) for f in files],
        "files_unreadable": sum(f.error is not None for f in files),
        "files": report_files,
        "totals": total,
    }
    path = write_new_json(config.run.output_dir, f"report-curate-{stamp}", report)
    print(format_curate_table(report["curate"]))
    log.info("report: %s", path)
    if not gates.accepted:
        log.error("no pair was kept; see the rejects file(s) for the gate or verifier and why")
        return 1
    return 0


def format_curate_table(summary: dict[str, Any]) -> str:
    """Per input file and in total: records, unreadable, kept, each gate or verifier that rejected any, verify cost."""
    total = summary["totals"]
    stages = [s for s in STAGES if total["rejections"][s]]
    header = ["file", "records", "unreadable", "kept", *stages, "verify req", "verify tokens"]

    def cells(name: str, row: dict[str, Any]) -> list[str]:
        tokens = row["verify_prompt_tokens"] + row["verify_completion_tokens"]
        counts = [row["records"], row["unreadable"], row["kept"], *(row["rejections"][s] for s in stages)]
        return [name, *map(str, counts), str(row["verify_requests"]), f"{tokens:,}"]

    body = [cells(Path(p).name + (" (unreadable)" if row["error"] else ""), row) for p, row in summary["files"].items()]
    body.append(cells("TOTAL", total))
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    fmt = "  ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths))
    return "\n".join(fmt.format(*row) for row in [header, *body])

"""What ``--curate`` writes: per input file, its kept records in the file's own format and its rejects.

``CuratedSet`` takes the gated (and verified) pairs as the run's gate-and-verify
stage hands them over, then writes, never overwriting, per input file
``curated-<input>-<time>.<ext>`` (the kept records exactly as they were read:
JSONL lines byte for byte, parquet rows in the file's own schema, JSON records in
order) and ``rejects-curated-<input>-<time>.jsonl``, and gives each file's row
of the report's ``curate`` block. Nothing here logs but the paths it wrote.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from models.records import GatedPair, GateResult, RequestOutcome
from utilities.logger import get_logger
from utilities.outputs.files import json_array_chunks, timestamp, write_new_file
from utilities.report import STAGES
from utilities.verify import verify_key

log = get_logger(__name__)

LOCATED_BY = ("section_index", "section_title", "document", "similarity")  # how a pair's source was found


class CurateInput(Protocol):
    """An input file as ``utilities/curate.py`` read it."""

    path: Path
    stem: str
    records: dict[int, Any]  # record number (from 1) -> the record as read
    lines: dict[int, bytes]  # .jsonl: record number -> its line as read
    unreadable: list[dict[str, Any]]  # rejects lines of the records no pair came from
    table: Any  # .parquet: the table as read
    error: str | None  # why the whole file could not be read

    @property
    def suffix(self) -> str: ...


@dataclass(frozen=True)
class CuratedPair:
    """Where one curated pair came from: its record, and how its source and evidence were found."""

    file: CurateInput
    number: int  # the record's number in its file
    source: dict[str, Any]  # document, section_index, section, located_by, similarity
    defaulted_type: bool  # the record named no question type: judged as the default one
    evidence_from: str  # "record" (its own evidence) or "source" (chosen from the source's sentences)


def unique_stems(paths: Iterable[Path]) -> list[str]:
    """File stems, ``-2``, ``-3``... added to repeats: ``[a/train.json, b/train.json]`` -> ``[train, train-2]``."""
    seen: Counter = Counter()
    out = []
    for path in paths:
        seen[path.stem] += 1
        out.append(path.stem if seen[path.stem] == 1 else f"{path.stem}-{seen[path.stem]}")
    return out


def _file_row() -> dict[str, Any]:
    return {
        "records": 0,
        "unreadable": 0,
        "pairs": 0,
        "kept": 0,
        "rejections": dict.fromkeys(STAGES, 0),
        "located_by": dict.fromkeys(LOCATED_BY, 0),
        "default_question_type": 0,
        "verify_requests": 0,
        "verify_prompt_tokens": 0,
        "verify_completion_tokens": 0,
    }


class CuratedSet:
    """The files of one ``--curate`` run; ``pairs``: each curated pair's origin by its request key."""

    def __init__(self, output_dir: Path, files: list[CurateInput], pairs: Mapping[str, CuratedPair]) -> None:
        self.output_dir = output_dir
        self.files = files
        self.pairs = pairs
        self.stamp = timestamp()
        self.gated: list[GatedPair] = []

    @property
    def kept(self) -> int:
        return sum(g.gate is None for g in self.gated)

    def add(self, outcomes: list[RequestOutcome], gates: GateResult) -> None:
        self.gated.extend([*gates.accepted, *gates.rejected])

    def write(self, modes: tuple[str, ...], verdicts: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        """Each readable file's kept records and every file's rejects; the report's ``curate`` block.

        ``verdicts``: the journal's verify entries, whose tokens each file's row counts.
        """
        rows = {id(f): _file_row() for f in self.files}
        kept: dict[int, list[int]] = {id(f): [] for f in self.files}
        rejects: dict[int, list[dict[str, Any]]] = {id(f): list(f.unreadable) for f in self.files}
        for origin in self.pairs.values():
            row = rows[id(origin.file)]
            row["located_by"][origin.source["located_by"]] += 1
            row["default_question_type"] += origin.defaulted_type
        for gated in self.gated:
            origin = self.pairs[gated.outcome.request.key]
            row = rows[id(origin.file)]
            row["pairs"] += 1
            _count_verdicts(row, gated, modes, verdicts)
            if gated.gate is None:
                row["kept"] += 1
                kept[id(origin.file)].append(origin.number)
            else:
                row["rejections"][gated.gate] += 1
                rejects[id(origin.file)].append(_reject_line(origin, gated))
        files = {str(f.path): self._write_file(f, rows[id(f)], kept[id(f)], rejects[id(f)]) for f in self.files}
        totals = _file_row()
        for row in files.values():
            _add(totals, row)
        return {
            "inputs": [str(f.path) for f in self.files],
            "files_unreadable": sum(f.error is not None for f in self.files),
            "files": files,
            "totals": totals,
        }

    def _write_file(self, f: CurateInput, row: dict, kept: list[int], rejects: list[dict]) -> dict[str, Any]:
        row["records"] = len(set(f.records) | {line["record_number"] for line in f.unreadable})
        row["unreadable"] = len(f.unreadable)
        row["output"] = row["rejects"] = None
        if f.error is None:
            numbers = sorted(kept)
            path = write_new_file(self.output_dir, f"curated-{f.stem}-{self.stamp}", f.suffix, _kept_data(f, numbers))
            row["output"] = str(path)
            log.info("%s: %d of %d records kept: %s", f.path, len(numbers), row["records"], path)
        if rejects:
            lines = sorted(rejects, key=lambda line: line["record_number"])
            data = "".join(json.dumps(line, ensure_ascii=False, default=_json_default) + "\n" for line in lines)
            path = write_new_file(self.output_dir, f"rejects-curated-{f.stem}-{self.stamp}", ".jsonl", data.encode())
            row["rejects"] = str(path)
            log.info("%s: rejected records, with the gate or verifier and why: %s", f.path, path)
        return {"error": f.error, **row}


def _count_verdicts(row: dict, gated: GatedPair, modes: tuple[str, ...], verdicts: Mapping[str, dict]) -> None:
    for mode in modes:
        entry = verdicts.get(verify_key(mode, gated))
        if entry is not None and mode in gated.verify:  # verified in this run, not a stale verdict
            row["verify_requests"] += 1
            row["verify_prompt_tokens"] += sum(a["prompt_tokens"] for a in entry["attempts"])
            row["verify_completion_tokens"] += sum(a["completion_tokens"] for a in entry["attempts"])


def _add(total: dict[str, Any], row: dict[str, Any]) -> None:
    for key, value in total.items():
        if isinstance(value, dict):
            for name, n in row[key].items():
                value[name] = value.get(name, 0) + n
        else:
            total[key] += row[key]


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    return str(value)


def _kept_data(f: CurateInput, numbers: list[int]) -> bytes | Iterable[bytes]:
    if f.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        pq.write_table(f.table.take([n - 1 for n in numbers]), sink)
        return sink.getvalue().to_pybytes()
    if f.suffix == ".jsonl":
        return (f.lines[n] for n in numbers)
    return json_array_chunks(f.records[n] for n in numbers)


def _reject_line(origin: CuratedPair, gated: GatedPair) -> dict[str, Any]:
    return {
        "file": str(origin.file.path),
        "record_number": origin.number,
        "gate": gated.gate,
        "detail": gated.detail,
        "verify": dict(gated.verify),
        "source": origin.source,
        "question_type": gated.outcome.request.planned.question_type.value,
        "evidence_from": origin.evidence_from,
        "pair": gated.pair.to_dict(),
        "record": origin.file.records[origin.number],
    }


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

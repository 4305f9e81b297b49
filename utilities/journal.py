"""The run journal: every finished request, durable before it counts as done.

A run's journal lives in ``OUTPUT_DIR/.runs/<run key>/journal.jsonl``. The run
key is a hash of what determines the work: each document's content hash, the
settings that change prompts or sampling, the system prompt and templates, and
``PROMPT_VERSION``. Rerunning the same command finds the same journal and skips
every request in it; a changed document or setting gives a new key and a new
journal (old ones are left alone). Each line is one finished request (accepted
with its pairs, or rejected with its raw replies) with what the request showed
the model (its source texts, citable sentences, titles and figures: what the
gates read back, so gating never builds a prompt again), appended, flushed and
fsynced before the next result is handled, so a crash loses at most the
requests in flight. A torn last line (a crash during the write) is ignored on load.

Gate settings and output formatting are not in the key: rerunning with other
thresholds re-gates the journal without calling the engine again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from models.documents import Document
from models.records import Attempt, ParsedPair, RequestOutcome, RequestSources
from utilities.config import SETTINGS, Config
from utilities.errors import ConfigError
from utilities.logger import get_logger

log = get_logger(__name__)

JOURNAL_VERSION = 1

# Settings that change what is asked or how it is sampled (and so what comes back): marked
# ``run_key=True`` where they are declared.
KEY_SETTINGS = tuple(s.env for s in SETTINGS if s.run_key)
CURATE_JOURNAL_VERSION = 1
# Of those, the ones that change a curated pair's context or its verify replies: ``curate_key=True``.
CURATE_KEY_SETTINGS = tuple(s.env for s in SETTINGS if s.curate_key)


def run_key_inputs(documents: list[Document], config: Config, prompts: dict[str, str]) -> dict[str, Any]:
    """What determines a run's work; ``prompts``: the prompt library's ``fingerprint()``."""
    settings = config.to_dict()
    return {
        "journal_version": JOURNAL_VERSION,
        "documents": {d.name: d.content_hash for d in documents},
        "settings": {name: settings[name] for name in KEY_SETTINGS},
        **prompts,
    }


def curate_key_inputs(
    files: dict[str, str], documents: list[Document], config: Config, verify: dict[str, Any]
) -> dict[str, Any]:
    """What determines a ``--curate``'s verify work: ``files`` (stem -> sha256), ``verify``: the prompt
    version and the verify pass's ``fingerprint()``."""
    settings = config.to_dict()
    return {
        "kind": "curate",
        "journal_version": CURATE_JOURNAL_VERSION,
        "files": files,
        "documents": {d.name: d.content_hash for d in documents},
        "settings": {name: settings[name] for name in CURATE_KEY_SETTINGS},
        **verify,
    }


def run_key(inputs: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


class Journal:
    def __init__(self, folder: Path, inputs: dict[str, Any]):
        self.folder = folder
        self.path = folder / "journal.jsonl"
        folder.mkdir(parents=True, exist_ok=True)
        manifest = folder / "manifest.json"
        if not manifest.exists():
            data = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "inputs": inputs}
            manifest.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
        self._handle = None
        self._lock = None

    @classmethod
    def open(cls, output_dir: Path, inputs: dict[str, Any], fresh: bool = False) -> Journal:
        """The journal of this run key; ``fresh`` sets an existing one aside (renamed, never deleted)."""
        folder = output_dir / ".runs" / run_key(inputs)
        lock = _lock_run(folder) if fresh and folder.exists() else None
        if lock is not None:  # nobody else is using it: set it aside
            aside = folder.with_name(f"{folder.name}.set-aside-{datetime.now().strftime('%Y-%m-%d_%H-%M-%S')}")
            folder.rename(aside)
            lock.close()
            log.info("--fresh: the earlier journal is kept at %s", aside)
        journal = cls(folder, inputs)
        journal._lock = _lock_run(folder)
        return journal

    def load(self) -> dict[str, dict[str, Any]]:
        """Finished requests by request key. A torn or corrupt line is skipped with a warning."""
        entries: dict[str, dict[str, Any]] = {}
        if not self.path.exists():
            return entries
        with self.path.open("rb") as handle:
            for number, raw in enumerate(handle, 1):
                try:
                    entry = json.loads(raw)
                    key = entry["key"]
                except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
                    log.warning("%s line %d is incomplete (an interrupted write); ignored", self.path, number)
                    continue
                entries.setdefault(key, entry)
        return entries

    def index(self) -> JournalIndex:
        """Where each finished request's line is: entries are read one at a time, as they are needed."""
        offsets: dict[str, int] = {}
        if self.path.exists():
            with self.path.open("rb") as handle:
                offset = 0
                for number, raw in enumerate(handle, 1):
                    try:
                        key = json.loads(raw)["key"]
                    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
                        log.warning("%s line %d is incomplete (an interrupted write); ignored", self.path, number)
                    else:
                        offsets.setdefault(key, offset)
                    offset += len(raw)
        return JournalIndex(self.path, offsets)

    def append(self, outcome: RequestOutcome) -> None:
        self.append_entry(outcome_to_entry(outcome))

    def append_entry(self, entry: Any) -> None:
        """One finished request (a dict, or a record with ``to_entry()``: a verify verdict), fsynced."""
        if not isinstance(entry, dict):
            entry = entry.to_entry()
        if self._handle is None:
            self._repair_tail()
            self._handle = self.path.open("ab")
        line = json.dumps(entry, ensure_ascii=False).encode("utf-8") + b"\n"
        self._handle.write(line)
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def _repair_tail(self) -> None:
        """End a torn last line so the next entry starts on a line of its own."""
        if self.path.exists() and self.path.stat().st_size:
            with self.path.open("rb+") as handle:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    handle.write(b"\n")

    def close(self) -> None:
        """Close the journal and release the run key's lock."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None


class JournalIndex:
    """Finished entries by key, read from the journal file when asked for: memory holds offsets only."""

    def __init__(self, path: Path, offsets: dict[str, int]):
        self.path = path
        self.offsets = offsets

    def __contains__(self, key: object) -> bool:
        return key in self.offsets

    def __len__(self) -> int:
        return len(self.offsets)

    def get(self, key: str) -> dict[str, Any] | None:
        offset = self.offsets.get(key)
        if offset is None:
            return None
        with self.path.open("rb") as handle:
            handle.seek(offset)
            return json.loads(handle.readline())

    def __getitem__(self, key: str) -> dict[str, Any]:
        entry = self.get(key)
        if entry is None:
            raise KeyError(key)
        return entry


def _lock_run(folder: Path) -> IO[str]:
    """The run key's lock, held until the returned file is closed: a second run of the key stops at once.

    ``flock`` is released by the kernel when the process ends, however it ends, so a killed
    run never leaves a stale lock behind.
    """
    handle = (folder / "lock").open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise ConfigError(
            f"another run (pid {holder}) is working on the same documents and settings in "
            f"{folder.parent.parent}; wait for it to finish, or use another OUTPUT_DIR"
        ) from None
    handle.truncate(0)
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def outcome_to_entry(outcome: RequestOutcome) -> dict[str, Any]:
    return {
        "key": outcome.request.key,
        "status": outcome.status,
        "reason": outcome.reason,
        "pairs": [p.to_dict() for p in outcome.pairs],
        "attempts": [a.to_dict() for a in outcome.attempts],
        "request": outcome.request.to_dict(),  # what gating reads: the texts, citable sentences and figures shown
    }


def entry_to_outcome(entry: dict[str, Any], request: RequestSources | None = None) -> RequestOutcome:
    """A journaled request's outcome, gated against the sources it was sent with.

    ``request``: the sources to use for an entry written before the journal kept them (the
    caller rebuilds the request as its last attempt sent it); None reads the entry's own.
    """
    pairs = tuple(ParsedPair.from_dict(p) for p in entry["pairs"])
    attempts = [Attempt(**a) for a in entry["attempts"]]
    sources = request if request is not None else RequestSources.from_dict(entry["request"])
    return RequestOutcome(sources, entry["status"], pairs, entry["reason"], attempts)

"""A run's set of files: staged in its journal folder group by group, then moved into OUTPUT_DIR as one.

``RunSet`` takes each group of documents as it is gated and verified (its rejects
files, and its kept pairs appended to the example spool, so memory holds none of
them), then writes every format and the report into the staging folder and
publishes the folder. ``already_written`` finds a set this run already published
(and finishes moving one a crash cut short). Nothing here logs: the run says what
was written.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from models.documents import Document
from models.records import GateResult, RequestOutcome
from utilities.outputs.examples import examples_of, write_rejects
from utilities.outputs.files import (
    finish_publishing,
    new_staging_folder,
    publish,
    timestamp,
    write_new_file,
    write_new_json,
    written_set,
)
from utilities.outputs.formats import DATASET_INFO, ExampleSpool, ImagePlacer, merge_dataset_info, write_exports

MERGED = {DATASET_INFO: merge_dataset_info}  # files merged into OUTPUT_DIR's own rather than placed beside it


def settings_hash(settings: dict[str, Any]) -> str:
    """The id of a set: every setting, so a changed gate or output setting writes a new set."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def already_written(run_folder: Path, output_dir: Path, settings: dict[str, Any]) -> tuple[bool, dict | None]:
    """(whether a set cut short by a crash was moved into place now, this run's written set or None)."""
    finished = finish_publishing(run_folder, output_dir, MERGED) is not None
    return finished, written_set(run_folder, settings_hash(settings))


class RunSet:
    """The files of one run, staged under ``run_folder`` until ``publish``."""

    def __init__(self, run_folder: Path, output_dir: Path, settings: dict[str, Any]) -> None:
        self.stamp = timestamp()
        self.staging = new_staging_folder(run_folder, self.stamp)
        self.output_dir = output_dir
        self.settings = settings
        self.examples = ExampleSpool(self.staging / ".examples.jsonl")

    @property
    def kept(self) -> int:
        return len(self.examples)

    def add(
        self, outcomes: list[RequestOutcome], gates: GateResult, documents: dict[str, Document], reasoning: bool
    ) -> None:
        """One group of documents: its rejects files, and its kept pairs as examples."""
        write_rejects(outcomes, gates, self.staging, self.stamp)
        self.examples.extend(examples_of(gates, documents, reasoning))

    def write(self, formats: tuple[str, ...], docs_root: Path, copy_images: bool, report: dict, markdown: str) -> None:
        """Every format from the spooled examples (images where ``COPY_IMAGES`` says), then the report."""
        placer = ImagePlacer(docs_root, self.output_dir, copy=copy_images)
        write_exports(self.examples, formats, self.staging, self.stamp, placer)
        self.examples.close()
        write_new_json(self.staging, f"report-{self.stamp}", report)
        write_new_file(self.staging, f"report-{self.stamp}", ".md", markdown.encode("utf-8"))

    def publish(self) -> list[Path]:
        """Move the staged set into OUTPUT_DIR as one; the paths it now has there."""
        written = {"stamp": self.stamp, "kept": self.kept}
        return list(publish(self.staging, self.output_dir, MERGED, settings_hash(self.settings), written))

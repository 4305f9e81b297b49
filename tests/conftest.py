"""Shared fixtures. Tests write only under tmp_path and never mock the unit under test."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED = PROJECT_ROOT.parent / "shared"
SHARED_CORPUS = SHARED / "corpus" / "markdown_docs"
SHARED_DOCUMENTS = ("aosa500_image_filters", "eip_7918_blob_base_fee", "rust_book_ch14_cargo")
HTTP_QUESTION_TYPES = "FACTUAL_RECALL,INFERENCE,SECTION_SUMMARY"


def cli_args(docs: Path, out: Path, base_url: str, *extra: str) -> list[str]:
    """The command's flags against an OpenAI-compatible server: one pair per request of
    ``HTTP_QUESTION_TYPES`` (three requests a section), a 1 s timeout, no verify pass."""
    return [
        "--docs-dir", str(docs), "--output-dir", str(out), "--backend", "openai", "--api-base-url", base_url,
        "--question-types", HTTP_QUESTION_TYPES, "--questions-per-request", "1", "--request-timeout", "1",
        "--verify", "none", *extra,
    ]  # fmt: skip


def run_cli(docs: Path, out: Path, base_url: str, *extra: str) -> int:
    """The command in-process with ``cli_args``."""
    from generate_synthetic_data import main

    return main(cli_args(docs, out, base_url, *extra))


def beside_checkout(path: Path) -> Path:
    """``path`` under ../shared (always there in CI): missing, the test fails in CI (``CI`` set, as
    .ci/run does) and is skipped elsewhere, naming the path."""
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing beside the checkout")
        pytest.skip(f"{path} not found beside the checkout")
    return path


@pytest.fixture(scope="session")
def shared_corpus() -> Path:
    """The three real third-party documents beside the checkout."""
    return beside_checkout(SHARED_CORPUS)


@pytest.fixture
def corpus_copy(shared_corpus: Path, tmp_path: Path) -> Path:
    """A writable copy of the shared corpus, as a docs folder."""
    target = tmp_path / "docs"
    shutil.copytree(shared_corpus, target)
    for path in target.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    path = tmp_path / "docs"
    path.mkdir()
    return path


def write_png(path: Path, size: tuple[int, int] = (64, 48), mode: str = "RGB", color=(200, 30, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)
    return path


@pytest.fixture
def fake_backend():
    """A scripted engine registered as BACKEND=fake; set ``.default`` to change its replies."""
    from utilities import engines
    from utilities.engines.fake import FakeEngine

    from .helpers import valid_reply

    engine = FakeEngine(default=valid_reply)
    engines.register(FakeEngine, lambda options, images: engine)
    yield engine
    engines.unregister("fake")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's .env or settings: run from an empty folder."""
    from utilities.config import SETTINGS

    for setting in SETTINGS:
        monkeypatch.delenv(setting.env, raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)

"""--check and --version: what a user runs first on a new machine."""

from __future__ import annotations

import re

import pytest

from generate_synthetic_data import main
from utilities import __version__

from .conftest import PROJECT_ROOT
from .fault_server import FaultServer


def test_check_passes_on_a_valid_reply_and_prints_it(fake_backend, capsys):
    assert main(["--check", "--backend", "fake"]) == 0
    out = capsys.readouterr().out
    (request,) = fake_backend.history
    assert request.id.startswith("check#0:FACTUAL_RECALL")
    assert request.schema["properties"]["pairs"]["minItems"] == 1
    assert any(getattr(p, "figure_id", None) == "FIGURE_1.1" for p in request.parts)  # the chart goes with it
    assert "question: " in out and "check passed" in out
    assert re.search(r"\d+ prompt \+ \d+ completion tokens, [\d.]+ completion tokens/s", out)


def test_check_fails_with_the_reason_on_an_invalid_reply(fake_backend, capsys):
    fake_backend.default = lambda request: '{"pairs": [{"question": "cut off'
    assert main(["--check", "--backend", "fake"]) == 1
    out = capsys.readouterr().out
    assert "check failed: invalid_json" in out and 'reply: {"pairs": [{"question": "cut off' in out


def test_check_fails_when_the_engine_does_not_load(tmp_path, capsys):
    assert main(["--check", "--backend", "embedded", "--llamacpp-model", str(tmp_path / "missing.gguf")]) == 1
    assert "check failed: the engine did not load: ConfigError: LLAMACPP_MODEL" in capsys.readouterr().out


def test_check_over_http_needs_no_documents(tmp_path, capsys):
    """--check ignores MARKDOWN_DOCS_DIR: it works on a fresh GPU box before any document is there."""
    with FaultServer(["500"]) as server:
        code = main(["--check", "--backend", "openai", "--api-base-url", server.base_url, "--docs-dir", "/nowhere"])
    assert code == 0 and server.actions["500"] == 1 and server.actions["ok"] == 1
    assert "check passed" in capsys.readouterr().out


@pytest.mark.slow
def test_check_with_the_real_embedded_model(capsys):
    """The default model, joined from its packages on first use."""
    assert main(["--check", "--backend", "embedded"]) == 0
    out = capsys.readouterr().out
    assert "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf" in out and "check passed" in out
    rate = float(re.search(r"([\d.]+) completion tokens/s", out).group(1))
    assert rate > 0


def test_version_matches_the_project_metadata(capsys):
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    declared = re.search(r'^version = "([^"]+)"', (PROJECT_ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    assert declared and declared.group(1) == __version__
    assert out.startswith(f"generate_synthetic_data.py {__version__} (Python ")

"""Settings: precedence, one-line errors with exit code 2, logging setup."""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import pytest

from generate_synthetic_data import main
from utilities.config import load_config
from utilities.engines.lmdeploy_engine import LmdeploySettings
from utilities.engines.openai_compat import OpenAISettings
from utilities.logger import setup_logging

BASE_URL_RULE = "API_BASE_URL must be comma-separated http:// or https:// URLs with a host"


def one_error_line(err: str) -> str:
    """What a bad setting prints on stderr: one error line in the log's format, never a traceback;
    returns its message."""
    assert err.count("\n") == 1 and "Traceback" not in err, err
    match = re.fullmatch(r"\d\d:\d\d:\d\d ERROR (.*)\n", err)
    assert match, err
    return match.group(1)


def test_precedence_default_then_env_file_then_environment_then_flag(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("# nothing set\n")
    assert load_config(["--env-file", str(env_file)], {}).section(LmdeploySettings).num_gpus == 1
    env_file.write_text("NUM_GPUS=2\nRELATED_SECTIONS=4\n")
    config = load_config(["--env-file", str(env_file)], {})
    assert (config.section(LmdeploySettings).num_gpus, config.plan.related_sections) == (2, 4)
    config = load_config(["--env-file", str(env_file)], {"NUM_GPUS": "3"})
    assert (config.section(LmdeploySettings).num_gpus, config.plan.related_sections) == (3, 4)
    config = load_config(["--env-file", str(env_file), "--num-gpus", "5"], {"NUM_GPUS": "3"})
    assert config.section(LmdeploySettings).num_gpus == 5


def test_dotenv_in_current_folder_is_read_by_default(monkeypatch, tmp_path):
    Path(".env").write_text("OUTPUT_DIR=elsewhere\nQUESTION_TYPES=fact_based,inference\n")
    config = load_config([], {})
    assert config.run.output_dir == Path("elsewhere")
    assert [q.value for q in config.plan.question_types] == ["FACT_BASED", "INFERENCE"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("NUM_GPUS", "two", "NUM_GPUS must be a positive integer, got 'two'"),
        ("NUM_GPUS", "0", "NUM_GPUS must be a positive integer, got '0'"),
        ("MAX_RETRIES", "-1", "MAX_RETRIES must be a non-negative integer, got '-1'"),
        ("RELATED_SECTIONS", "2.5", "RELATED_SECTIONS must be a non-negative integer, got '2.5'"),
        ("RELATED_MIN_SIMILARITY", "1.5", "RELATED_MIN_SIMILARITY must be a number between 0 and 1, got '1.5'"),
        ("MAX_SECTION_CHARS", "lots", "MAX_SECTION_CHARS must be a positive integer, got 'lots'"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'LOUD'"),
        ("MODEL", "  ", "MODEL must not be empty, got '  '"),
        ("QUESTION_TYPES", "FACTUAL_RECALL,NOPE", "QUESTION_TYPES has an unknown question type 'NOPE'"),
        ("API_BASE_URL", "not a url", f"{BASE_URL_RULE}, got 'not a url': not http:// or https://"),
        ("API_BASE_URL", "http://a:1/v1, ftp://b/v1", f"{BASE_URL_RULE}, got 'ftp://b/v1': not http://"),
        ("API_BASE_URL", "http:///v1", f"{BASE_URL_RULE}, got 'http:///v1': no host"),
        ("API_BASE_URL", "http://a:port/v1", f"{BASE_URL_RULE}, got 'http://a:port/v1': port 'port' is not a number"),
        (
            "API_BASE_URL",
            "http://127.0.0.1:99999/v1",
            f"{BASE_URL_RULE}, got 'http://127.0.0.1:99999/v1': port '99999' is not a number from 1 to 65535",
        ),
        ("MARKDOWN_DOCS_DIR", "docs\udcff", "MARKDOWN_DOCS_DIR must be a UTF-8 path, got b'docs\\xff'"),
        ("LOG_FILE", "run\udcfe.log", "LOG_FILE must be a UTF-8 path, got b'run\\xfe.log'"),
    ],
)
def test_bad_value_is_one_line_error_with_exit_code_2(monkeypatch, capsys, name, value, message):
    monkeypatch.setenv(name, value)
    assert main(["--dry-run"]) == 2
    assert one_error_line(capsys.readouterr().err).startswith(message)


def test_bad_flag_value_is_reported_the_same_way(capsys):
    assert main(["--num-gpus", "two"]) == 2
    assert one_error_line(capsys.readouterr().err) == "NUM_GPUS must be a positive integer, got 'two'"


def test_base_urls_are_split_and_stripped_of_trailing_slashes():
    config = load_config(["--api-base-url", " http://a:1/v1/ ,https://b.example/v1,, "], {})
    assert config.section(OpenAISettings).base_urls == ("http://a:1/v1", "https://b.example/v1")
    assert load_config([], {}).section(OpenAISettings).base_urls == ()


def test_a_named_env_file_that_does_not_exist_is_an_error(tmp_path, capsys):
    missing = tmp_path / "nonexistent.env"
    assert main(["--dry-run", "--env-file", str(missing)]) == 2
    assert one_error_line(capsys.readouterr().err) == f"--env-file {missing}: No such file or directory"


def test_env_file_that_is_not_utf8_names_the_line_and_byte(capsys):
    Path(".env").write_bytes(b"NUM_GPUS=2\nMODEL=caf\xe9-model\n")
    assert main(["--dry-run"]) == 2
    err = one_error_line(capsys.readouterr().err)
    assert err == ".env is not UTF-8 text: byte 0xe9 on line 2 (byte offset 20); save it as UTF-8"


@pytest.mark.parametrize(
    ("where", "problem"),
    [
        ("folder", "Is a directory"),
        ("under_a_file", "Not a directory"),
        ("/sys/kernel/synthetic.log", "Permission denied"),
    ],
)
def test_unwritable_log_file_is_one_line_exit_2(tmp_path, capsys, where, problem):
    (tmp_path / "folder").mkdir()
    (tmp_path / "a_file").write_text("")
    log_file = {"folder": tmp_path / "folder", "under_a_file": tmp_path / "a_file" / "run.log"}.get(where, where)
    assert main(["--dry-run", "--log-file", str(log_file)]) == 2
    err = one_error_line(capsys.readouterr().err)
    assert err.startswith(f"LOG_FILE must be a file this tool can write, got '{log_file}'") and problem in err


def test_log_colors_only_on_a_terminal_and_never_with_no_color(monkeypatch, tmp_path):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    log = logging.getLogger("synthetic_data.test")
    for stream, no_color, colored in ((io.StringIO(), None, False), (Terminal(), None, True), (Terminal(), "1", False)):
        if no_color:
            monkeypatch.setenv("NO_COLOR", no_color)
        setup_logging("INFO", None, stream)
        log.warning("careful")
        assert ("\x1b[" in stream.getvalue()) is colored
        assert "WARNING" in stream.getvalue() and "careful" in stream.getvalue()


def test_log_file_gets_plain_lines_and_level_filters(tmp_path):
    log_file = tmp_path / "logs" / "run.log"
    stream = io.StringIO()
    setup_logging("WARNING", log_file, stream)
    log = logging.getLogger("synthetic_data.test")
    log.info("hidden")
    log.warning("shown")
    setup_logging("INFO", None, io.StringIO())  # reconfiguring closes the file handler
    text = log_file.read_text()
    assert "shown" in text and "hidden" not in text and "\x1b[" not in text
    assert stream.getvalue().count("\n") == 1


def test_setup_logging_keeps_handlers_it_did_not_install():
    root = logging.getLogger("synthetic_data")
    foreign = logging.NullHandler()
    root.addHandler(foreign)
    try:
        setup_logging("INFO", None, io.StringIO())
        setup_logging("INFO", None, io.StringIO())
        assert foreign in root.handlers
        assert sum(getattr(h, "_installed_by_setup_logging", False) for h in root.handlers) == 1
    finally:
        root.removeHandler(foreign)


def test_each_setting_is_declared_once_and_engine_options_refuse_unknown_names():
    from pydantic import ValidationError

    from utilities.config import SETTINGS, SETTINGS_BY_ENV
    from utilities.engines import ENGINES

    assert len(SETTINGS_BY_ENV) == len(SETTINGS), "a setting is declared by two concerns"
    for engine in ENGINES.values():
        with pytest.raises(ValidationError, match="extra"):
            engine.Options(no_such_option=1)
    config = load_config(["--lmdeploy-batch-size", "8", "--model", "m"], {})
    assert config.section(ENGINES["lmdeploy"].Options).batch_size == 8
    assert config.section(ENGINES["openai"].Options).model == "m", "the openai engine uses MODEL too"
    with pytest.raises(ValidationError, match="frozen"):
        config.section(ENGINES["lmdeploy"].Options).batch_size = 1


def test_auto_takes_the_first_registered_engine_that_says_why_it_can_run(monkeypatch):
    from utilities import engines
    from utilities.engines import lmdeploy_engine

    monkeypatch.setattr(lmdeploy_engine, "cuda_gpu_visible", lambda: False)
    assert engines.choose("auto", load_config([], {}).section) == (
        "embedded",
        "no CUDA GPU with lmdeploy and no API_BASE_URL",
    )
    with_server = load_config(["--api-base-url", "http://gpu:23333/v1"], {})
    assert engines.choose("auto", with_server.section) == ("openai", "API_BASE_URL is set")
    assert engines.choose("embedded", with_server.section) == ("embedded", "BACKEND is set")


def test_an_engine_that_does_not_declare_itself_is_refused_by_name():
    from utilities import engines

    class Half:
        name = "half"
        packages = ()

    with pytest.raises(TypeError, match="does not declare auto_reason, verifies_by_default, Options"):
        engines.register(Half)
    assert "half" not in engines.ENGINES
    assert main(["--dry-run", "--backend", "half"]) == 2

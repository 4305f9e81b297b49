"""Question types against the specification's table, and guard tests on the docs."""

from __future__ import annotations

import re

from models.question_types import QUESTION_TYPE_DIFFICULTY, QUESTION_TYPE_SPECS, QuestionType, Split

from .conftest import PROJECT_ROOT, SHARED, beside_checkout

README = (PROJECT_ROOT / "README.md").read_text()
SPEC = SHARED / "seed" / "original-README.md"


def table_rows(markdown: str) -> dict[str, str]:
    return {
        m.group(1): m.group(2).lower()
        for m in re.finditer(r"^\| *([A-Z_]{5,}) *\| *(Easy|Medium|Hard) *\|", markdown, re.M)
    }


def test_fifteen_types_with_names_as_values():
    assert len(QuestionType) == 15
    assert all(qt.value == qt.name for qt in QuestionType)
    assert set(QUESTION_TYPE_DIFFICULTY) == set(QuestionType) == set(QUESTION_TYPE_SPECS)


def test_difficulties_match_the_specification_table():
    spec = table_rows(beside_checkout(SPEC).read_text())
    assert len(spec) == 15, "the specification's table is read"
    assert {qt.value: d.value for qt, d in QUESTION_TYPE_DIFFICULTY.items()} == spec


def test_readme_lists_every_type_with_its_difficulty():
    assert {qt.value: d.value for qt, d in QUESTION_TYPE_DIFFICULTY.items()} == table_rows(README)


def test_only_section_summaries_feed_eval():
    assert [qt for qt, spec in QUESTION_TYPE_SPECS.items() if spec.split is Split.EVAL] == [
        QuestionType.SECTION_SUMMARY
    ]


def test_every_env_example_setting_has_a_working_flag_a_help_line_and_a_readme_row(capsys):
    """Driven by .env.example: each name there is read by the code, has a CLI flag wired to it,
    is in --help with its env name and default, and has a README row naming the same flag and default."""
    from generate_synthetic_data import main
    from utilities.config import SETTINGS_BY_ENV, build_arg_parser

    example = (PROJECT_ROOT / ".env.example").read_text()
    names = re.findall(r"^([A-Z_]+)=", example, re.M)
    assert set(names) == set(SETTINGS_BY_ENV), "the settings the code reads and .env.example differ"
    options = build_arg_parser()._option_string_actions
    assert main(["--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    for name in names:
        setting = SETTINGS_BY_ENV[name]
        assert options[setting.flag].dest == setting.field, f"{setting.flag} does not set {name}"
        assert re.search(rf"{setting.flag} \[?{name}\]?", help_text), f"{setting.flag} not in --help"
        assert f"[env {name}, default {setting.default!r}]" in help_text
        example_value = re.search(rf"^{name}=(.*)$", example, re.M).group(1)
        assert example_value == setting.default, f".env.example gives {name} a value other than its default"
        row = re.search(rf"^\| `{name}` \| `([^`]+)` \| ([^|]+) \|", README, re.M)
        assert row, f"{name} has no README table row"
        assert row.group(1) == setting.flag
        assert row.group(2).strip() == (f"`{setting.default}`" if setting.default else "(none)"), name
    for flag in ("--dry-run", "--check", "--fresh", "--version", "--env-file"):
        assert flag in options and flag in help_text and f"`{flag}" in README, flag


def test_ci_runs_the_readme_test_command_verbatim():
    command = re.search(r"<!-- test-command -->\n```bash\n(.+?)\n```", README, re.S).group(1)
    assert command in (PROJECT_ROOT / ".ci" / "run").read_text()


def test_readme_states_every_answer_budget_as_declared():
    rows = dict(re.findall(r"^\| ([A-Z_]{5,}) \|.*\| ([a-z ]+, ≤ \d+ chars, ≥ \d+ words?) \|$", README, re.M))
    assert set(rows) == {qt.value for qt in QuestionType}
    for qt, spec in QUESTION_TYPE_SPECS.items():
        budget = spec.answer
        word = "word" if budget.min_words == 1 else "words"
        assert rows[qt.value] == f"{budget.length}, ≤ {budget.max_chars} chars, ≥ {budget.min_words} {word}"

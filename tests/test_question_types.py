"""Question types against the specification's table, and guard tests on the docs."""

from __future__ import annotations

import re

import pytest

from models.question_types import QUESTION_TYPE_DIFFICULTY, QUESTION_TYPE_SPECS, QuestionType, Split
from utilities.config import SETTINGS

from .conftest import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()
SPEC = PROJECT_ROOT.parent / "shared" / "seed" / "original-README.md"


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
    if not SPEC.is_file():
        pytest.skip("specification not beside the checkout")
    spec = table_rows(SPEC.read_text())
    assert {qt.value: d.value for qt, d in QUESTION_TYPE_DIFFICULTY.items()} == spec


def test_readme_lists_every_type_with_its_difficulty():
    assert {qt.value: d.value for qt, d in QUESTION_TYPE_DIFFICULTY.items()} == table_rows(README)


def test_only_section_summaries_feed_eval():
    assert [qt for qt, spec in QUESTION_TYPE_SPECS.items() if spec.split is Split.EVAL] == [
        QuestionType.SECTION_SUMMARY
    ]


def test_every_setting_is_in_env_example_and_the_readme_table():
    example = (PROJECT_ROOT / ".env.example").read_text()
    for setting in SETTINGS:
        assert re.search(rf"^{setting.env}=", example, re.M), f"{setting.env} missing from .env.example"
        assert re.search(rf"^\| `{setting.env}` \|", README, re.M), f"{setting.env} missing from README table"
        assert setting.flag in README, f"{setting.flag} missing from README"
    names = set(re.findall(r"^([A-Z_]+)=", example, re.M))
    assert names == {s.env for s in SETTINGS}, "a variable in .env.example that the code does not read"


def test_ci_runs_the_readme_test_command_verbatim():
    command = re.search(r"<!-- test-command -->\n```bash\n(.+?)\n```", README, re.S).group(1)
    assert command in (PROJECT_ROOT / ".ci" / "run").read_text()

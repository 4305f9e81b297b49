"""The labelled sets (benchmarks/data/labelled_qwen1.5b*.jsonl): well formed, and the gates judged on them."""

from __future__ import annotations

import json
import sys

import pytest

from utilities.file_utils import load_documents

from .conftest import PROJECT_ROOT

DATA = PROJECT_ROOT / "benchmarks" / "data"
SET = DATA / "labelled_qwen1.5b.jsonl"
SETS = sorted(DATA.glob("labelled_qwen1.5b*.jsonl"))


def rows(path=SET) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("path", SETS, ids=lambda p: p.name)
def test_every_pair_has_two_readings_and_the_final_label_is_their_verdict(path):
    data = rows(path)
    assert len({r["id"] for r in data}) == len(data) >= 32  # the smallest: the recall pairs of four short how-tos
    for row in data:
        first, second = (reading["label"] for reading in row["readers"])
        assert {first, second} <= {"good", "bad"}
        expected = first if first == second else row["third_reader"]["label"]
        assert row["label"] == expected, row["id"]
        assert row["question"].strip() and row["answer"].strip() and row["request_completion_tokens"] > 0
    good = sum(r["label"] == "good" for r in data)
    assert 0 < good < len(data), "a set of one label cannot measure a gate"


# Good pairs the gates keep on each set, measured (python benchmarks/bench_labelled_pairs.py), minus a margin
# of one or two. Before the verdict, blank-term, source-term, short-answer, question-anchored evidence and
# asks-only changes: 7/19, 5/24 and 8/23 kept pairs good; after: 14/29, 16/40 and 11/27 (precision 48%, 40%,
# 41%; recall 52%, 57%, 42%). With numbers in found evidence, identifier words and the unsourced gate:
# 15/30, 17/37 and 12/28; with answers that talk about their source rejected: 15/29, 17/34 and 12/27. The
# README's first command on the sample (two and four pairs per request): 7/16 and 9/26. With hedges, verdicts'
# evidence found from their statement, two-underscore blanks and references back: 16/29, 17/35, 12/27, 10/18
# and 13/31.
KEPT_GOOD_FLOORS = {
    "labelled_qwen1.5b_t07.jsonl": 15,
    "labelled_qwen1.5b_t02.jsonl": 16,
    "labelled_qwen1.5b.jsonl": 11,
    "labelled_qwen1.5b_sample_q2.jsonl": 9,
    "labelled_qwen1.5b_sample_q4.jsonl": 12,
    "labelled_qwen1.5b_sample_r2.jsonl": 8,
    "labelled_qwen1.5b_sample_r3.jsonl": 6,
    "labelled_qwen1.5b_sample_r4.jsonl": 12,
    "labelled_qwen1.5b_sample_r5.jsonl": 6,
    "labelled_qwen1.5b_sample_r6.jsonl": 7,
    "labelled_qwen1.5b_sample_r7.jsonl": 11,
    "labelled_qwen1.5b_sample_r8.jsonl": 7,
    "labelled_qwen1.5b_sample_r9.jsonl": 8,
    "labelled_qwen1.5b_sample_r11.jsonl": 9,
    "labelled_qwen1.5b_sample_r12.jsonl": 7,
    "labelled_qwen1.5b_sample_r13.jsonl": 8,
    "labelled_qwen1.5b_sample_r14.jsonl": 6,
    "labelled_qwen1.5b_sample_r15.jsonl": 7,
    "labelled_qwen1.5b_sample_r18.jsonl": 9,
    "labelled_qwen1.5b_sample_r19.jsonl": 9,
    "labelled_qwen1.5b_sample_r20.jsonl": 7,
    "labelled_qwen1.5b_sample_r28.jsonl": 15,
    "labelled_qwen1.5b_sample_r29.jsonl": 11,
    "labelled_qwen1.5b_sample_r30.jsonl": 11,
    "labelled_qwen1.5b_sample_r31.jsonl": 20,
    "labelled_qwen1.5b_sample_r32.jsonl": 24,
    "labelled_qwen1.5b_sample_r33.jsonl": 20,
    "labelled_qwen1.5b_sample_r38.jsonl": 35,
    "labelled_qwen1.5b_sample_r39.jsonl": 40,
    "labelled_qwen1.5b_sample_r40.jsonl": 44,
    "labelled_qwen1.5b_sample_r41.jsonl": 39,
    "labelled_qwen1.5b_sample_r42.jsonl": 35,
    "labelled_qwen1.5b_sample_r44.jsonl": 20,
    "labelled_qwen1.5b_heldout_r45.jsonl": 52,
    "labelled_qwen1.5b_sample_r46.jsonl": 34,
    "labelled_qwen1.5b_heldout_r48.jsonl": 48,
    "labelled_qwen1.5b_heldout_r49.jsonl": 60,
    "labelled_qwen1.5b_heldout_r52.jsonl": 58,
    "labelled_qwen1.5b_heldout_r54.jsonl": 50,
    "labelled_qwen1.5b_sample_r55.jsonl": 46,
    "labelled_qwen1.5b_sample_r56.jsonl": 9,
    "labelled_qwen1.5b_heldout_r56.jsonl": 11,
    "labelled_qwen1.5b_sample_r57.jsonl": 44,
    "labelled_qwen1.5b_open_r58.jsonl": 10,
}


def test_the_gates_on_each_labelled_set_keep_better_than_the_set_and_at_least_the_floor(shared_corpus, capsys):
    """Floors: more good kept pairs than ``KEPT_GOOD_FLOORS``, and a kept share of good pairs above the set's own."""
    sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
    import bench_labelled_pairs

    assert bench_labelled_pairs.run(["--docs", str(shared_corpus)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert sorted(KEPT_GOOD_FLOORS) == sorted(p.name for p in SETS if p.name not in bench_labelled_pairs.UNSHIPPED_SETS)
    for name, floor in KEPT_GOOD_FLOORS.items():
        at = printed.index(next(x for x in printed if x.startswith(f"{name}: ")))
        line = next(x for x in printed[at:] if x.startswith("gates: "))
        kept_good, kept = map(int, line.split("precision ")[1].split("(")[1].split(")")[0].split("/"))
        data = rows(DATA / name)
        share = sum(r["label"] == "good" for r in data) / len(data)
        assert kept_good >= floor and kept_good / kept > share, (name, line)
    assert sum("good kept pairs per 1,000 completion tokens" in x for x in printed) == len(KEPT_GOOD_FLOORS)


AB_FEWSHOT = DATA / "ab_fewshot_heldout.jsonl"


def key(row: dict) -> tuple:
    """A pair as the A/B packet showed it: its answer as the model wrote it (the sets name the document since)."""
    return row["section_index"], row["question"], row.get("answer_as_written", row["answer"])


def test_the_prompt_ab_holds_each_arms_pairs_once_with_a_verdict_of_its_readings():
    """Arm A is r52's pairs and arm B r54's, each distinct pair once, labelled as the labelled sets are."""
    data = rows(AB_FEWSHOT)
    for row in data:
        first, second = (reading["label"] for reading in row["readers"])
        assert row["label"] == (first if first == second else row["third_reader"]["label"]), row["id"]
        assert set(row["arms"]) <= {"A", "B"} and row["arms"]
    for arm, name in (("A", "labelled_qwen1.5b_heldout_r52.jsonl"), ("B", "labelled_qwen1.5b_heldout_r54.jsonl")):
        written = {key(r) for r in rows(DATA / name)}
        read = [key(r) for r in data if arm in r["arms"]]
        assert len(read) == len(set(read)) and set(read) == written, arm
    labels = {key(r): r["label"] for r in data if "B" in r["arms"]}
    # a pair whose answer the sets now name was read again so named (its label may differ)
    as_read = [r for r in rows(DATA / "labelled_qwen1.5b_heldout_r54.jsonl") if "answer_as_written" not in r]
    assert as_read and all(labels[key(r)] == r["label"] for r in as_read)


def test_the_prompt_ab_bench_prints_both_arms_judged_by_todays_gates(shared_corpus, capsys):
    sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
    import bench_prompt_ab

    assert bench_prompt_ab.run(shared_corpus) == 0
    printed = capsys.readouterr().out
    for arm in ("arm A", "arm B"):
        block = printed.split(arm, 1)[1]
        kept = int(block.split("all: kept ")[1].split(",")[0])
        assert 0 < kept < int(block.split(": ")[1].split(" pairs")[0]), block[:200]


def test_the_item_context_ab_reads_each_item_twice_each_way_and_its_bench_prints_both_shares(capsys):
    data = rows(DATA / "ab_item_context.jsonl")
    assert len({r["id"] for r in data}) == len(data) >= 70
    for row in data:
        assert set(row["readers"]) == {"A", "B", "C", "D"} and row["context_for"] in ("AB", "CD")
        label, _, sentence = row["named"].partition(": ")
        assert row["with_context"] == f"{label}: {row['context']} {sentence}" and "____" in sentence
    sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
    import bench_item_context

    assert bench_item_context.run() == 0
    printed = capsys.readouterr().out
    line = next(x for x in printed.splitlines() if x.startswith(f"all items ({len(data)}): "))
    assert line.count(f"/{2 * len(data)} (") == 2, line  # two readings with context and two without, per item


def test_a_git_howto_becomes_a_document_with_its_title_code_and_link_text(tmp_path):
    """``git_howto_docs.py`` rebuilds the documents of the unshipped how-to set: mail headers go, the underlined
    title becomes the heading and the frontmatter's title, "----" blocks become fences, links keep their text."""
    sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
    import git_howto_docs

    howto = (
        "From: A Writer <a@example.org>\nSubject: [HOWTO] Fixing it\n\n"
        "How to fix it\n=============\n\nI ran fsck, see link:other.html[this howto] and linkgit:git-fsck[1]:\n\n"
        "------------\n$ git fsck\n------------\n\n****\nNote: a sidebar.\n****\n"
    )
    document = git_howto_docs.convert(howto, "A Writer")
    assert document.startswith('---\ntitle: "How to fix it"\nauthor: "A Writer"\n')
    assert "From:" not in document and "****" not in document and "=====" not in document
    assert "# How to fix it\n\nI ran fsck, see this howto and git-fsck(1):\n\n```\n$ git fsck\n```\n" in document
    (tmp_path / "fix.md").write_text(document)
    [loaded] = load_documents(tmp_path).documents
    assert loaded.metadata["author"] == "A Writer" and [s.title for s in loaded.sections] == ["How to fix it"]

"""--curate: the gates and the verify pass over existing datasets, written back unchanged.

Everything runs for real (documents, TF-IDF, gates, files) through ``main``; only
the engine is scripted, and it answers verify requests from what each request says.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from generate_synthetic_data import EXIT_UNFINISHED, main
from utilities.curate import RecordError, SourceIndex, read_pair
from utilities.engines.base import EngineRequest, EngineResult, TextPart
from utilities.file_utils import load_documents
from utilities.quality import choose_evidence

from .helpers import write_small_doc

RUST = "rust_book_ch14_cargo"
# Two pairs a reader could write from the Cargo chapter, each answered by one of its sentences, and one
# about something the corpus never mentions.
INSTALL = (
    "Where are the binaries installed with cargo install stored?",
    "All binaries installed with `cargo install` are stored in the installation root’s *bin* folder.",
    "Installing Binaries with cargo install",
)
SUBCOMMAND = (
    "How can a binary named cargo-something be run as a Cargo subcommand?",
    "If a binary in your `$PATH` is named `cargo-something`, you can run it as if it were a Cargo subcommand "
    "by running `cargo something`.",
    "Extending Cargo with Custom Commands",
)
RESERVE = ("What sets the lower bound of the blob base fee?", "The blob base fee is bounded below by a reserve price.")
UNRELATED = (
    "What is the boiling point of liquid nitrogen at sea level?",
    "Liquid nitrogen boils at about minus 196 degrees Celsius under normal atmospheric pressure.",
)


def generate(docs: Path, out: Path, *extra: str) -> int:
    args = ["--docs-dir", str(docs), "--output-dir", str(out), "--backend", "fake", "--verify", "none"]
    return main([*args, "--question-types", "FACTUAL_RECALL,INFERENCE", "--questions-per-request", "2", *extra])


def curate(docs: Path, out: Path, *files: Path, verify: str = "none", extra: tuple[str, ...] = ()) -> int:
    args = ["--docs-dir", str(docs), "--output-dir", str(out), "--verify", verify, *extra]
    return main([*args, "--log-file", str(out.parent / f"{out.name}.log"), "--curate", *map(str, files)])


def chat(question: str, answer: str, system: str = "You answer questions about Rust.") -> dict:
    return {
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
    }


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def only(out: Path, pattern: str) -> Path:
    found = sorted(out.glob(pattern))
    assert len(found) == 1, (pattern, found)
    return found[0]


def rejects(out: Path) -> list[dict]:
    return [
        json.loads(line) for f in sorted(out.glob("rejects-curated-*.jsonl")) for line in f.read_text().splitlines()
    ]


def report(out: Path) -> dict:
    return json.loads(only(out, "report-curate-*.json").read_text())


# --- reading records --------------------------------------------------------------------------


def test_every_export_layout_reads_as_the_same_pair():
    question, answer = "What does the reserve price equal?", "It equals BLOB_BASE_COST times the base fee."
    think = f"<think>\nStep 1: The source states the rule.\nStep 2: Restate it.\n</think>\n\n{answer}"
    layouts = {
        "phi": {
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": question}, {"type": "image_url", "image_url": {"url": "notes/F.png", "detail": "auto"}}]},  # noqa: E501
                {"role": "assistant", "content": think},
            ],
            "metadata": {"document": "notes", "section_index": 0, "figures": ["FIGURE_1.1"]},
        },
        "sharegpt": {"messages": [{"role": "user", "content": f"<image>{question}"}, {"role": "assistant", "content": think}], "images": ["../docs/notes/F.png"]},  # noqa: E501
        "internvl": {"image": "x/F.png", "conversations": [{"from": "human", "value": f"<image>\n{question}"}, {"from": "gpt", "value": think}]},  # noqa: E501
        "internvl_two_images": {"image": ["a.png", "b.png"], "conversations": [{"from": "human", "value": f"Image-1: <image>\nImage-2: <image>\n{question}"}, {"from": "gpt", "value": answer}]},  # noqa: E501
        "hf": {"messages": [{"role": "user", "content": [{"type": "image", "text": None}, {"type": "text", "text": question}]}, {"role": "assistant", "content": [{"type": "text", "text": think}]}], "images": ["F.png"]},  # noqa: E501
        "plain": {"question": question, "answer": answer},
    }  # fmt: skip
    pairs = {name: read_pair(record) for name, record in layouts.items()}
    assert {(p.question, p.answer) for p in pairs.values()} == {(question, answer)}
    assert pairs["phi"].reasoning_steps == ("The source states the rule.", "Restate it.")
    assert pairs["hf"].reasoning_steps == pairs["phi"].reasoning_steps
    assert pairs["plain"].reasoning_steps == ()
    assert pairs["phi"].hints.figures == ("FIGURE_1.1",) and pairs["phi"].hints.section_index == 0
    assert pairs["internvl_two_images"].hints.images == ("a.png", "b.png")
    assert pairs["sharegpt"].hints.images == ("../docs/notes/F.png",)


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ([1, 2], "is an array, not an object"),
        ({"text": "hello"}, "has no messages, no conversations, and no question and answer"),
        ({"messages": [{"role": "user", "content": "Why is it so?"}]}, "has no assistant turn"),
        ({"messages": [{"role": "assistant", "content": "Because."}]}, "has no user turn before"),
        ({"messages": "hi"}, "messages is a string, not an array of turns"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages turn 1 has role 'tool'"),
        ({"question": "Why?", "answer": 42}, "answer is a number, not text"),
    ],
)
def test_a_record_without_a_pair_says_why(record, problem):
    with pytest.raises(RecordError, match=re.escape(problem)):
        read_pair(record)


def test_evidence_covers_the_answer_greedily():
    quotes = ("Cargo builds crates.", "The release profile enables optimizations.", "Profiles are set in Cargo.toml.")
    answer = "The release profile enables optimizations, set in Cargo.toml."
    assert choose_evidence(answer, quotes) == quotes[1:]
    assert choose_evidence(answer, quotes, limit=1) == quotes[1:2]
    assert choose_evidence("Penguins waddle.", quotes) == ()


def test_a_pair_without_metadata_finds_its_section(shared_corpus):
    documents = load_documents(shared_corpus).documents
    pairs = [read_pair(chat(q, a)) for q, a, _ in (INSTALL, SUBCOMMAND)]
    found = SourceIndex(documents).locate(pairs)
    assert [(s.document.name, s.located_by) for s in found] == [(RUST, "similarity")] * 2
    titles = [s.document.sections[s.section_index].title for s in found]
    assert [t.rsplit(" > ", 1)[-1] for t in titles] == [INSTALL[2], SUBCOMMAND[2]]
    assert all(s.similarity > 0.2 for s in found)

    # A section_index whose title no longer matches (the document changed) gives way to the title.
    install = found[0]
    title = install.document.sections[install.section_index].title
    moved = {**chat(*INSTALL[:2]), "metadata": {"document": RUST, "section_index": 0, "section": title}}
    (source,) = SourceIndex(documents).locate([read_pair(moved)])
    assert (source.section_index, source.located_by) == (install.section_index, "section_title")


# --- curating through the CLI -----------------------------------------------------------------


def test_curating_this_tools_output_keeps_its_records_and_rejects_corrupted_ones(docs_dir, fake_backend, tmp_path):
    write_small_doc(docs_dir)
    generated = tmp_path / "generated"
    assert generate(docs_dir, generated) == 0
    records = json.loads(only(generated, "train-notes-synthetic-data-*.json").read_text())
    assert len(records) >= 4
    invented, looping = json.loads(json.dumps(records[0])), json.loads(json.dumps(records[2]))
    invented["messages"][1]["content"] = "Quantum zorblax manifolds recalibrate every fortnight under lunar tides."
    looping["messages"][1]["content"] = "The blob base fee keeps rising. " * 8
    mixed = [invented, records[1], looping, *records[3:]]
    source = tmp_path / "mixed.json"
    source.write_text(json.dumps(mixed, indent=2))

    out = tmp_path / "curated"
    assert curate(docs_dir, out, source) == 0
    kept = json.loads(only(out, "curated-mixed-*.json").read_text())
    assert kept == [records[1], *records[3:]], "every untouched record, unchanged and in order"
    lines = {line["record_number"]: line for line in rejects(out)}
    assert set(lines) == {1, 3}
    assert lines[1]["gate"] == "evidence_support" and lines[1]["record"] == invented
    assert lines[3]["gate"] == "degenerate" and lines[3]["record"] == looping
    assert all(line["detail"] and line["source"]["located_by"] == "section_index" for line in lines.values())
    assert all(line["evidence_from"] == "record" for line in lines.values()), "the records' own metadata.evidence"
    row = report(out)["curate"]["files"][str(source)]
    assert (row["records"], row["unreadable"], row["kept"]) == (len(mixed), 0, len(kept))
    assert row["rejections"]["evidence_support"] == row["rejections"]["degenerate"] == 1
    assert row["kept"] + sum(row["rejections"].values()) == row["records"]


def test_kept_items_name_their_source_and_curating_them_keeps_every_one(docs_dir, fake_backend, tmp_path):
    """The dataset's items say where they come from (after the gates, which judge the item as built), and the
    name trips no gate when --curate judges the records as written."""
    write_small_doc(docs_dir)
    generated = tmp_path / "generated"
    assert generate(docs_dir, generated, "--question-types", "TRUE_FALSE_FILL_BLANK") == 0
    written = only(generated, "train-notes-synthetic-data-*.json")
    records = json.loads(written.read_text())
    questions = [r["messages"][0]["content"][0]["text"] for r in records]
    named = re.compile(r'(Fill in the blank|True or false) \(from "Blob fee notes", section "[^"]+"\): ')
    assert questions and all(named.match(q) for q in questions), questions
    assert all(r["metadata"]["section"].split(" > ")[-1] in q for r, q in zip(records, questions)), questions
    out = tmp_path / "curated"
    assert curate(docs_dir, out, written) == 0
    assert only(out, "curated-train-*.json").read_bytes() == written.read_bytes(), "every item kept, as written"
    assert not rejects(out)


def test_every_format_this_tool_writes_can_be_curated(docs_dir, fake_backend, tmp_path):
    write_small_doc(docs_dir)
    generated = tmp_path / "generated"
    assert generate(docs_dir, generated, "--output-formats", "phi,jsonl,sharegpt,internvl,hf") == 0
    phi = json.loads(only(generated, "train-notes-synthetic-data-*.json").read_text())
    assert any(r["metadata"]["figures"] for r in phi), "some pairs carry the figure"
    inputs = {
        "jsonl": only(generated, "train-notes-synthetic-data-*.jsonl"),
        "sharegpt": only(generated, "sharegpt-train-*.json"),
        "internvl": only(generated, "internvl-train-*.jsonl"),
        "hf": only(generated, "hf-*") / "train.parquet",
    }
    for name, path in inputs.items():
        out = tmp_path / f"curated-{name}"
        assert curate(docs_dir, out, path) == 0, name
        written = only(out, f"curated-{path.stem}-*{path.suffix}")
        assert written.read_bytes() == path.read_bytes() or name == "hf", f"{name}: every record kept, byte for byte"
        row = report(out)["curate"]["files"][str(path)]
        assert row["kept"] == row["records"] == len(phi), name
        by = "section_index" if name == "jsonl" else "section_title"
        assert row["located_by"][by] == len(phi), name
    import pyarrow.parquet as pq

    hf_out = only(tmp_path / "curated-hf", "curated-train-*.parquet")
    assert pq.read_table(hf_out).equals(pq.read_table(inputs["hf"]))


def test_hand_written_pairs_without_metadata_are_checked_against_the_corpus(corpus_copy, tmp_path):
    good = [chat(*INSTALL[:2]), {"question": SUBCOMMAND[0], "answer": SUBCOMMAND[1]}]
    bad = chat(*UNRELATED)
    source = write_jsonl(tmp_path / "mine.jsonl", [good[0], bad, good[1]])
    out = tmp_path / "out"
    assert curate(corpus_copy, out, source) == 0
    written = only(out, "curated-mine-*.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in written] == good
    assert written == [source.read_text().splitlines()[i] for i in (0, 2)], "lines written back byte for byte"
    (line,) = rejects(out)
    assert line["record_number"] == 2 and line["record"] == bad and line["file"] == str(source)
    assert line["gate"] in ("grounding", "evidence_support") and line["detail"]
    assert line["source"]["located_by"] == "similarity" and line["question_type"] == "FACTUAL_RECALL"
    assert line["evidence_from"] == "source"
    row = report(out)["curate"]["files"][str(source)]
    assert (row["records"], row["kept"], row["default_question_type"]) == (3, 2, 3)
    assert row["located_by"]["similarity"] == 3


def test_a_malformed_file_or_record_is_one_line_and_the_rest_goes_on(docs_dir, tmp_path):
    write_small_doc(docs_dir)
    broken = tmp_path / "broken.json"
    broken.write_text('[{"question": "What is the reserve price?", "answer": "It is')
    odd = tmp_path / "pairs.csv"
    odd.write_text("question,answer\n")
    good = chat(*RESERVE)
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(json.dumps(good) + "\n{not json\n\n" + json.dumps({"messages": []}) + "\n")
    out = tmp_path / "out"
    assert curate(docs_dir, out, broken, mixed, odd) == 0
    errors = [line for line in (tmp_path / "out.log").read_text().splitlines() if "ERROR" in line]
    assert len([e for e in errors if "broken.json" in e]) == 1
    assert any("broken.json: is not valid JSON: Unterminated string starting at, line 1 column" in e for e in errors)
    assert any("pairs.csv: has suffix '.csv'" in e for e in errors)
    assert any("mixed.jsonl: line 2: is not valid JSON: Expecting property name" in e for e in errors)
    assert any("mixed.jsonl: line 4: has no assistant turn" in e for e in errors)
    assert [json.loads(line) for line in only(out, "curated-mixed-*.jsonl").read_text().splitlines()] == [good]
    assert not list(out.glob("curated-broken-*")), "no output for a file that could not be read"
    assert [(r["record_number"], r["gate"]) for r in rejects(out)] == [(2, "unreadable"), (4, "unreadable")]
    summary = report(out)["curate"]
    assert summary["files_unreadable"] == 2 and summary["files"][str(broken)]["error"].startswith("is not valid")
    assert (summary["totals"]["records"], summary["totals"]["unreadable"], summary["totals"]["kept"]) == (3, 2, 1)


def test_nothing_is_overwritten_and_nothing_kept_exits_1(docs_dir, tmp_path):
    write_small_doc(docs_dir)
    good = chat(*RESERVE)
    source = write_jsonl(tmp_path / "pairs.jsonl", [good])
    out = tmp_path / "out"
    assert curate(docs_dir, out, source) == 0
    first = only(out, "curated-pairs-*.jsonl")
    before = first.read_bytes()
    assert curate(docs_dir, out, source) == 0
    written = sorted(out.glob("curated-pairs-*.jsonl"))
    assert len(written) == 2 and first.read_bytes() == before
    assert all(p.read_bytes() == source.read_bytes() for p in written)
    assert len(list(out.glob("report-curate-*.json"))) == 2

    unrelated = write_jsonl(tmp_path / "unrelated.jsonl", [chat(*UNRELATED)])
    assert curate(docs_dir, tmp_path / "out2", unrelated) == 1
    assert only(tmp_path / "out2", "curated-unrelated-*.jsonl").read_bytes() == b""


# --- the verify pass --------------------------------------------------------------------------


def text_of(request: EngineRequest) -> str:
    return "".join(p.text for p in request.parts if isinstance(p, TextPart))


def is_answerability(request: EngineRequest) -> bool:
    return "answerable" in request.schema.get("properties", {})


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z][a-z-]+", text.lower()) if len(w) > 3}


def reads_the_source(request: EngineRequest) -> str:
    """A verifier that reads only its request: the question is answerable when the cited sentences hold
    most of its words, and the answer is what those sentences say."""
    assert is_answerability(request), "curate sends no generation request"
    text = text_of(request)
    block = text.split("## Sentences cited for this pair", 1)[1].split("# Question", 1)[0]
    cited = " ".join(line[2:] for line in block.strip().splitlines() if line.startswith("- "))
    question = text.split("# Question\n\n", 1)[1].split("\n", 1)[0]
    answerable = len(words(question) & words(cited)) * 2 >= len(words(question))
    return json.dumps({"answerable": answerable, "answer": cited if answerable else ""})


def test_answerability_keeps_answered_pairs_and_a_rerun_resumes_from_the_journal(corpus_copy, fake_backend, tmp_path):
    # The second pair is well formed and grounded, but its answer does not answer its question.
    question = "Which command lists the custom Cargo subcommands you installed?"
    mismatched = chat(question, "Ensure that this directory is in your `$PATH` to run programs installed with Cargo.")
    source = write_jsonl(tmp_path / "mine.jsonl", [chat(*INSTALL[:2]), mismatched, chat(*SUBCOMMAND[:2])])
    out = tmp_path / "out"
    args = ("--backend", "fake")

    engine_down = EngineResult(error="server gone", finish_reason="error", transient=True)
    fake_backend.enqueue(reads_the_source)  # the first verdict arrives, then the engine goes away
    fake_backend.default = lambda request: engine_down
    assert curate(corpus_copy, out, source, verify="answerability", extra=args) == EXIT_UNFINISHED
    assert not list(out.glob("curated-*")), "nothing is written before every verify request is finished"
    assert len(fake_backend.history) == 3

    fake_backend.history.clear()
    fake_backend.default = reads_the_source
    assert curate(corpus_copy, out, source, verify="answerability", extra=args) == 0
    assert len(fake_backend.history) == 2, "the journaled verdict was not asked again"
    kept = [json.loads(line) for line in only(out, "curated-mine-*.jsonl").read_text().splitlines()]
    assert kept == [chat(*INSTALL[:2]), chat(*SUBCOMMAND[:2])]
    (line,) = rejects(out)
    assert line["record_number"] == 2 and line["gate"] == "answerability" and line["record"] == mismatched
    assert line["verify"] == {"answerability": {"answerable": False, "answer": ""}}
    summary = report(out)
    row = summary["curate"]["files"][str(source)]
    assert row["verify_requests"] == 3 and row["verify_completion_tokens"] > 0
    assert row["rejections"]["answerability"] == 1
    assert summary["verify"]["requests"] == 3 and summary["verify"]["resumed"] == 1


def test_readme_documents_every_key_of_the_curate_report(docs_dir, fake_backend, tmp_path):
    from .conftest import PROJECT_ROOT

    write_small_doc(docs_dir)
    out = tmp_path / "out"
    assert generate(docs_dir, out) == 0
    (train,) = out.glob("train-*.json")
    assert curate(docs_dir, tmp_path / "curated", train) == 0
    block = report(tmp_path / "curated")["curate"]
    (row,) = block["files"].values()
    readme = (PROJECT_ROOT / "README.md").read_text()
    keys = [*block, *row, *row["located_by"]]
    assert row["records"] > 0 and keys
    for key in keys:
        assert f"`{key}`" in readme, key

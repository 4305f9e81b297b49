"""Collect every pair a run generated into a set to label blind, and read labels back into it.

    python benchmarks/build_labelled_set.py collect OUTPUT_DIR [OUTPUT_DIR ...] --docs DOCS --out SET.jsonl
    python benchmarks/build_labelled_set.py packet SET.jsonl --docs DOCS --out PACKET.md
    python benchmarks/build_labelled_set.py merge SET.jsonl LABELS_A.json LABELS_B.json [--third LABELS_C.json]

``collect`` reads each run's journal (every pair of every accepted reply) and its
kept records, and writes one line per pair: the pair, its request, document,
section and the related sections the model was shown, and ``run_kept`` (whether
the run wrote it to a dataset file). ``packet`` writes what a reader sees, per
../shared/RUBRIC.md: each pair's section text, related sections, question, answer
and evidence, by id, and nothing about what the run kept. ``merge`` adds the two
readers' labels and the final label (agreed, or the third reading where they
differ) to the set. ``bench_labelled_pairs.py`` measures gates and verifiers on it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models.question_types import QuestionType  # noqa: E402
from utilities.file_utils import load_documents  # noqa: E402
from utilities.naming import name_document, name_document_in_answer  # noqa: E402
from utilities.outputs.examples import written_question  # noqa: E402
from utilities.planner import plan_requests, thin_section_reason  # noqa: E402
from utilities.type_forms import without_source  # noqa: E402


def _kept_questions(out: Path) -> Counter[tuple[str, str]]:
    """How many times the run wrote each (request, question): a question a reply asked twice may be kept once."""
    kept: Counter[tuple[str, str]] = Counter()
    for path in [*out.glob("train-*.json"), *out.glob("eval-*.json")]:
        for record in json.loads(path.read_text()):
            question = without_source(record["messages"][0]["content"][0]["text"])  # as the gates judged it
            kept[(record["metadata"]["request"], question)] += 1
    return kept


def _take(kept: Counter[tuple[str, str]], key: tuple[str, str]) -> bool:
    """Whether one more copy of ``key`` was kept; the first copies of a question take the run's kept ones."""
    if kept[key] <= 0:
        return False
    kept[key] -= 1
    return True


def collect(outs: list[Path], docs: Path, target: Path, min_words: int) -> int:
    documents = {d.name: d for d in load_documents(docs).documents}
    rows = []
    for out in outs:
        kept = _kept_questions(out)
        for journal in out.glob(".runs/*/journal.jsonl"):
            for line in journal.read_text().splitlines():
                entry = json.loads(line)
                if entry.get("status") != "accepted" or ":" not in entry.get("key", "") or "#" not in entry["key"]:
                    continue
                name, rest = entry["key"].split("#", 1)
                index, question_type = rest.split(":")[:2]
                document = documents[name]
                section = document.sections[int(index)]
                if thin_section_reason(section, min_words):  # journaled before the plan skipped it: never gated
                    continue
                plans = plan_requests(document, (QuestionType(question_type),), 2)
                related = next((list(p.related) for p in plans if p.section_index == section.index), [])
                shown = " ".join(document.sections[i].text for i in (section.index, *related))
                for n, pair in enumerate(entry["pairs"]):
                    # the pair as the run's gates judged and wrote it, with its document named
                    named = name_document(pair["question"], document.called, shown)
                    answer = name_document_in_answer(pair["answer"], document.called)
                    rows.append(
                        {
                            "id": f"{entry['key']}/{n}",
                            "request": entry["key"],
                            "document": name,
                            "section_index": section.index,
                            "section_title": section.title,
                            "related_sections": related,
                            "question_type": question_type,
                            **pair,
                            "question": named,
                            **({"question_as_written": pair["question"]} if named != pair["question"] else {}),
                            "answer": answer,
                            **({"answer_as_written": pair["answer"]} if answer != pair["answer"] else {}),
                            "run_kept": _take(kept, (entry["key"], named)),
                            # every attempt's completion tokens, on each pair of the request (for yields per token)
                            "request_completion_tokens": sum(a["completion_tokens"] for a in entry["attempts"]),
                        }
                    )
    rows.sort(key=lambda r: (r["document"], r["section_index"], r["related_sections"], r["id"]))
    target.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(f"{len(rows)} pairs, {sum(r['run_kept'] for r in rows)} kept by the run -> {target}")
    return 0


def packet(source: Path, docs: Path, target: Path) -> int:
    """The sources once per section and set of related sections, then the pairs generated from them."""
    documents = {d.name: d for d in load_documents(docs).documents}
    lines = ["# Pairs to label (see RUBRIC.md)", ""]
    shown = None
    for row in map(json.loads, source.read_text().splitlines()):
        document = documents[row["document"]]
        sources = (row["document"], row["section_index"], tuple(row["related_sections"]))
        if sources != shown:
            shown = sources
            lines += ["=" * 80, f"# SOURCES: {row['document']}, section: {row['section_title']}", ""]
            lines += [document.sections[row["section_index"]].text, ""]
            for index in row["related_sections"]:
                related = document.sections[index]
                lines += [f"## Related section also shown to the model: {related.title}", "", related.text, ""]
            lines += ["=" * 80, ""]
        lines += [f"## Pair {row['id']} ({row['question_type']}; sources above)", ""]
        # the item as the dataset writes it: its source named after its label (the set keeps it as judged)
        asked = written_question(row["question"], row["answer"], document, row["section_title"])
        lines += [f"**Question:** {asked}", "", f"**Answer:** {row['answer']}", ""]
        lines += ["**Cited evidence:**", *[f"- {e}" for e in row["evidence"]], "", "---", ""]
    target.write_text("\n".join(lines))
    print(f"packet -> {target}")
    return 0


def merge(source: Path, first: Path, second: Path, third: Path | None) -> int:
    rows = [json.loads(line) for line in source.read_text().splitlines()]
    readings = [{x["id"]: x for x in json.loads(p.read_text())} for p in (first, second)]
    tie = {x["id"]: x for x in json.loads(third.read_text())} if third else {}
    disagreements = []
    for row in rows:
        a, b = (r[row["id"]] for r in readings)
        row["readers"] = [a, b]
        if a["label"] == b["label"]:
            row["label"] = a["label"]
        elif row["id"] in tie:
            row["label"], row["third_reader"] = tie[row["id"]]["label"], tie[row["id"]]
        else:
            disagreements.append(row["id"])
            row["label"] = None
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    agreed = len(rows) - sum(r["readers"][0]["label"] != r["readers"][1]["label"] for r in rows)
    print(f"{agreed} of {len(rows)} agreed; {len(disagreements)} still need a third reading: {disagreements}")
    return 0 if not disagreements else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    c.add_argument("outs", type=Path, nargs="+")
    c.add_argument("--docs", type=Path, required=True)
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--min-section-words", type=int, default=25)
    p = sub.add_parser("packet")
    p.add_argument("source", type=Path)
    p.add_argument("--docs", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    m = sub.add_parser("merge")
    m.add_argument("source", type=Path)
    m.add_argument("first", type=Path)
    m.add_argument("second", type=Path)
    m.add_argument("--third", type=Path)
    args = parser.parse_args(argv)
    if args.command == "collect":
        return collect(args.outs, args.docs, args.out, args.min_section_words)
    if args.command == "packet":
        return packet(args.source, args.docs, args.out)
    return merge(args.source, args.first, args.second, args.third)


if __name__ == "__main__":
    sys.exit(main())

"""Yield: what a real run keeps, what it pays for it, and a sample to read.

    python benchmarks/bench_yield.py                                   # the embedded default model, shared corpus
    python benchmarks/bench_yield.py --limit-sections 3 --question-types FACTUAL_RECALL,INFERENCE
    python benchmarks/bench_yield.py --api-base-url http://127.0.0.1:8080/v1   # any OpenAI-compatible server
    python benchmarks/bench_yield.py --sample 30 --sample-out /tmp/read.md    # kept pairs beside their sections

Runs the real pipeline (``generate_synthetic_data.main``) on the documents into
a fresh temporary output folder, then reads back the report, the kept records
and the rejects, and prints: pairs generated and kept, rejections by gate and by
verifier, completion tokens for generation and verify apart and together, kept
pairs per 1,000 completion tokens, sections with at least one kept pair, and the
share of kept answers holding a repeated word 4-gram. ``--sample`` writes kept
pairs with their section text to a markdown file, for a person to read and count
the good ones: the figures above are not a measure of quality until a reading
agrees with them. Extra ``KEY=VALUE`` arguments are passed as settings.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generate_synthetic_data import main  # noqa: E402
from utilities.file_utils import load_documents  # noqa: E402

DEFAULT_DOCS = ROOT.parent / "shared" / "corpus" / "markdown_docs"
_WORDS = re.compile(r"\w+")


def has_repeated_ngram(text: str, n: int = 4) -> bool:
    words = _WORDS.findall(text.lower())
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return len(grams) != len(set(grams))


def answer_of(record: dict) -> str:
    content = record["messages"][-1]["content"]
    text = content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)
    return text.split("</think>")[-1].strip()


def question_of(record: dict) -> str:
    content = record["messages"][1]["content"] if len(record["messages"]) > 2 else record["messages"][0]["content"]
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if p.get("type") == "text")
    return content


def read_records(out: Path) -> list[dict]:
    records = []
    for path in sorted(out.glob("train-*.json")) + sorted(out.glob("eval-*.json")):
        records.extend(json.loads(path.read_text(encoding="utf-8")))
    return records


def main_bench(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS)
    parser.add_argument("--question-types", default="all")
    parser.add_argument("--limit-sections", type=int, default=0)
    parser.add_argument("--api-base-url", default="", help="use BACKEND=openai with this server")
    parser.add_argument("--sample", type=int, default=0, help="kept pairs to write for reading")
    parser.add_argument("--sample-out", type=Path, default=Path("yield-sample.md"))
    parser.add_argument("--keep-output", type=Path, default=None, help="write the run here instead of a temp dir")
    parser.add_argument("settings", nargs="*", help="extra KEY=VALUE settings (environment names)")
    args = parser.parse_args(argv)

    out = args.keep_output or Path(tempfile.mkdtemp(prefix="bench-yield-"))
    env = {
        "MARKDOWN_DOCS_DIR": str(args.docs),
        "OUTPUT_DIR": str(out),
        "QUESTION_TYPES": args.question_types,
        "LIMIT_SECTIONS": str(args.limit_sections),
        "PROGRESS": "off",
        "BACKEND": "openai" if args.api_base_url else "embedded",
        "API_BASE_URL": args.api_base_url,
    }
    for item in args.settings:
        key, _, value = item.partition("=")
        env[key] = value
    os.environ.update(env)
    started = time.perf_counter()
    code = main(["--fresh", "--env-file", os.devnull])
    wall = time.perf_counter() - started
    reports = sorted(out.glob("report-*.json"))
    if not reports:
        print(f"no report written (exit {code})")
        return 1
    report = json.loads(reports[-1].read_text(encoding="utf-8"))
    totals = report["totals"]
    records = read_records(out)
    verify = report.get("verify", {})
    gen_tokens = totals["completion_tokens"]
    verify_tokens = verify.get("completion_tokens", 0)
    all_tokens = gen_tokens + verify_tokens
    loaded = load_documents(args.docs)
    n_sections = sum(
        min(len(d.sections), args.limit_sections) if args.limit_sections else len(d.sections) for d in loaded.documents
    )
    sections_kept = {(r["metadata"]["document"], r["metadata"]["section_index"]) for r in records}
    repeated = sum(has_repeated_ngram(answer_of(r)) for r in records)
    kept = totals["pairs_accepted"]
    gates = {k: v for k, v in totals["pair_rejections"].items() if v}
    print(
        f"exit {code}; wall {wall:.0f} s; engine {report['engine'].get('backend')} {report['engine'].get('model', '')}"
    )
    print(f"requests {totals['requests']}, rejected {sum(totals['requests_rejected'].values())}")
    print(f"pairs generated {totals['pairs_generated']}, kept {kept}")
    print(f"rejected by gate: {json.dumps(gates)}")
    print(f"rejected by verifier: {json.dumps(verify.get('rejections', {}))}")
    print(f"completion tokens: generation {gen_tokens:,}, verify {verify_tokens:,}, total {all_tokens:,}")
    print(f"prompt tokens: generation {totals['prompt_tokens']:,}, verify {verify.get('prompt_tokens', 0):,}")
    print(f"kept pairs per 1,000 completion tokens: {1000 * kept / all_tokens if all_tokens else 0:.2f}")
    print(f"sections with a kept pair: {len(sections_kept)} of {n_sections}")
    print(f"kept answers with a repeated 4-gram: {repeated} of {len(records)}")
    if args.sample and records:
        write_sample(records, loaded, args.sample, args.sample_out)
        print(f"sample of {min(args.sample, len(records))} kept pairs for reading: {args.sample_out}")
    print(f"output: {out}")
    return 0


def write_sample(records: list[dict], loaded, n: int, path: Path) -> None:
    documents = {d.name: d for d in loaded.documents}
    chosen = random.Random(0).sample(records, min(n, len(records)))
    lines = []
    for i, record in enumerate(chosen, 1):
        meta = record["metadata"]
        section = documents[meta["document"]].sections[meta["section_index"]]
        lines += [
            f"## {i}. {record['question_type']} - {meta['document']} / {section.title}",
            "",
            f"**Q:** {question_of(record)}",
            "",
            f"**A:** {answer_of(record)}",
            "",
            "**Evidence:** " + " | ".join(meta.get("evidence", [])),
            "",
            "<details><summary>section</summary>",
            "",
            section.text[:3000],
            "",
            "</details>",
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main_bench())

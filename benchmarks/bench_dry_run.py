"""Dry-run throughput and memory on a corpus of about 1,000,000 words.

    python benchmarks/bench_dry_run.py                       # the shared corpus, 1M words
    python benchmarks/bench_dry_run.py --words 200000 --corpus markdown_docs

Builds a corpus by repeating the documents of ``--corpus`` (with their image
folders, hard-linked) until it holds ``--words`` words, then runs the real dry
run (``generate_synthetic_data.main(["--dry-run", ...])``) in a child process
pinned to one core, at 1/4, 1/2 and the full size. Prints words per second,
peak RSS and seconds per million words at each size (equal figures mean time
grows linearly). Targets: 1,000,000 words in <= 60 s, <= 1.5 GB peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "markdown_docs"

CHILD = r"""
import json, os, resource, sys, time
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
sys.path.insert(0, sys.argv[1])
t0 = time.perf_counter()
from generate_synthetic_data import main
t1 = time.perf_counter()
code = main(["--dry-run", "--docs-dir", sys.argv[2], "--output-dir", sys.argv[3], "--log-level", "ERROR"])
t2 = time.perf_counter()
print(json.dumps({"code": code, "import_s": t1 - t0, "run_s": t2 - t1,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _link_tree(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        try:
            os.link(item, dst / item.name)
        except OSError:
            shutil.copy2(item, dst / item.name)


def build_corpus(source: Path, target: Path, words: int) -> int:
    documents = sorted(source.glob("*.md"))
    if not documents:
        raise SystemExit(f"no *.md documents in {source}")
    sizes = {d: len(d.read_text(encoding="utf-8").split()) for d in documents}
    total, copy = 0, 0
    while total < words:
        for document in documents:
            if total >= words:
                break
            name = f"copy{copy:04d}_{document.stem}"
            shutil.copyfile(document, target / f"{name}.md")
            if (source / document.stem).is_dir():
                _link_tree(source / document.stem, target / name)
            total += sizes[document]
        copy += 1
    return total


def run_once(docs: Path, out: Path) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", NO_COLOR="1")
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), str(docs), str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=docs.parent,
    )
    if proc.returncode != 0:
        raise SystemExit(f"dry run failed:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["code"] != 0:
        raise SystemExit(f"dry run exited {result['code']}:\n{proc.stderr[-2000:]}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--corpus", type=Path, default=DEFAULT_CORPUS if DEFAULT_CORPUS.is_dir() else ROOT / "markdown_docs"
    )
    parser.add_argument("--words", type=int, default=1_000_000)
    args = parser.parse_args()

    print(f"corpus: {args.corpus}; target {args.words:,} words; one core; python {sys.version.split()[0]}")
    print(f"{'words':>10} {'docs':>5} {'seconds':>8} {'words/s':>9} {'s per 1M words':>14} {'peak RSS MB':>11}")
    with tempfile.TemporaryDirectory(prefix="bench-dry-run-") as tmp:
        for fraction in (0.25, 0.5, 1.0):
            docs = Path(tmp) / f"docs-{fraction}"
            docs.mkdir()
            words = build_corpus(args.corpus, docs, int(args.words * fraction))
            result = run_once(docs, Path(tmp) / f"out-{fraction}")
            seconds = result["run_s"]
            n_docs = len(list(docs.glob("*.md")))
            print(
                f"{words:>10,} {n_docs:>5} {seconds:>8.1f} {words / seconds:>9,.0f} "
                f"{seconds / words * 1e6:>14.1f} {result['peak_rss_mb']:>11.0f}"
            )
    print("targets: 1,000,000 words <= 60 s on one core, peak RSS <= 1,536 MB, s per 1M words flat across sizes")


if __name__ == "__main__":
    main()

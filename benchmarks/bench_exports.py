"""Time and size of each output format for a large run's worth of kept pairs.

    python benchmarks/bench_exports.py                  # 50,000 pairs over 20 documents
    python benchmarks/bench_exports.py --pairs 200000 --copy-images

Builds ``--pairs`` examples shaped like real ones (a 25-word question, a
120-word answer with reasoning, one figure in three pairs, provenance) and
writes each format with the real writers into a temporary folder, one format at
a time, printing seconds, pairs per second, bytes on disk and the peak RSS of
the process so far. Nothing of the project's output folder is touched.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image

from models.question_types import Split
from models.records import Example
from utilities.outputs.formats import WRITERS, ImagePlacer

WORDS = "pressure flow pump valve reserve blob fee target signal timing phase interval cycle".split()  # noqa: SIM905


def examples(pairs: int, documents: int) -> list[Example]:
    out = []
    for n in range(pairs):
        rng = random.Random(n)  # varied text, so compressed formats are not flattered
        words = [f"{rng.choice(WORDS)}{rng.randrange(1000)}" for _ in range(145)]
        document = f"doc{n % documents:03d}"
        out.append(
            Example(
                id=f"{document}#{n // 45}:FACTUAL_RECALL#{n % 3 + 1}",
                split=Split.EVAL if n % 15 == 0 else Split.TRAIN,
                question=" ".join(words[:25]) + "?",
                answer="<think>\nStep 1: " + " ".join(words[25:45]) + "\n</think>\n\n" + " ".join(words[45:]) + ".",
                images=(f"{document}/FIGURE_{n % 9}.png",) if n % 3 == 0 else (),
                question_type="FACTUAL_RECALL",
                difficulty="easy",
                document=document,
                section=f"Section {n // 45}",
                metadata={"document": document, "request": f"{document}#{n // 45}", "evidence": [" ".join(words[:12])]},
            )
        )
    return out


def size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=50_000)
    parser.add_argument("--documents", type=int, default=20)
    parser.add_argument("--copy-images", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        docs, out = Path(tmp) / "docs", Path(tmp) / "out"
        for d in range(args.documents):
            for f in range(9):
                (docs / f"doc{d:03d}").mkdir(parents=True, exist_ok=True)
                Image.new("RGB", (64, 48), (d, f, 100)).save(docs / f"doc{d:03d}" / f"FIGURE_{f}.png")
        items = examples(args.pairs, args.documents)
        print(f"{args.pairs:,} pairs, {args.documents} documents, copy images: {args.copy_images}")
        placer = ImagePlacer(docs, out, copy=args.copy_images)
        out.mkdir()
        for name, writer in WRITERS.items():
            started = time.perf_counter()
            paths = writer(items, out, "2026-01-01_00-00-00", placer)
            elapsed = time.perf_counter() - started
            written = sum(size(p) for p in paths)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"{name:9} {elapsed:6.2f} s  {args.pairs / elapsed:9,.0f} pairs/s  "
                f"{written / 1e6:7.1f} MB in {len(paths)} file(s)  peak RSS {peak:,.0f} MB"
            )


if __name__ == "__main__":
    main()

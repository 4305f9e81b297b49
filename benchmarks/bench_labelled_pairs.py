"""How the gates and a verifier judge pairs whose quality a person has already labelled.

    python benchmarks/bench_labelled_pairs.py                       # gates only
    python benchmarks/bench_labelled_pairs.py --verify answerability,judge   # plus the configured engine

``benchmarks/data/labelled_pairs.jsonl`` holds 22 pairs about the three shared
documents, each labelled ``good`` or ``bad`` by a careful reader: 12 correct pairs
written as a capable model writes them (paraphrased, self-contained), and 10 bad ones
of the kinds found in real runs (an invented constant, a tautology, "the proposal", a
fragment, a loop, an off-target answer, a fact the source lacks, and two pairs a 135M
model wrote that the old gates kept). The pairs carry no metadata, so ``--curate``
finds each one's section and evidence itself. Prints, for each label, how many were
kept, and the gate or verifier that rejected each pair: the recall of good pairs and
the rejection of bad ones that a figure in a run report cannot show.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generate_synthetic_data import main  # noqa: E402

PAIRS = ROOT / "benchmarks" / "data" / "labelled_pairs.jsonl"
DOCS = ROOT.parent / "shared" / "corpus" / "markdown_docs"


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verify", default="none")
    parser.add_argument("--docs", type=Path, default=DOCS)
    args, extra = parser.parse_known_args(argv)
    out = Path(tempfile.mkdtemp(prefix="bench-labelled-"))
    os.environ["PROGRESS"] = "off"
    flags = ["--curate", str(PAIRS), "--docs-dir", str(args.docs), "--output-dir", str(out), "--verify", args.verify]
    main([*flags, "--env-file", os.devnull, *extra])
    labels = [json.loads(line)["label"] for line in PAIRS.read_text().splitlines()]
    kept = [json.loads(line) for f in out.glob("curated-*.jsonl") for line in f.read_text().splitlines()]
    rejects = [json.loads(line) for f in out.glob("rejects-curated-*.jsonl") for line in f.read_text().splitlines()]
    for label in ("good", "bad"):
        total = labels.count(label)
        n_kept = sum(r["label"] == label for r in kept)
        print(f"{label}: {n_kept} of {total} kept")
        for line in rejects:
            if line["record"]["label"] == label:
                question = line["record"]["messages"][0]["content"]
                print(f"  rejected by {line['gate']}: {question[:70]!r} ({line['detail'][:90]})")
    print(f"output: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(run())

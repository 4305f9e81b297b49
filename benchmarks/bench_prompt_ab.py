"""How readers judge two runs of the same command that differ in one prompt change, read together blind.

    python benchmarks/bench_prompt_ab.py

``benchmarks/data/ab_fewshot_heldout.jsonl``: every distinct pair of two runs of the first command over the first 8
sections of the two shared documents the sample is not (``--limit-sections 8``, FACTUAL_RECALL and
TRUE_FALSE_FILL_BLANK): arm A is r52 (today's prompts; its pairs are ``labelled_qwen1.5b_heldout_r52.jsonl``), arm B
is r54, the same with a worked example appended to the system prompt (``benchmarks/data/ab_fewshot_system.md``: a
three-sentence source about connection pools, two good pairs, three bad ones with the reason, and which terms to
blank). Both arms were mixed into one packet under opaque ids (a pair both runs wrote is read once; ``arms`` says
which wrote it) and read by two readers (../shared/RUBRIC.md), a third settling their disagreements. Prints, per arm
and type, the pairs the readers found good, and those among the pairs today's gates keep
(``bench_labelled_pairs.measure``), with the completion tokens each arm's requests spent.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_labelled_pairs import DATA, DOCS, measure, share  # noqa: E402

AB = DATA / "ab_fewshot_heldout.jsonl"
ARMS = {"A": "today's system prompt (r52)", "B": "with the worked example (r54)"}


def run(docs: Path = DOCS) -> int:
    rows = [json.loads(line) for line in AB.read_text().splitlines()]
    print(f"{len(rows)} distinct pairs, {sum(len(r['arms']) == 2 for r in rows)} written by both arms")
    for arm, what in ARMS.items():
        chosen = [r for r in rows if arm in r["arms"]]
        path = Path(tempfile.mkdtemp(prefix="bench-ab-")) / f"arm_{arm}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chosen))
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            kept, labels = measure(path, "none", docs, [])
        tokens = {r["request"]: r["request_completion_tokens"] for r in chosen}
        good_kept = sum(k and label == "good" for k, label in zip(kept, labels))
        print(f"\narm {arm}, {what}: {len(chosen)} pairs over {sum(tokens.values()):,} completion tokens")
        for question_type in ("FACTUAL_RECALL", "TRUE_FALSE_FILL_BLANK"):
            of_type = [i for i, r in enumerate(chosen) if r["question_type"] == question_type]
            good = sum(labels[i] == "good" for i in of_type)
            kept_of_type = [i for i in of_type if kept[i]]
            kept_good = sum(labels[i] == "good" for i in kept_of_type)
            print(f"  {question_type}: good {share(good, len(of_type))}; kept by today's gates, good "
                  f"{share(kept_good, len(kept_of_type))}")  # fmt: skip
        print(f"  all: kept {sum(kept)}, good {share(good_kept, sum(kept))}; "
              f"{1000 * good_kept / sum(tokens.values()):.2f} good kept per 1,000 completion tokens")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(run())

"""How readers judge fill-in-the-blank items with and without their source named (``with_source``).

    python benchmarks/bench_item_source.py

``benchmarks/data/ab_item_source_heldout.jsonl``: the 151 distinct fill-in-the-blank items of the labelled sets
``_heldout_r48`` and ``_r49`` (the first command's items over two documents the gates were not tuned on), read
blind in two packets by four readers (../shared/RUBRIC.md, the reader prompt of the labelled sets): every other
item (shuffled) named in packet 1 and unnamed in packet 2, the rest the other way round; readers A and B read
packet 1, C and D packet 2, so each reader saw half the items named and no item twice. ``named_for`` says which
readers saw an item named ("" for an item the name would give away: it was unnamed in both). Prints the share of
readings that found an item good, named and unnamed, over the items that get a name, and over those the gates
keep today (``bench_labelled_pairs.measure`` on the two sets), and the items that gained or lost a reader.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_labelled_pairs import DATA, DOCS, measure, share  # noqa: E402

from utilities.file_utils import load_documents  # noqa: E402
from utilities.outputs.examples import written_question  # noqa: E402

AB = DATA / "ab_item_source_heldout.jsonl"
SETS = ("labelled_qwen1.5b_heldout_r48.jsonl", "labelled_qwen1.5b_heldout_r49.jsonl")


def kept_items() -> set[tuple[str, str]]:
    """(question, answer) of every item the gates keep today in either set."""
    kept: set[tuple[str, str]] = set()
    for name in SETS:
        rows = [json.loads(line) for line in (DATA / name).read_text().splitlines()]
        rows = [r for r in rows if r.get("label") in ("good", "bad")]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            flags, _ = measure(DATA / name, "none", DOCS, [])
        kept |= {(r["question"], r["answer"]) for r, k in zip(rows, flags) if k}
    return kept


def run() -> int:
    items = [json.loads(line) for line in AB.read_text().splitlines()]
    documents = {d.name: d for d in load_documents(DOCS).documents}
    today = [written_question(i["item"], i["answer"], documents[i["document"]], i["section_title"]) for i in items]
    same = sum(t == (i["named"] or i["item"]) for t, i in zip(today, items))
    print(f"{len(items)} items; {sum(bool(i['named_for']) for i in items)} named in one packet; today's naming "
          f"writes {same} of {len(items)} as the readers saw them named")  # fmt: skip
    kept = kept_items()
    for scope, chosen in (
        ("all", items),
        ("kept by today's gates", [i for i in items if (i["item"], i["answer"]) in kept]),
    ):
        named = [i for i in chosen if i["named_for"]]
        good = {"named": 0, "unnamed": 0}
        gained = lost = 0
        for i in named:
            votes = {form: 0 for form in good}
            for reader, reading in i["readers"].items():
                form = "named" if reader in i["named_for"] else "unnamed"
                votes[form] += reading["label"] == "good"
            good["named"] += votes["named"]
            good["unnamed"] += votes["unnamed"]
            gained += votes["named"] > votes["unnamed"]
            lost += votes["named"] < votes["unnamed"]
        unnamed_only = [i for i in chosen if not i["named_for"]]
        never = sum(r["label"] == "good" for i in unnamed_only for r in i["readers"].values())
        print(f"\n{scope}: {len(chosen)} items, {len(named)} with a name")
        print(f"  readings good, named:   {share(good['named'], 2 * len(named))}")
        print(f"  readings good, unnamed: {share(good['unnamed'], 2 * len(named))}")
        print(f"  items more readers found good named: {gained}; unnamed: {lost}")
        print(f"  items the name would give away (never named): {share(never, 4 * len(unnamed_only))} readings good")
    return 0


if __name__ == "__main__":
    sys.exit(run())

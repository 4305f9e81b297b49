"""How readers judge fill-in-the-blank items with and without the sentence before theirs in the item.

    python benchmarks/bench_item_context.py

``benchmarks/data/ab_item_context.jsonl``: the 74 distinct fill-in-the-blank items that today's gates keep over the
labelled sets and whose sentence has a usable sentence before it in its section (``context``: a sentence that ends a
clause, is no figure caption, holds neither the term nor a word of it, and stands alone itself, its connective
dropped). Each item as the dataset writes it (``named``) and the same with the context between its label and its
sentence (``with_context``), read blind in two packets by four readers (../shared/RUBRIC.md): readers A and B saw
the items of ``context_for`` "AB" with context and the rest without, C and D the other way round, so each reader
saw half the items with context and no item twice. ``label_before`` is the item's label in its labelled set.
Prints the share of readings that found an item good with and without context, over all items and by their earlier
label, and the items that gained or lost a reader. Measured in stop 38: no gain, so items carry no context.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_labelled_pairs import DATA, share  # noqa: E402

AB = DATA / "ab_item_context.jsonl"


def readings(item: dict, with_context: bool) -> list[str]:
    """The labels of the two readers who saw ``item`` with (or without) its context."""
    return [r["label"] for name, r in item["readers"].items() if (name in item["context_for"]) == with_context]


def run() -> int:
    items = [json.loads(line) for line in AB.read_text().splitlines()]
    print(f"{len(items)} items, each read twice with its context and twice without")
    for scope in ("all", "good", "bad"):
        chosen = [i for i in items if scope == "all" or i["label_before"] == scope]
        with_context = [label for i in chosen for label in readings(i, True)]
        without = [label for i in chosen for label in readings(i, False)]
        what = "all items" if scope == "all" else f"items labelled {scope} in their set"
        with_share, without_share = (
            share(with_context.count("good"), len(with_context)),
            share(without.count("good"), len(without)),
        )
        print(f"{what} ({len(chosen)}): good with context {with_share}, without {without_share}")
    for change, sign in (("gained", 1), ("lost", -1)):
        moved = [i for i in items if sign * (readings(i, True).count("good") - readings(i, False).count("good")) > 0]
        print(f"items that {change} a reader with context: {len(moved)}")
        for i in moved:
            print(f"  {i['id']}: {i['with_context'][:140]!r} ({i['answer']})")
    return 0


if __name__ == "__main__":
    sys.exit(run())

"""Calibrate ANSWER_SUPPORT_FLOOR on real documents.

    python benchmarks/tune_answer_support.py [DOCS_DIR]

The answer-support gate asks what share of an answer's content words occur in
its evidence and context. This script measures that share for statements that
are true to a section (its own facts, against the section) and for statements
that are not (facts of another section of the same document, and of another
document, against the same section), and prints percentiles and the share of
each group a floor keeps. A good floor keeps nearly every in-source statement
and drops most off-source ones; answers paraphrase, so it should sit low in the
in-source distribution.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from utilities.file_utils import load_documents  # noqa: E402
from utilities.quality import answer_support  # noqa: E402

DEFAULT = ROOT.parent / "shared" / "corpus" / "markdown_docs"


def percentiles(values: list[float]) -> str:
    values = sorted(values)
    pick = [values[int(q * (len(values) - 1))] for q in (0.05, 0.25, 0.5, 0.75, 0.95)]
    return " ".join(f"{v:.2f}" for v in pick)


def main() -> None:
    docs = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    documents = load_documents(docs).documents
    rng = random.Random(0)
    own, same_doc, other_doc = [], [], []
    for d_index, document in enumerate(documents):
        others = [d for i, d in enumerate(documents) if i != d_index]
        for section in document.sections:
            for fact in section.facts:
                own.append(answer_support(fact.text, [], [section.text]))
                if len(document.sections) > 1:
                    other = rng.choice([s for s in document.sections if s.index != section.index])
                    same_doc.append(answer_support(fact.text, [], [other.text]))
                if others:
                    foreign = rng.choice(rng.choice(others).sections)
                    other_doc.append(answer_support(fact.text, [], [foreign.text]))
    print(f"{len(own)} facts from {len(documents)} documents in {docs}")
    print("content-word support percentiles (5/25/50/75/95):")
    for name, values in (("own section", own), ("other section, same doc", same_doc), ("other document", other_doc)):
        print(f"  {name:<24} {percentiles(values)}")
    print("share kept by a floor:")
    for floor in (0.3, 0.4, 0.5, 0.6, 0.7):
        kept = [sum(v >= floor for v in values) / len(values) for values in (own, same_doc, other_doc)]
        print(f"  {floor:.1f}: own {kept[0]:.1%}, other section {kept[1]:.1%}, other document {kept[2]:.1%}")


if __name__ == "__main__":
    main()

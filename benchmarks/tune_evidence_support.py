"""Calibrate EVIDENCE_SUPPORT_FLOOR on real documents.

    python benchmarks/tune_evidence_support.py [DOCS_DIR]

The evidence_support gate asks what share of an answer's new content words (those
not in its question) occur in the quotes the pair cites. This script plays three
kinds of answer against the quotes of real sections: each citable sentence cited
with itself (supported), with another sentence of the same section (an unrelated
quote, the failure a careful reader found in most kept pairs), and with only its
first half (an answer that adds what its quote does not say). It prints the share
of each kind a floor keeps. A good floor keeps the supported answers, drops the
unrelated-quote ones, and is strict with the half-quoted ones.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from utilities.facts import quotable_sentences  # noqa: E402
from utilities.file_utils import load_documents  # noqa: E402
from utilities.quality import evidence_support  # noqa: E402

DEFAULT = ROOT.parent / "shared" / "corpus" / "markdown_docs"
MIN_WORDS = 8  # shorter sentences are headings and captions, not answers


def main() -> None:
    docs = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    documents = load_documents(docs).documents
    rng = random.Random(0)
    own, unrelated, half = [], [], []
    for document in documents:
        for section in document.sections:
            sentences = [s for s in quotable_sentences(section.text) if len(s.split()) >= MIN_WORDS]
            for sentence in sentences:
                own.append(evidence_support("", sentence, [sentence]))
                others = [s for s in sentences if s != sentence]
                if others:
                    unrelated.append(evidence_support("", sentence, [rng.choice(others)]))
                words = sentence.split()
                half.append(evidence_support("", sentence, [" ".join(words[: len(words) // 2])]))
    print(f"{len(own)} sentences of {MIN_WORDS}+ words from {len(documents)} documents in {docs}")
    print("share kept by a floor:")
    for floor in (0.4, 0.5, 0.6, 0.7, 0.8):
        kept = [sum(v >= floor for v in values) / len(values) for values in (own, unrelated, half)]
        print(f"  {floor:.1f}: own quote {kept[0]:.1%}, unrelated quote {kept[1]:.1%}, half quote {kept[2]:.1%}")


if __name__ == "__main__":
    main()

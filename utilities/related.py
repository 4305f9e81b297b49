"""Related sections: TF-IDF over a document's sections, cosine k-nearest neighbours.

The vectorizer is fitted once per document (the original re-fitted it for every
section). A section is never its own neighbour, and a neighbour below
``min_similarity`` is not forced in, so a section may have fewer than k (or no)
related sections. Documents of one section have none.
"""

from __future__ import annotations

from sklearn import config_context
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.neighbors import NearestNeighbors

from models.documents import RelatedSection
from utilities.figures import strip_placeholders

# scikit-learn computes distances in dense blocks of this many MB: its default of 1,024
# held 2.7 GB for 20,000 sections, 64 holds 0.37 GB and is no slower.
SEARCH_BLOCK_MB = 64


def find_related_sections(
    texts: list[str], k: int, min_similarity: float, first: int = 0
) -> list[list[RelatedSection]]:
    """For each text (the first ``first`` only, when above 0), up to k most similar other texts
    (index, cosine similarity), best first.

    The search costs time and memory in proportion to the texts searched for times all texts
    (50,000 sections: 110 s and 2.8 GB), so a ``--limit-sections`` trial searches only for the
    sections it plans. The vectorizer is still fitted over every text, so those sections get
    the neighbours a full run gives them and the trial's requests are the full run's.
    """
    related: list[list[RelatedSection]] = [[] for _ in texts]
    if k <= 0 or len(texts) < 2:
        return related
    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True, token_pattern=r"(?u)\b\w\w+\b")
    try:
        matrix = vectorizer.fit_transform(strip_placeholders(t) for t in texts)
    except ValueError:  # empty vocabulary: nothing but stop words, numbers of one digit, symbols
        return related
    neighbours = NearestNeighbors(n_neighbors=min(k + 1, len(texts)), metric="cosine", algorithm="brute")
    neighbours.fit(matrix)
    with config_context(working_memory=SEARCH_BLOCK_MB):
        distances, indices = neighbours.kneighbors(matrix[:first] if first else matrix)
    for i, (row_d, row_i) in enumerate(zip(distances, indices)):
        for distance, j in zip(row_d, row_i):
            similarity = round(float(1.0 - distance), 4)
            if j != i and similarity >= min_similarity and similarity > 0 and len(related[i]) < k:
                related[i].append(RelatedSection(int(j), similarity))
    return related

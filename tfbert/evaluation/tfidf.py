"""The classical anchor a fine-tuned BERT is compared with: TF-IDF features and a linear
SVM (scikit-learn, the `demo` extra). Chinese has no spaces, so its words are character
n-grams (`analyzer="char"`)."""

from __future__ import annotations

from tfbert.evaluation.metrics import classification_metrics


def _sklearn():
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.svm import LinearSVC
    except ImportError:
        raise ImportError("the TF-IDF anchor needs scikit-learn: pip install "
                          "'tfbert[demo]' (or scikit-learn)") from None
    return TfidfVectorizer, LinearSVC


def tfidf_anchor(train, test, analyzer: str = "word", ngrams=(1, 2), c: float = 1.0) -> dict:
    """Fits TF-IDF (sublinear term frequency) on the `train` texts and a linear SVM
    (`C=c`) on them; scores `test`. `train`, `test`: `(texts, labels)`. Returns test
    `accuracy` and `macro_f1` (fractions, as `classification_metrics` gives them), and what
    was fitted: `model`, `analyzer`, `ngrams`, `features`."""
    if analyzer not in ("word", "char"):
        raise ValueError(f"analyzer must be 'word' or 'char'. Received: {analyzer!r}")
    TfidfVectorizer, LinearSVC = _sklearn()
    (train_texts, train_labels), (test_texts, test_labels) = train, test
    vectorizer = TfidfVectorizer(analyzer=analyzer, ngram_range=tuple(ngrams),
                                 sublinear_tf=True)
    model = LinearSVC(C=c).fit(vectorizer.fit_transform(train_texts), train_labels)
    predicted = model.predict(vectorizer.transform(test_texts))
    labels = sorted(set(train_labels) | set(test_labels))
    index = {label: i for i, label in enumerate(labels)}
    metrics = classification_metrics([index[x] for x in test_labels],
                                     [index[x] for x in predicted], labels)
    return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
            "model": f"TF-IDF ({analyzer} {ngrams[0]}-{ngrams[1]}-grams) + linear SVM (C={c:g})",
            "analyzer": analyzer, "ngrams": list(ngrams), "features": len(vectorizer.vocabulary_),
            "test_examples": len(test_labels)}

"""Classical anchors for the classification datasets: TF-IDF + a linear model.

Reads a dataset's splits as `tfbert datasets export` writes them (`train.jsonl`,
`dev.jsonl`, `test.jsonl` with `text` and `label`), fits TF-IDF features on train and a
linear SVM (and logistic regression) for each feature set, and prints dev and test
accuracy. Chinese text has no spaces, so `char` n-grams are its words.

`--multi-label` (`labels` lists, as pd98-entity-types): one-vs-rest, one binary model per
label, scored by micro-F1, macro-F1 and subset accuracy.

    .venv/bin/pip install -e '.[demo]'      # scikit-learn
    .venv/bin/python tools/tfidf_baseline.py runs/chnsenti --analyzer char --ngrams 1 3
"""

from __future__ import annotations

import argparse
import os


def read(directory, split, multi_label=False):
    """`(texts, labels)` of `directory/split.jsonl`, read as `tfbert finetune` reads it
    (multi-label: each example's list of labels)."""
    from tfbert.data.readers import read_classification

    examples, _ = read_classification(os.path.join(directory, f"{split}.jsonl"),
                                      label_column="labels" if multi_label else "label",
                                      multi_label=multi_label)
    return [e.text for e in examples], [list(e.labels) if multi_label else e.label
                                        for e in examples]


def multi_label(vectorizer, features, train, dev, test, models):
    """One-vs-rest: prints dev and test micro-F1, macro-F1 and subset accuracy."""
    from sklearn.metrics import f1_score
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.preprocessing import MultiLabelBinarizer

    binarizer = MultiLabelBinarizer().fit(train[1])
    for name, model in models:
        model = OneVsRestClassifier(model).fit(features, binarizer.transform(train[1]))
        line = []
        for split, (texts, labels) in (("dev", dev), ("test", test)):
            truth = binarizer.transform(labels)
            predicted = model.predict(vectorizer.transform(texts))
            line.append(f"{split} micro-F1 {f1_score(truth, predicted, average='micro'):.2%}, "
                        f"macro-F1 {f1_score(truth, predicted, average='macro'):.2%}, "
                        f"subset accuracy {(truth == predicted).all(1).mean():.2%}")
        print(f"one-vs-rest {name}: " + "; ".join(line))


def main():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    from tfbert.evaluation.tfidf import tfidf_anchor

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory", help="a `tfbert datasets export` output")
    parser.add_argument("--analyzer", choices=["word", "char"], default="word")
    parser.add_argument("--ngrams", type=int, nargs=2, default=(1, 2), metavar=("MIN", "MAX"))
    parser.add_argument("--multi-label", action="store_true",
                        help="`labels` lists: one-vs-rest, micro/macro-F1")
    args = parser.parse_args()
    train, dev, test = (read(args.directory, s, args.multi_label)
                        for s in ("train", "dev", "test"))
    vectorizer = TfidfVectorizer(analyzer=args.analyzer, ngram_range=tuple(args.ngrams),
                                 sublinear_tf=True)
    features = vectorizer.fit_transform(train[0])
    models = (("linear SVM (C=1)", LinearSVC(C=1.0)),
              ("logistic regression (C=10)", LogisticRegression(C=10.0, max_iter=2000)))
    if args.multi_label:
        multi_label(vectorizer, features, train, dev, test, models)
        return
    # The linear SVM is the demo's anchor (tfbert.evaluation.tfidf); logistic regression
    # is shown beside it.
    anchor = tfidf_anchor(train, test, args.analyzer, args.ngrams)
    print(f"{anchor['model']}: test {anchor['accuracy']:.2%}, macro-F1 "
          f"{anchor['macro_f1']:.2%}")
    for name, model in models[1:]:
        model.fit(features, train[1])
        scores = {split: float((model.predict(vectorizer.transform(texts)) == labels).mean())
                  for split, (texts, labels) in (("dev", dev), ("test", test))}
        print(f"{args.analyzer} {args.ngrams[0]}-{args.ngrams[1]}-grams, {name}: "
              f"dev {scores['dev']:.2%}, test {scores['test']:.2%}")


if __name__ == "__main__":
    main()

"""`tfbert.TextClassifier`: a Keras model that takes strings, from a checkpoint name, whose
`save_pretrained` directory every command and runtime reads with the same answers."""

import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf

import tfbert
from tfbert.applications import text_data

MINILM = "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def news():
    """A few dozen real BBC News texts (their first 120 to 416 characters): eight per topic
    to train on, two to test."""
    from tfbert.data.builtin import load_classification

    splits, labels, _ = load_classification("bbc-news")

    def take(rows, per_label):
        picked = []
        for label in labels:
            picked += [(text, label) for text, l in rows if l == label][:per_label]
        # Of different lengths, so that grouping by length reorders them.
        picked = [(text[:120 + 37 * (k % 9)], label) for k, (text, label) in enumerate(picked)]
        return [t for t, _ in picked], [l for _, l in picked]

    return take(splits["train"], 8), take(splits["test"], 2), labels


@pytest.fixture(scope="module")
def trained(news, tmp_path_factory):
    (texts, labels), _, names = news
    model = tfbert.TextClassifier.from_pretrained(MINILM, labels=names, max_length=64)
    history = model.fit(texts, labels, epochs=4, batch_size=8, verbose=0)
    path = model.save_pretrained(tmp_path_factory.mktemp("clf") / "model")
    return model, history, pathlib.Path(path)


@pytest.mark.slow
def test_fit_on_strings_learns_and_predict_keeps_the_input_order(trained, news):
    model, history, _ = trained
    losses = history.history["loss"]
    assert losses == sorted(losses, reverse=True) and losses[-1] < losses[0] * 0.85, losses
    (texts, labels), _, names = news
    # Five topics: chance is 20 %.
    assert model.evaluate(texts, labels, verbose=0)[1] > 0.6
    logits = model.predict(texts)
    assert logits.shape == (len(texts), len(names))
    # Answers line up with the inputs although batches are grouped by length.
    reversed_logits = model.predict(texts[::-1])
    np.testing.assert_allclose(reversed_logits[::-1], logits, atol=1e-4)
    for j in (0, 5, 13):
        np.testing.assert_allclose(model.predict([texts[j]])[0], logits[j], atol=1e-4)
    one = model.classify(texts[0])
    assert one["text"] == texts[0] and one["label"] == names[int(np.argmax(logits[0]))]
    assert one["score"] == pytest.approx(max(one["probabilities"].values()))
    # Label ids and names give the same loss; a tf.data of (text, label) works as a list.
    ids = [names.index(label) for label in labels]
    by_name = model.evaluate(texts, labels, verbose=0)
    assert model.evaluate(texts, ids, verbose=0) == pytest.approx(by_name, abs=1e-5)
    dataset = tf.data.Dataset.from_tensor_slices((texts, labels))
    assert model.evaluate(dataset, verbose=0) == pytest.approx(by_name, abs=1e-5)
    # predict on a labelled or unlabelled dataset keeps its order too.
    np.testing.assert_allclose(model.predict(dataset), logits, atol=1e-4)
    np.testing.assert_allclose(model.predict(tf.data.Dataset.from_tensor_slices(texts)), logits,
                               atol=1e-4)
    assert model.predict([]).shape == (0, len(names)) and model.classify([]) == []
    with pytest.raises(ValueError, match=r"^x: expected a dataset of single strings"):
        model.predict(tf.data.Dataset.from_tensor_slices(texts).batch(4))
    with pytest.raises(ValueError, match=r"^y \(the labels\) is needed"):
        model.fit(texts)


@pytest.mark.slow
def test_the_saved_directory_gives_the_same_answers_everywhere(trained, news, tmp_path):
    """`save_pretrained` -> `tfbert export` -> `tfbert.predictor` on the directory, the
    SavedModel and the float TFLite file: the same labels, probabilities within 1e-4."""
    from click.testing import CliRunner

    from tfbert.cli.main import cli

    model, _, path = trained
    _, (texts, _), _ = news
    expected = model.classify(texts)
    task = json.loads((path / "task.json").read_text())
    assert task["pooling"] == "mean" and task["max_length"] == 64
    runner = CliRunner()
    done = runner.invoke(cli, ["export", str(path), "--format", "saved_model", "--name", "news",
                               "--base", str(tmp_path / "serving")])
    assert done.exit_code == 0, done.output
    lite = tmp_path / "news.tflite"
    done = runner.invoke(cli, ["export", str(path), "--format", "tflite", "--out", str(lite)])
    assert done.exit_code == 0, done.output
    for artifact in (path, tmp_path / "serving" / "news", lite):
        answers = tfbert.predictor(str(artifact))(texts)
        assert [a["label"] for a in answers] == [e["label"] for e in expected], artifact
        for got, want in zip(answers, expected):
            assert got["probabilities"] == pytest.approx(want["probabilities"], abs=1e-4)


@pytest.mark.slow
def test_from_pretrained_on_a_saved_classifier_keeps_its_head(trained, news):
    model, _, path = trained
    (texts, _), _, names = news
    again = tfbert.TextClassifier.from_pretrained(str(path))
    assert again.labels == names and again.spec.pooling == "mean"
    np.testing.assert_allclose(again.predict(texts[:4]), model.predict(texts[:4]), atol=1e-5)
    with pytest.raises(ValueError, match=r"labels \['a', 'b'\] differ from the labels"):
        tfbert.TextClassifier.from_pretrained(str(path), labels=["a", "b"])
    with pytest.raises(ValueError, match=r"^pair=True differs from the classifier"):
        tfbert.TextClassifier.from_pretrained(str(path), pair=True)
    with pytest.raises(ValueError, match=r"^pooling='cls' differs from the classifier"):
        tfbert.TextClassifier.from_pretrained(str(path), pooling="cls")


@pytest.mark.slow
def test_pair_models_take_tuples_and_two_lists():
    model = tfbert.TextClassifier.from_pretrained(MINILM, labels=["same", "different"],
                                                  pair=True, max_length=32, pooling="cls")
    pairs = [("a cat sat", "a cat was sitting"), ("stocks fell", "the team won")] * 4
    history = model.fit(pairs, ["same", "different"] * 4, epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    as_tuples = model.predict(pairs[:2])
    as_lists = model.predict(([a for a, _ in pairs[:2]], [b for _, b in pairs[:2]]))
    np.testing.assert_allclose(as_tuples, as_lists, atol=1e-6)
    assert model.classify(pairs[0])["pair"] == "a cat was sitting"
    two_lists = model.classify(([a for a, _ in pairs[:2]], [b for _, b in pairs[:2]]))
    assert [a["pair"] for a in two_lists] == ["a cat was sitting", "the team won"]
    with pytest.raises(ValueError, match=r"x: a pair model takes \(text, pair\) tuples"):
        model.predict(["one text"])


@pytest.mark.parametrize("call, message", [
    (lambda: tfbert.TextClassifier.from_pretrained(MINILM), r"^labels must be a list of label "
                                                            r"names \(at least two\)"),
    (lambda: tfbert.TextClassifier.from_pretrained(MINILM, labels=["a", "a"]),
     r"^labels must hold at least two distinct names"),
    (lambda: tfbert.TextClassifier.from_pretrained(MINILM, labels=["a", "b"], max_length=4096),
     r"^max_length 4096 is longer than the encoder's 512 position embeddings"),
    (lambda: tfbert.TextClassifier.from_pretrained("no-such-model", labels=["a", "b"]),
     r"^name_or_path no-such-model: no such file or directory, and not a checkpoint name"),
], ids=["no-labels", "duplicate-labels", "too-long", "unknown-name"])
def test_bad_arguments_are_one_line_errors_naming_the_parameter(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_labels_are_names_or_ids_and_a_bad_one_is_named():
    labels = ["neg", "pos"]
    assert text_data.label_ids(["pos", 0, np.int64(1)], labels).tolist() == [1, 0, 1]
    with pytest.raises(ValueError, match=r"^y\[1\]: label 'meh' is not one of the model's "
                                         r"labels \['neg', 'pos'\]$"):
        text_data.label_ids(["pos", "meh"], labels)
    with pytest.raises(ValueError, match=r"^y\[0\]: expected a label name or an id from 0 to 1"):
        text_data.label_ids([2], labels)
    with pytest.raises(ValueError, match=r"^x must be a list of texts"):
        text_data.texts_of("one string", False)


def test_batches_are_grouped_by_length_and_cut_to_a_multiple_of_16():
    from tfbert.task import TaskSpec
    from tfbert.tokenization import BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"]
    tokenizer = BertTokenizer(vocab)
    spec = TaskSpec(task="classify", labels=("x", "y"), max_length=64)
    texts = ["a " * n for n in (1, 40, 2, 41, 3, 42, 4, 43)]
    data = text_data.dataset(tokenizer, texts, [0, 1] * 4, spec, batch_size=4, shuffle=True,
                             seed=0)
    assert int(data.cardinality()) == 2
    widths = sorted(int(inputs["token_ids"].shape[1]) for inputs, _ in data)
    # The four short texts together (3-6 pieces -> 16), the four long ones (42-45 -> 48).
    assert widths == [16, 48]
    for inputs, labels in data:
        assert set(np.asarray(inputs["padding_mask"]).sum(1)) <= set(range(3, 46))

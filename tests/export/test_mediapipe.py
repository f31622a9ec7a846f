"""A `--tokenizer metadata` export runs in MediaPipe Tasks' `TextClassifier`, which
tokenizes real news sentences itself, and gives the Keras model's labels and scores."""

import numpy as np
import pytest

from tfbert.data import builtin
from tfbert.export import tflite
from tfbert.predict.keras_model import KerasPredictor

text = pytest.importorskip("mediapipe.tasks.python.text")


@pytest.mark.slow
def test_mediapipe_text_classifier_matches_keras(model_dirs, tmp_path):
    from mediapipe.tasks.python.core.base_options import BaseOptions

    out = str(tmp_path / "classifier.tflite")
    tflite.export_tflite(model_dirs["classify"], out, "none", "metadata")
    splits, _, _ = builtin.load_classification("bbc-news")
    # First lines of real test articles; ASCII, since MediaPipe's tokenizer does not
    # strip accents as an uncased BERT's does.
    sentences = [t.split("\n")[0] for t, _ in splits["test"][:12]]
    sentences = [s for s in sentences if s.isascii()][:8]
    classifier = text.TextClassifier.create_from_options(
        text.TextClassifierOptions(base_options=BaseOptions(model_asset_path=out)))
    expected = KerasPredictor(model_dirs["classify"]).predict([{"text": s} for s in sentences])
    labels = []
    for sentence, keras_result in zip(sentences, expected):
        categories = classifier.classify(sentence).classifications[0].categories
        scores = {c.category_name: c.score for c in categories}
        labels.append(max(scores, key=scores.get))
        np.testing.assert_allclose([scores[k] for k in keras_result["probabilities"]],
                                   list(keras_result["probabilities"].values()), atol=1e-5)
    assert labels == [r["label"] for r in expected]
    # The sentences reached the model as different ids (not, say, all [UNK]).
    spread = np.ptp([list(r["probabilities"].values()) for r in expected], axis=0)
    assert spread.max() > 1e-3

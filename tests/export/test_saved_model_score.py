"""The `score` signature of a pretrain SavedModel (raw text in, pseudo-log-likelihood out)
answers as `tfbert.SentenceScorer` does, windows and per-piece scores included."""

import numpy as np
import pytest
import tensorflow as tf

import tfbert
from tests.export.conftest import TEXTS
from tfbert.export import saved_model_ops, saved_model_signatures
from tfbert.export.saved_model import export_saved_model

# The last is longer than the model's 30-piece window; "" has no pieces.
SCORED = TEXTS + ["", " ".join(TEXTS)]


@pytest.fixture(scope="module")
def exported(model_dirs, tmp_path_factory):
    # Chunks of 7 copies: every request runs the signature's loop several times.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(saved_model_signatures, "SCORE_CHUNK", 7)
        return export_saved_model(model_dirs["pretrain"], "lm",
                                  str(tmp_path_factory.mktemp("score")))


def test_the_score_signature_matches_the_python_scorer(model_dirs, exported):
    saved_model_ops.check_untrusted_saved_model(exported)  # its ops are on the allow-list
    served = tf.saved_model.load(exported).signatures["score"](text=tf.constant(SCORED))
    served = {k: v.numpy() for k, v in served.items()}
    expected = tfbert.SentenceScorer.from_pretrained(model_dirs["pretrain"])(SCORED,
                                                                             per_token=True)
    assert expected[-1]["num_pieces"] > 30
    for i, answer in enumerate(expected):
        n = answer["num_pieces"]
        assert served["num_pieces"][i] == n, i
        assert served["pll"][i] == pytest.approx(answer["pll"], abs=1e-4), i
        assert served["pseudo_perplexity"][i] == pytest.approx(
            answer["pseudo_perplexity"] or 0.0, rel=1e-5), i
        tokens = answer["tokens"]
        assert [p.decode() for p in served["pieces"][i][:n]] == [t["token"] for t in tokens]
        np.testing.assert_allclose(served["piece_scores"][i][:n], [t["score"] for t in tokens],
                                   atol=1e-5)
        assert served["piece_starts"][i][:n].tolist() == [t["start"] for t in tokens]
        assert served["piece_ends"][i][:n].tolist() == [t["end"] for t in tokens]
        assert (served["piece_starts"][i][n:] == -1).all()

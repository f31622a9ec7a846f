"""`load_predictor`: one loader for every artifact, and a one-line error for anything else."""

import keras
import pytest

from tfbert.config import BertConfig
from tfbert.model_dir import build_model, save_model_dir
from tfbert.predict import Predictor, load_predictor
from tfbert.predict.loader import saved_model_dir
from tfbert.task import TaskSpec
from tfbert.tokenization.bert_tokenizer import SPECIAL_TOKENS


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("loader")
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join(list(SPECIAL_TOKENS) + list("abcdefgh")) + "\n")
    config = BertConfig(vocab_size=len(SPECIAL_TOKENS) + 8, hidden_size=16, num_layers=1,
                        num_heads=2, intermediate_size=32, max_position_embeddings=32)
    spec = TaskSpec(task="classify", labels=("no", "yes"), max_length=16)
    keras.utils.set_random_seed(0)
    save_model_dir(build_model(config, spec), config, spec, root / "model", vocab_file=vocab)
    return root / "model"


def test_a_model_directory_gives_the_keras_predictor(model_dir):
    predictor = load_predictor(model_dir, top_k=3)
    assert isinstance(predictor, Predictor) and type(predictor).__name__ == "KerasPredictor"
    assert (predictor.task, predictor.labels) == ("classify", ["no", "yes"])
    (answer,) = predictor.predict([{"text": "abc"}])
    assert answer["label"] in ("no", "yes") and set(answer["probabilities"]) == {"no", "yes"}


def test_a_serving_base_resolves_to_its_newest_version(tmp_path):
    for version in ("1", "12", "3", "notes"):
        (tmp_path / version).mkdir()
        (tmp_path / version / "saved_model.pb").write_bytes(b"")
    assert saved_model_dir(tmp_path) == str(tmp_path / "12")
    assert saved_model_dir(tmp_path / "3") == str(tmp_path / "3")
    assert saved_model_dir(tmp_path / "notes") == str(tmp_path / "notes")
    (tmp_path / "empty").mkdir()
    assert saved_model_dir(tmp_path / "empty") is None


@pytest.mark.parametrize("make, options, message", [
    (lambda p: p / "missing", {}, r"missing: no such file or directory, and not a checkpoint "
                                  r"name; expected a model or checkpoint directory, a "
                                  r"SavedModel, a .tflite file or one of \['all-MiniLM"),
    (lambda p: (p / "notes.txt").write_text("x") and p / "notes.txt", {},
     r"notes.txt: a file that is not a .tflite model; expected"),
    (lambda p: (p / "m.tflite").mkdir() or p / "m.tflite", {}, r"a directory, not a .tflite"),
    (lambda p: (p / "empty").mkdir() or p / "empty", {}, r"not a BERT checkpoint. Expected"),
    (lambda p: (p / "x.tflite").write_bytes(b"x") and p / "x.tflite", {"top_k": 3},
     r"--top-k is fixed in an exported model"),
    (lambda p: (p / "1").mkdir() or (p / "1" / "saved_model.pb").write_bytes(b"") or p,
     {"doc_stride": 8}, r"--doc-stride applies to model directories"),
], ids=["missing", "other-file", "tflite-directory", "empty-directory", "top-k-exported",
        "doc-stride-exported"])
def test_anything_else_is_one_line_saying_what_was_expected(tmp_path, make, options, message):
    with pytest.raises(ValueError, match=message) as caught:
        load_predictor(make(tmp_path), **options)
    assert "\n" not in str(caught.value)

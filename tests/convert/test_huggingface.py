import json
import re

import keras
import numpy as np
import pytest

import tfbert
from tfbert.convert import convert, read_checkpoint
from tfbert.model_dir import build_model, save_model_dir
from tfbert.task import TaskSpec


def _save(tmp_path, config, spec, name="model", seed=0):
    keras.utils.set_random_seed(seed)
    model = build_model(config, spec)
    # Randomise LayerNorms and biases too, so no tensor is a trivial 0 or 1.
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign(rng.normal(0, 0.1, w.shape).astype("float32") + (1 if "gamma" in w.path else 0))
    path = tmp_path / name
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("".join(f"t{i}\n" for i in range(config.vocab_size)))
    save_model_dir(model, config, spec, path, vocab_file=vocab)
    return model, path


SPECS = [
    TaskSpec(task="encoder"),
    TaskSpec(task="pretrain"),
    TaskSpec(task="pretrain", next_sentence=False),
    TaskSpec(task="classify", labels=("neg", "pos", "neutral")),
    TaskSpec(task="classify", labels=("a", "b"), multi_label=True),
    TaskSpec(task="ner", labels=("O", "B-PER", "I-PER")),
    TaskSpec(task="qa"),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.task}-{len(s.labels)}")
def test_hf_export_import_is_exact(tmp_path, tiny_config, make_inputs, spec):
    model, path = _save(tmp_path, tiny_config, spec)
    convert(path, tmp_path / "hf", to="hf")
    data = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert data["model_type"] == "bert" and data["num_hidden_layers"] == 2
    if spec.labels:
        assert [data["id2label"][str(i)] for i in range(len(spec.labels))] == list(spec.labels)
    back = read_checkpoint(tmp_path / "hf")
    assert back.spec.task == ("classify" if spec.task == "pair" else spec.task)
    assert back.spec.labels == spec.labels and back.spec.multi_label == spec.multi_label
    if spec.task == "ner":   # read in overlapping windows, as fine-tuning's default
        assert back.spec.doc_stride == 63
    original = read_checkpoint(path)
    # Transformers' token-classification and QA classes have no pooler, so none is written.
    unused_pooler = ("pooler/kernel", "pooler/bias") if spec.task in ("ner", "qa") else ()
    assert back.fresh == unused_pooler
    assert set(back.tensors) == set(original.tensors) - set(unused_pooler)
    for name, value in back.tensors.items():
        np.testing.assert_array_equal(value, original.tensors[name], err_msg=name)
    # Loading the HF directory as its task gives bit-identical outputs.
    reloaded = tfbert.load(tmp_path / "hf", task=spec.task)
    inputs = make_inputs()
    if spec.task == "pretrain":
        inputs["masked_positions"] = np.ones((3, 2), "int32")
    for key, value in model(inputs).items():
        np.testing.assert_array_equal(reloaded(inputs)[key], value, err_msg=key)


def test_bare_pretraining_checkpoint_loads_as_encoder(tmp_path, tiny_config):
    _, path = _save(tmp_path, tiny_config, TaskSpec(task="pretrain"))
    convert(path, tmp_path / "hf", to="hf")
    assert type(tfbert.load(tmp_path / "hf")).__name__ == "BertEncoder"
    assert type(tfbert.load(tmp_path / "hf", task="pretrain")).__name__ == "BertPretrainer"
    assert type(tfbert.load(path)).__name__ == "BertPretrainer"  # tfbert dirs keep their task
    with pytest.raises(ValueError, match="cannot be loaded as 'qa'"):
        tfbert.load(path, task="qa")


def test_old_names_and_missing_pooler(tmp_path, tiny_config, make_inputs):
    """Old checkpoints say LayerNorm.gamma/beta; masked-LM models have no pooler."""
    from safetensors.numpy import load_file, save_file

    model, path = _save(tmp_path, tiny_config, TaskSpec(task="pretrain", next_sentence=False))
    convert(path, tmp_path / "hf", to="hf")
    weights_file = tmp_path / "hf" / "model.safetensors"
    tensors = load_file(weights_file)
    renamed = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias",
                                                                         "LayerNorm.beta"): v
               for k, v in tensors.items() if "pooler" not in k}
    save_file(renamed, weights_file, metadata={"format": "pt"})
    checkpoint = read_checkpoint(tmp_path / "hf")
    assert checkpoint.fresh == ("pooler/kernel", "pooler/bias")
    encoder = tfbert.load(tmp_path / "hf")
    inputs = make_inputs()
    np.testing.assert_array_equal(encoder(inputs)["sequence_output"],
                                  model.encoder(inputs)["sequence_output"])


def test_pytorch_bin_is_never_unpickled(tmp_path, tiny_config):
    directory = tmp_path / "torch_only"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps(tiny_config.to_hf_dict()))
    (directory / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(ValueError, match="never unpickles.*safetensors"):
        tfbert.load(directory)


def test_unknown_tensor_is_an_error(tmp_path, tiny_config):
    from safetensors.numpy import load_file, save_file

    _, path = _save(tmp_path, tiny_config, TaskSpec())
    convert(path, tmp_path / "hf", to="hf")
    weights_file = tmp_path / "hf" / "model.safetensors"
    tensors = load_file(weights_file)
    tensors["encoder.layer.0.attention.self.rotary.weight"] = np.zeros(3, "float32")
    save_file(tensors, weights_file, metadata={"format": "pt"})
    with pytest.raises(ValueError, match="rotary"):
        tfbert.load(tmp_path / "hf")


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not a BERT checkpoint. Expected"):
        tfbert.load(tmp_path / "empty")
    with pytest.raises(ValueError, match="no such file"):
        tfbert.load(tmp_path / "missing")


@pytest.mark.parametrize("modules, modes, expected", [
    ([{"type": "sentence_transformers.models.Pooling", "path": "1_Pooling"}],
     {"pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False}, "mean"),
    ([{"type": "sentence_transformers.models.Pooling", "path": "1_Pooling"}],
     {"pooling_mode_cls_token": True}, "cls"),
    ([{"type": "sentence_transformers.models.Pooling", "path": "1_Pooling"}],
     {"pooling_mode_cls_token": True, "pooling_mode_max_tokens": True}, None),
    ([{"type": "sentence_transformers.models.Pooling", "path": "1_Pooling"}],
     {"pooling_mode_max_tokens": True}, None),
    ([{"type": "sentence_transformers.models.Transformer", "path": ""}], {}, None),
    ({"not": "a list"}, {}, None),
    # A module folder that leads out of the directory is not followed.
    ([{"type": "sentence_transformers.models.Pooling", "path": "../1_Pooling"}],
     {"pooling_mode_mean_tokens": True}, None),
    (None, None, None),
])
def test_sentence_pooling(tmp_path, modules, modes, expected):
    from tfbert.convert.huggingface import sentence_pooling

    if modules is not None:
        (tmp_path / "modules.json").write_text(json.dumps(modules))
    if modes is not None:
        (tmp_path / "1_Pooling").mkdir()
        (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(modes))
    assert sentence_pooling(tmp_path) == expected


def google_names_from_hf(tensors):
    """Hugging Face names and `(out, in)` Linear layouts -> google-research/bert names and
    `(in, out)` kernels, by Hugging Face's own naming rules (written here, independently of
    tfbert's name table)."""
    out = {}
    for name, value in tensors.items():
        name = name if name.startswith(("bert.", "cls.")) else f"bert.{name}"
        if not name.startswith("bert."):
            continue   # heads are read by the caller
        path = re.sub(r"layer\.(\d+)", r"layer_\1", name).replace(".", "/")
        if path.endswith("LayerNorm/weight"):
            path = path[:-len("weight")] + "gamma"
        elif path.endswith("LayerNorm/bias"):
            path = path[:-len("bias")] + "beta"
        elif path.endswith("_embeddings/weight"):
            path = path[:-len("/weight")]
        elif path.endswith("/weight"):   # an nn.Linear: (out, in)
            path, value = path[:-len("weight")] + "kernel", value.T
        out[path] = value
    return out


# Hugging Face's layouts: every head is an nn.Linear, weight (out, in).
HEAD_SHAPES = {
    "pretrain": lambda c, n: {"cls.predictions.transform.dense.weight": (c.hidden_size,) * 2,
                              "cls.predictions.bias": (c.vocab_size,),
                              "cls.predictions.decoder.weight": (c.vocab_size, c.hidden_size),
                              "cls.seq_relationship.weight": (2, c.hidden_size),
                              "cls.seq_relationship.bias": (2,)},
    "classify": lambda c, n: {"classifier.weight": (n, c.hidden_size), "classifier.bias": (n,)},
    "ner": lambda c, n: {"classifier.weight": (n, c.hidden_size), "classifier.bias": (n,)},
    "qa": lambda c, n: {"qa_outputs.weight": (2, c.hidden_size), "qa_outputs.bias": (2,)},
    "encoder": lambda c, n: {"pooler.dense.weight": (c.hidden_size,) * 2},
}


@pytest.mark.parametrize("spec", [SPECS[1], SPECS[3], SPECS[5], SPECS[6], SPECS[0]],
                         ids=lambda s: s.task)
def test_hf_export_heads_match_numpy_from_the_safetensors(tmp_path, make_inputs, spec):
    """Every head's tensors in the exported safetensors have Hugging Face's layout, and a
    numpy forward pass over those tensors (Hugging Face's semantics, none of tfbert's
    conversion code) gives the Keras model's outputs."""
    from safetensors.numpy import load_file

    from numpy_bert import bert_forward, gelu_exact, masked_lm_logits
    from tfbert.config import BertConfig

    # hidden 32 and intermediate 48: a transposed non-square kernel cannot hide.
    config = BertConfig(vocab_size=61, hidden_size=32, num_layers=2, num_heads=4,
                        intermediate_size=48, max_position_embeddings=40)
    model, path = _save(tmp_path, config, spec)
    convert(path, tmp_path / "hf", to="hf")
    tensors = load_file(tmp_path / "hf" / "model.safetensors")
    prefix = "" if spec.task == "encoder" else "bert."
    expected = {f"{prefix}encoder.layer.1.intermediate.dense.weight": (48, 32),
                f"{prefix}encoder.layer.1.output.dense.weight": (32, 48),
                **HEAD_SHAPES[spec.task](config, len(spec.labels))}
    assert {k: tensors[k].shape for k in expected} == expected
    inputs = make_inputs(batch=3, seq=12, vocab=61, pair=True)
    weights = google_names_from_hf(tensors)
    # Token-classification and QA exports have no pooler (transformers builds none).
    weights.setdefault("bert/pooler/dense/kernel", np.zeros((32, 32), "float32"))
    weights.setdefault("bert/pooler/dense/bias", np.zeros(32, "float32"))
    sequence, pooled = bert_forward(weights, 2, 4, **inputs, activation=gelu_exact)
    if spec.task == "pretrain":
        positions = np.array([[1, 4], [2, 0], [3, 5]], "int32")
        ours = model({**inputs, "masked_positions": positions})
        w = {"cls/predictions/transform/dense/kernel":
             tensors["cls.predictions.transform.dense.weight"].T,
             "cls/predictions/transform/dense/bias":
             tensors["cls.predictions.transform.dense.bias"],
             "cls/predictions/transform/LayerNorm/gamma":
             tensors["cls.predictions.transform.LayerNorm.weight"],
             "cls/predictions/transform/LayerNorm/beta":
             tensors["cls.predictions.transform.LayerNorm.bias"],
             "cls/predictions/output_bias": tensors["cls.predictions.bias"],
             "bert/embeddings/word_embeddings": tensors["cls.predictions.decoder.weight"]}
        theirs = {"mlm_logits": masked_lm_logits(w, sequence, positions, gelu_exact),
                  "nsp_logits": pooled @ tensors["cls.seq_relationship.weight"].T
                  + tensors["cls.seq_relationship.bias"]}
    else:
        ours = model(inputs)
        if spec.task == "classify":
            theirs = {"logits": pooled @ tensors["classifier.weight"].T
                      + tensors["classifier.bias"]}
        elif spec.task == "ner":
            theirs = {"logits": sequence @ tensors["classifier.weight"].T
                      + tensors["classifier.bias"]}
        elif spec.task == "qa":
            # BertForQuestionAnswering: logits.split(1, dim=-1) -> start, end.
            logits = sequence @ tensors["qa_outputs.weight"].T + tensors["qa_outputs.bias"]
            theirs = {"start_logits": logits[..., 0], "end_logits": logits[..., 1]}
        else:
            theirs = {"sequence_output": sequence, "pooled_output": pooled}
    mask = inputs["padding_mask"].astype(bool)
    for key, value in theirs.items():
        got = np.asarray(ours[key])
        if key in ("logits", "start_logits", "end_logits") and spec.task in ("ner", "qa"):
            got, value = got[mask], value[mask]   # padded positions are masked by tfbert
        np.testing.assert_allclose(got, value, atol=1e-4, rtol=1e-4, err_msg=key)

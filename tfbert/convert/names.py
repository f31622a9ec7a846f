"""The weight-name table: tfbert variable path <-> google-research/bert <-> Hugging Face.

One row per tensor. `transpose` marks rows whose layout differs: Hugging Face stores a
linear layer's weight as `(out, in)`, Keras as `(in, out)`; google-research/bert stores
Keras-like `(in, out)` kernels except its output layers (`output_weights`, `(out, in)`).
"""

from typing import NamedTuple


class Row(NamedTuple):
    tfbert: str
    google: str | None
    hf: str | None
    hf_transpose: bool = False
    google_transpose: bool = False


def _dense(tfbert, google, hf):
    return [Row(f"{tfbert}/kernel", f"{google}/kernel", f"{hf}.weight", True, False),
            Row(f"{tfbert}/bias", f"{google}/bias", f"{hf}.bias")]


def _layer_norm(tfbert, google, hf):
    return [Row(f"{tfbert}/gamma", f"{google}/gamma", f"{hf}.weight"),
            Row(f"{tfbert}/beta", f"{google}/beta", f"{hf}.bias")]


def encoder_rows(num_layers):
    """Rows of the encoder; Hugging Face names are those of `BertModel` (no `bert.`)."""
    rows = [
        Row("embeddings/token_embedding/embeddings", "bert/embeddings/word_embeddings",
            "embeddings.word_embeddings.weight"),
        Row("embeddings/segment_embedding/embeddings", "bert/embeddings/token_type_embeddings",
            "embeddings.token_type_embeddings.weight"),
        Row("embeddings/position_embeddings", "bert/embeddings/position_embeddings",
            "embeddings.position_embeddings.weight"),
        *_layer_norm("embeddings/layer_norm", "bert/embeddings/LayerNorm", "embeddings.LayerNorm"),
    ]
    for i in range(num_layers):
        ours, google, hf = f"block_{i}", f"bert/encoder/layer_{i}", f"encoder.layer.{i}"
        for part in ("query", "key", "value"):
            rows += _dense(f"{ours}/attention/{part}", f"{google}/attention/self/{part}",
                           f"{hf}.attention.self.{part}")
        rows += _dense(f"{ours}/attention_output", f"{google}/attention/output/dense",
                       f"{hf}.attention.output.dense")
        rows += _layer_norm(f"{ours}/attention_layer_norm", f"{google}/attention/output/LayerNorm",
                            f"{hf}.attention.output.LayerNorm")
        rows += _dense(f"{ours}/intermediate", f"{google}/intermediate/dense",
                       f"{hf}.intermediate.dense")
        rows += _dense(f"{ours}/output", f"{google}/output/dense", f"{hf}.output.dense")
        rows += _layer_norm(f"{ours}/output_layer_norm", f"{google}/output/LayerNorm",
                            f"{hf}.output.LayerNorm")
    rows += _dense("pooler", "bert/pooler/dense", "pooler.dense")
    return rows


def masked_lm_rows():
    """Rows of the masked-LM head (its output matrix is the tied token embedding)."""
    return [
        *_dense("masked_lm/transform", "cls/predictions/transform/dense",
                "cls.predictions.transform.dense"),
        *_layer_norm("masked_lm/layer_norm", "cls/predictions/transform/LayerNorm",
                     "cls.predictions.transform.LayerNorm"),
        Row("masked_lm/output_bias", "cls/predictions/output_bias", "cls.predictions.bias"),
    ]


def next_sentence_rows():
    return [
        Row("next_sentence/kernel", "cls/seq_relationship/output_weights",
            "cls.seq_relationship.weight", True, True),
        Row("next_sentence/bias", "cls/seq_relationship/output_bias",
            "cls.seq_relationship.bias"),
    ]


def classifier_rows():
    """google-research/bert's run_classifier names its layer `output_weights`/`output_bias`."""
    return [Row("classifier/kernel", "output_weights", "classifier.weight", True, True),
            Row("classifier/bias", "output_bias", "classifier.bias")]


def span_qa_rows():
    return [Row("span_classifier/kernel", "cls/squad/output_weights", "qa_outputs.weight",
                True, True),
            Row("span_classifier/bias", "cls/squad/output_bias", "qa_outputs.bias")]


def task_rows(task, num_layers, next_sentence=True):
    """All rows of a task's model (see `tfbert.task.TASKS`)."""
    rows = encoder_rows(num_layers)
    if task == "pretrain":
        rows += masked_lm_rows() + (next_sentence_rows() if next_sentence else [])
    elif task in ("classify", "pair", "ner"):
        rows += classifier_rows()
    elif task == "qa":
        rows += span_qa_rows()
    return rows

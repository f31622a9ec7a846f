"""A BERT forward pass in plain numpy over google-research/bert's variable names: the
reference the converters are checked against (written from the paper and the original
modeling.py's structure, not from tfbert's code)."""

import math

import numpy as np


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def gelu_exact(x):
    """Hugging Face's "gelu": 0.5 x (1 + erf(x / sqrt 2))."""
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def layer_norm(x, gamma, beta, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def bert_forward(w, num_layers, num_heads, token_ids, segment_ids, padding_mask,
                 activation=gelu_tanh):
    """Returns (sequence_output, pooled_output) for weights `w` keyed by Google names."""
    seq = token_ids.shape[1]
    x = (w["bert/embeddings/word_embeddings"][token_ids]
         + w["bert/embeddings/token_type_embeddings"][segment_ids]
         + w["bert/embeddings/position_embeddings"][:seq][None])
    x = layer_norm(x, w["bert/embeddings/LayerNorm/gamma"], w["bert/embeddings/LayerNorm/beta"])
    batch, _, hidden = x.shape
    size = hidden // num_heads
    bias = (1.0 - padding_mask[:, None, None, :]) * -10000.0
    for i in range(num_layers):
        p = f"bert/encoder/layer_{i}/"

        def dense(h, name):
            return h @ w[p + name + "/kernel"] + w[p + name + "/bias"]

        def heads(h):
            return h.reshape(batch, seq, num_heads, size).transpose(0, 2, 1, 3)

        q, k, v = (heads(dense(x, f"attention/self/{n}")) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(size) + bias
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, hidden)
        x = layer_norm(x + dense(context, "attention/output/dense"),
                       w[p + "attention/output/LayerNorm/gamma"],
                       w[p + "attention/output/LayerNorm/beta"])
        inner = activation(dense(x, "intermediate/dense"))
        x = layer_norm(x + dense(inner, "output/dense"), w[p + "output/LayerNorm/gamma"],
                       w[p + "output/LayerNorm/beta"])
    pooled = np.tanh(x[:, 0] @ w["bert/pooler/dense/kernel"] + w["bert/pooler/dense/bias"])
    return x, pooled


def masked_lm_logits(w, sequence_output, positions, activation=gelu_tanh):
    """cls/predictions: transform, LayerNorm, tied word embeddings, output bias."""
    x = np.take_along_axis(sequence_output, positions[:, :, None], axis=1)
    x = activation(x @ w["cls/predictions/transform/dense/kernel"]
                  + w["cls/predictions/transform/dense/bias"])
    x = layer_norm(x, w["cls/predictions/transform/LayerNorm/gamma"],
                   w["cls/predictions/transform/LayerNorm/beta"])
    return x @ w["bert/embeddings/word_embeddings"].T + w["cls/predictions/output_bias"]


def nsp_logits(w, pooled):
    weights = w["cls/seq_relationship/output_weights"]
    return pooled @ weights.T + w["cls/seq_relationship/output_bias"]


def random_google_weights(vocab, hidden, layers, intermediate, max_pos, seed=0):
    """Every variable of a google-research/bert pre-training checkpoint, random."""
    rng = np.random.default_rng(seed)

    def r(*shape):
        return rng.normal(0, 0.2, shape).astype("float32")

    w = {"bert/embeddings/word_embeddings": r(vocab, hidden),
         "bert/embeddings/token_type_embeddings": r(2, hidden),
         "bert/embeddings/position_embeddings": r(max_pos, hidden),
         "bert/embeddings/LayerNorm/gamma": 1 + r(hidden),
         "bert/embeddings/LayerNorm/beta": r(hidden)}
    for i in range(layers):
        p = f"bert/encoder/layer_{i}/"
        for name, n_in, n_out in [("attention/self/query", hidden, hidden),
                                  ("attention/self/key", hidden, hidden),
                                  ("attention/self/value", hidden, hidden),
                                  ("attention/output/dense", hidden, hidden),
                                  ("intermediate/dense", hidden, intermediate),
                                  ("output/dense", intermediate, hidden)]:
            w[p + name + "/kernel"], w[p + name + "/bias"] = r(n_in, n_out), r(n_out)
        for name in ("attention/output/LayerNorm", "output/LayerNorm"):
            w[p + name + "/gamma"], w[p + name + "/beta"] = 1 + r(hidden), r(hidden)
    w["bert/pooler/dense/kernel"], w["bert/pooler/dense/bias"] = r(hidden, hidden), r(hidden)
    w["cls/predictions/transform/dense/kernel"] = r(hidden, hidden)
    w["cls/predictions/transform/dense/bias"] = r(hidden)
    w["cls/predictions/transform/LayerNorm/gamma"] = 1 + r(hidden)
    w["cls/predictions/transform/LayerNorm/beta"] = r(hidden)
    w["cls/predictions/output_bias"] = r(vocab)
    w["cls/seq_relationship/output_weights"] = r(2, hidden)
    w["cls/seq_relationship/output_bias"] = r(2)
    return w

"""The activations a BERT checkpoint may name (see `tfbert.config.ACTIVATIONS`)."""

import functools

import keras


def get_activation(name):
    """Returns the function for an activation name.

    `"gelu"` is the exact erf form (Hugging Face); `"gelu_tanh"` the tanh approximation
    (google-research/bert, keras-hub). The two differ by up to ~1e-3 per unit, enough to
    move a 6-layer model's outputs by 1e-2, so a converted checkpoint must use its own.
    """
    table = {
        "gelu": functools.partial(keras.activations.gelu, approximate=False),
        "gelu_tanh": functools.partial(keras.activations.gelu, approximate=True),
        "relu": keras.activations.relu,
        "tanh": keras.activations.tanh,
    }
    if name not in table:
        raise ValueError(f"Unknown activation. Expected one of {sorted(table)}. Received: {name!r}")
    return table[name]

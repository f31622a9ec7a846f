"""Which Keras backend a command needs.

`pretrain`, `finetune`, `evaluate` and `predict` on a model directory run on the TensorFlow
and JAX backends (`KERAS_BACKEND`); the exports trace the Keras model into TensorFlow graphs
and distillation's losses are TensorFlow ops, so those need the TensorFlow backend.
"""

from __future__ import annotations


def require_tensorflow_backend(what: str) -> None:
    """A one-line error when Keras runs on another backend than TensorFlow."""
    import keras

    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise ValueError(f"{what} needs Keras's TensorFlow backend; this process runs on "
                         f"{backend} (KERAS_BACKEND={backend}): run it with "
                         "KERAS_BACKEND=tensorflow, the default. Model directories trained "
                         "on either backend are the same files")

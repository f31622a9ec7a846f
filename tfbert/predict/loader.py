"""One loader for every artifact tfbert makes or reads.

`load_predictor(path)` takes a tfbert model directory, a checkpoint directory tfbert can
load (Hugging Face, Google TF1, keras-hub, with a fine-tuned head) or its name
(`all-MiniLM-L6-v2`, `tfbert presets`), a SavedModel version or a
TF Serving base directory (its newest version) or a `.tflite` file, and returns the
`Predictor` for it. A path that is none of these is a one-line `ValueError` saying what was
expected.
"""

from __future__ import annotations

import os

from tfbert.predict.base import Predictor
from tfbert.task.decoding import DEFAULT_TOP_K

EXPECTED = ("expected a tfbert model directory, a checkpoint directory, a SavedModel (or a TF "
            "Serving base directory) or a .tflite file")


def saved_model_dir(path):
    """`path` if it is a SavedModel, else the newest integer version under it (a TF Serving
    base directory), else None."""
    path = os.fspath(path)
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    if os.path.isdir(path):
        versions = [int(n) for n in os.listdir(path) if n.isdigit()
                    and os.path.isfile(os.path.join(path, n, "saved_model.pb"))]
        if versions:
            return os.path.join(path, str(max(versions)))
    return None


def is_exported(path) -> bool:
    """Whether `path` is an exported model (SavedModel, TF Serving base or `.tflite`)."""
    return os.fspath(path).endswith(".tflite") or saved_model_dir(path) is not None


def load_predictor(path, batch_size=32, top_k=None, doc_stride=None,
                   parameter=None, n_best=None) -> Predictor:
    """The predictor for `path`. `top_k` (fill-mask candidates; default `DEFAULT_TOP_K`) and
    `doc_stride` (qa, ner and windowed classify/pair windows; default the model's) apply to
    model and checkpoint directories: an exported model answers as it was exported.
    `n_best`: qa answers gain the `n_best` best spans (an exported model lists at most as
    many as it was exported with). The predictor's `source` is the file or directory it
    was loaded from: what a streaming run fingerprints to resume."""
    from tfbert.registry import checkpoint_path

    # A checkpoint name (tfbert presets) becomes its directory; `parameter` names the
    # argument in errors.
    path = checkpoint_path(path, parameter)
    saved_model = None if path.endswith(".tflite") else saved_model_dir(path)
    if saved_model or path.endswith(".tflite"):
        if top_k is not None:
            raise ValueError("--top-k is fixed in an exported model (tfbert export --top-k); "
                             "it applies to model directories")
        if doc_stride is not None:
            raise ValueError("--doc-stride applies to model directories; an exported model "
                             "windows as it was exported (SavedModel qa and windowed "
                             "classify/pair: its task.json stride; ner and TFLite: one "
                             "window)")
        if path.endswith(".tflite"):
            if not os.path.isfile(path):
                raise ValueError(f"{path}: a directory, not a .tflite file; {EXPECTED}")
            from tfbert.predict.tflite import LitePredictor

            return _from(path, LitePredictor(path, n_best=n_best))
        from tfbert.predict.saved_model import SavedModelPredictor

        return _from(saved_model, SavedModelPredictor(saved_model, batch_size, n_best=n_best))
    if not os.path.isdir(path):
        raise ValueError(f"{path}: a file that is not a .tflite model; {EXPECTED}")
    from tfbert.predict.keras_model import KerasPredictor

    return _from(path, KerasPredictor(path, batch_size=batch_size,
                                      top_k=DEFAULT_TOP_K if top_k is None else top_k,
                                      doc_stride=doc_stride, n_best=n_best))


def _from(source, predictor) -> Predictor:
    predictor.source = source
    return predictor

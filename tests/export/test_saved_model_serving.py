"""The SavedModel as TF Serving runs it: a TF1 session over the `serve` MetaGraph with
TF Serving's thread settings (not Python's TF2 call), the XLA-compiled export
(`--xla`), and the batching policy every version carries."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tests.export.conftest import TEXTS
from tfbert.export import saved_model_batching as batching
from tfbert.export.saved_model import export_saved_model, load_task_model
from tfbert.predict.keras_model import KerasPredictor


def session_run(path, signature, inputs, threads=1):
    """`{output: array}` of `signature` run as TF Serving runs it: the SavedModel's graph
    loaded into a `Session` (intra-op `threads`, inter-op 1), fed and fetched by name."""
    config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=threads,
                                      inter_op_parallelism_threads=1)
    graph = tf.Graph()
    with tf.compat.v1.Session(graph=graph, config=config) as session:
        with graph.as_default():
            meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], path)
        sig = meta.signature_def[signature]
        feeds = {sig.inputs[k].name: v for k, v in inputs.items()}
        return session.run({k: v.name for k, v in sig.outputs.items()}, feeds), meta


@pytest.fixture(scope="module")
def exports(model_dirs, tmp_path_factory):
    base = str(tmp_path_factory.mktemp("serving"))
    return {xla: export_saved_model(model_dirs["classify"], f"xla{int(xla)}", base, xla=xla)
            for xla in (False, True)}


@pytest.mark.slow
@pytest.mark.parametrize("xla", [False, True])
def test_session_path_matches_keras(model_dirs, exports, xla):
    """Both signatures, through the Session TF Serving uses, equal the Keras model within
    the export's tolerance (probabilities of `predict`, logits of the model)."""
    path = exports[xla]
    texts = np.array([t.encode() for t in TEXTS], object)
    out, meta = session_run(path, "serving_default", {"text": texts}, threads=2)
    keras_path = KerasPredictor(model_dirs["classify"]).predict([{"text": t} for t in TEXTS])
    np.testing.assert_allclose(out["probabilities"], [list(r["probabilities"].values())
                                                      for r in keras_path], atol=1e-5)
    model, tokenizer, spec, _ = load_task_model(model_dirs["classify"])
    ids = tokenizer(TEXTS, max_length=spec.max_length, pad_to_max_length=False)
    encoded, _ = session_run(path, "encode", ids)
    np.testing.assert_allclose(encoded["logits"], model(ids, training=False)["logits"],
                               atol=1e-5)
    # Only the --xla export holds an XLA-compiled function (what
    # --xla_cpu_compilation_enabled is for); the default one runs on any TF Serving.
    compiled = [f.signature.name for f in meta.graph_def.library.function
                if f.attr["_XlaMustCompile"].b]
    assert bool(compiled) == xla, compiled


@pytest.mark.slow
def test_export_record_names_xla_and_the_batching_file(exports):
    for xla, path in exports.items():
        with open(os.path.join(path, "assets.extra", "tfbert_export.json")) as f:
            record = json.load(f)
        assert record["xla"] is xla
        assert record["batching_parameters"] == batching.FILE_NAME


@pytest.mark.slow
def test_every_version_carries_a_batching_policy_tf_serving_parses(exports):
    for xla, path in exports.items():
        parameters = batching.read_batching_parameters(
            os.path.join(path, batching.FILE_NAME))
        assert parameters == batching.BatchingParameters(**batching.default_parameters(xla))
        # An XLA export bounds the shapes it compiles: batches padded to a few sizes.
        assert parameters.allowed_batch_sizes == (batching.XLA_BATCH_SIZES if xla else ())

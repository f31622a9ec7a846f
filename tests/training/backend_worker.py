"""Trains tiny models with tfbert's Trainer on the Keras backend this process was started
with (KERAS_BACKEND), for test_backends.py: the same initial weights, data and settings on
TensorFlow and on JAX.

    python backend_worker.py RUNS.json RESULT.json

RUNS.json: a list of runs, each `{"name", "out", "head": "classify"|"token", "init":
weights.safetensors, "strategy", "interrupt_after": steps or null, "settings": {...}}`.
RESULT.json gets per run the logged losses, the step reached and the final weights' file
(`<out>/final.safetensors`).
"""

import json
import os
import sys

import keras
import numpy as np
import tensorflow as tf

if keras.backend.backend() == "tensorflow":
    # Two logical CPUs for MirroredStrategy, before TensorFlow sets its devices up.
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)

from safetensors.numpy import load_file, save_file  # noqa: E402

from tfbert.config import BertConfig  # noqa: E402
from tfbert.model_dir import assign_weights, model_weights  # noqa: E402
from tfbert.modeling import BertClassifier, BertEncoder, BertTokenClassifier  # noqa: E402
from tfbert.training.losses import ClassificationLoss, TokenLoss  # noqa: E402
from tfbert.training.strategy import make_strategy  # noqa: E402
from tfbert.training.trainer import Trainer, TrainSettings, prepare  # noqa: E402

EXAMPLES = 48
rng = np.random.default_rng(0)
IDS = rng.integers(5, 60, (EXAMPLES, 12)).astype("int32")
LABELS = (IDS[:, 1] > 30).astype("int32")
# Rows of 8 to 12 tokens, the rest padding (masked keys in every attention).
MASK = (np.arange(12)[None, :] < rng.integers(8, 13, (EXAMPLES, 1))).astype("int32")
TAGS = np.where((IDS > 40) & (MASK > 0), 1, 0).astype("int32")
TAGS[MASK == 0] = -1   # unlabelled tokens


def model_for(head):
    config = BertConfig(vocab_size=60, hidden_size=32, num_layers=2, num_heads=4,
                        intermediate_size=64, max_position_embeddings=16,
                        hidden_dropout=0.0, attention_dropout=0.0)
    encoder = BertEncoder.from_bert_config(config)
    if head == "token":
        return BertTokenClassifier(encoder, 2, dropout=0.0), TokenLoss()
    return BertClassifier(encoder, 2, dropout=0.0), ClassificationLoss()


def dataset_for(head):
    def make_dataset(epoch, batch):
        order = np.random.default_rng([0, epoch]).permutation(EXAMPLES)
        inputs = {"token_ids": IDS[order] * MASK[order], "segment_ids": np.zeros_like(IDS),
                  "padding_mask": MASK[order]}
        labels = TAGS[order] if head == "token" else LABELS[order]
        return tf.data.Dataset.from_tensor_slices(
            (inputs, {"labels": labels})).batch(batch, drop_remainder=True)
    return make_dataset


def attention_paths():
    """The largest difference between the attention this backend runs in inference (on
    JAX the fused `dot_product_attention`) and the explicit form that returns the
    probabilities, on padded rows."""
    from tfbert.modeling import SelfAttention

    layer = SelfAttention(hidden_size=32, num_heads=4)
    x = np.random.default_rng(1).normal(size=(4, 12, 32)).astype("float32")
    plain = keras.ops.convert_to_numpy(layer(x, MASK[:4], training=False))
    explicit, _ = layer(x, MASK[:4], training=False, return_probs=True)
    return float(np.abs(plain - keras.ops.convert_to_numpy(explicit)).max())


def run(spec):
    if spec.get("attention"):
        return {"max_difference": attention_paths()}
    settings = TrainSettings(**{"batch_size": 8, "epochs": 1, "learning_rate": 1e-3,
                                "log_every": 1, "seed": 3, **spec.get("settings", {})})
    strategy = make_strategy(spec.get("strategy", "one"))   # (JAX: before its backends start)
    prepare(settings)
    with strategy.scope():
        model, loss = model_for(spec.get("head", "classify"))
    if spec.get("write_init"):
        save_file(model_weights(model), spec["write_init"])
        return {}
    assign_weights(model, load_file(spec["init"]), source=spec["init"])
    trainer = Trainer(strategy, model, loss, settings, spec["out"], EXAMPLES, verbose=False)
    interrupt = spec.get("interrupt_after")
    if interrupt is not None:   # a run killed after `interrupt` steps
        # The step function of either backend, wrapped to die after `interrupt` steps.
        owner, name = (trainer._jax, "step") if trainer._jax is not None else \
            (trainer, "_train_step")
        step, calls = getattr(owner, name), []

        def killed(*args):
            if len(calls) == interrupt:
                raise KeyboardInterrupt("killed")
            calls.append(1)
            return step(*args)
        setattr(owner, name, killed)
        try:
            trainer.fit(dataset_for(spec.get("head", "classify")))
        except KeyboardInterrupt:
            return {"killed": True}
        raise AssertionError("the run was not interrupted")
    result = trainer.fit(dataset_for(spec.get("head", "classify")))
    # (One file per process when several train together.)
    process = os.environ.get("KERAS_DISTRIBUTION_PROCESS_ID", "")
    final = os.path.join(spec["out"], f"final{process}.safetensors")
    save_file(model_weights(model), final)
    return {"step": result.step, "final": final, "devices": strategy.num_replicas_in_sync,
            "losses": [row["loss"] for row in result.history if "loss" in row]}


def main():
    runs_file, result_file = sys.argv[1], sys.argv[2]
    with open(runs_file, encoding="utf-8") as f:
        runs = json.load(f)
    results = {spec["name"]: run(spec) for spec in runs}
    results["backend"] = keras.backend.backend()
    with open(result_file, "w", encoding="utf-8") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()

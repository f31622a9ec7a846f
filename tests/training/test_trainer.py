import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfbert.config import BertConfig
from tfbert.modeling import BertClassifier, BertEncoder
from tfbert.training.losses import ClassificationLoss
from tfbert.training.optimization import layer_rate_factors
from tfbert.training.strategy import make_strategy
from tfbert.training.trainer import Trainer, TrainSettings, prepare

EXAMPLES = 48
rng = np.random.default_rng(0)
IDS = rng.integers(5, 60, (EXAMPLES, 12)).astype("int32")
LABELS = (IDS[:, 1] > 30).astype("int32")


def make_dataset(epoch, batch):
    order = np.random.default_rng([0, epoch]).permutation(EXAMPLES)
    inputs = {"token_ids": IDS[order], "segment_ids": np.zeros_like(IDS),
              "padding_mask": np.ones_like(IDS)}
    return tf.data.Dataset.from_tensor_slices(
        (inputs, {"labels": LABELS[order]})).batch(batch, drop_remainder=True)


def train(out, strategy="one", dropout=0.0, interrupt_after=None, evaluate=None, loss=None,
          layer_decay=None, **settings):
    settings = TrainSettings(**{"batch_size": 8, "epochs": 1, "learning_rate": 1e-3,
                                "log_every": 2, "seed": 3, **settings})
    prepare(settings)
    strategy = make_strategy(strategy)
    config = BertConfig(vocab_size=60, hidden_size=32, num_layers=2, num_heads=4,
                        intermediate_size=64, max_position_embeddings=16,
                        hidden_dropout=dropout, attention_dropout=dropout)
    with strategy.scope():
        model = BertClassifier(BertEncoder.from_bert_config(config), 2, dropout=dropout)
    factors = None if layer_decay is None else layer_rate_factors(
        [v.path for v in model.trainable_variables], config.num_layers, layer_decay)
    trainer = Trainer(strategy, model, loss or ClassificationLoss(), settings, out, EXAMPLES,
                      evaluate=evaluate, metric="accuracy", verbose=False,
                      rate_factors=factors)
    if interrupt_after is not None:
        step, calls = trainer._train_step, []

        def killed(*args):
            if len(calls) == interrupt_after:
                raise KeyboardInterrupt("killed")
            calls.append(1)
            return step(*args)

        trainer._train_step = killed
        with pytest.raises(KeyboardInterrupt):
            trainer.fit(make_dataset)
        return None
    result = trainer.fit(make_dataset)
    return {v.path: v.numpy() for v in model.weights}, result


def assert_same_weights(a, b, atol):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], atol=atol, rtol=0, err_msg=key)


def test_accumulation_matches_one_large_batch(tmp_path):
    # 3 optimizer steps: 2 micro-batches of 8 each, or one batch of 16.
    accumulated, r1 = train(tmp_path / "a", batch_size=8, accumulation_steps=2, max_steps=3)
    large, r2 = train(tmp_path / "b", batch_size=16, max_steps=3)
    assert r1.step == r2.step == 3
    assert_same_weights(accumulated, large, atol=2e-6)
    # And it moved: the comparison is not between two untrained models.
    fresh, _ = train(tmp_path / "c", batch_size=16, max_steps=1, learning_rate=1e-9)
    assert max(np.abs(large[k] - fresh[k]).max() for k in large) > 1e-4


def assert_same_losses(a, b):
    """The logged training losses of two runs, row by row (the loss is normalised over the
    global batch: a replica that divided by its own count would log twice the loss)."""
    losses_a = [row["loss"] for row in a.history if "loss" in row]
    losses_b = [row["loss"] for row in b.history if "loss" in row]
    assert len(losses_a) == len(losses_b) >= 2
    np.testing.assert_allclose(losses_a, losses_b, rtol=1e-5)


@pytest.mark.parametrize("clip_norm", [0.05, 0.0], ids=["clipped", "unclipped"])
def test_mirrored_two_replicas_match_one_device(tmp_path, clip_norm):
    assert make_strategy("mirrored").num_replicas_in_sync == 2
    # Clipped and small: the global norm must be the all-reduced gradient's. Unclipped: a
    # gradient scaled by a constant moves Adam's update through its epsilon, so a loss
    # normalised per replica instead of over the global batch changes the weights too.
    mirrored, mirrored_result = train(tmp_path / "m", strategy="mirrored", max_steps=4,
                                      clip_norm=clip_norm)
    single, single_result = train(tmp_path / "s", strategy="one", max_steps=4,
                                  clip_norm=clip_norm)
    assert_same_weights(mirrored, single, atol=2e-6)
    assert_same_losses(mirrored_result, single_result)


# Replicas (and micro-batches) hold different weight sums: a loss normalised where they are
# computed (a per-replica weighted mean) would train differently. (Built per test: a tensor
# made at import would start TensorFlow before multiworker_worker.py configures its
# collectives.)
def weighted():
    return ClassificationLoss(class_weights=[0.4, 2.5], focal_gamma=2.0)


def test_weighted_focal_loss_on_two_replicas_matches_one_device(tmp_path):
    mirrored, mirrored_result = train(tmp_path / "m", strategy="mirrored", max_steps=3,
                                      clip_norm=0.0, loss=weighted())
    single, single_result = train(tmp_path / "s", max_steps=3, clip_norm=0.0, loss=weighted())
    assert_same_weights(mirrored, single, atol=2e-6)
    assert_same_losses(mirrored_result, single_result)


def test_weighted_focal_loss_accumulated_matches_one_large_batch(tmp_path):
    accumulated, _ = train(tmp_path / "a", batch_size=8, accumulation_steps=2, max_steps=3,
                           clip_norm=0.0, loss=weighted())
    large, _ = train(tmp_path / "b", batch_size=16, max_steps=3, clip_norm=0.0, loss=weighted())
    assert_same_weights(accumulated, large, atol=2e-6)


def test_global_batch_must_divide_over_replicas(tmp_path):
    with pytest.raises(ValueError, match="--batch-size 7 does not divide over 2 replicas"):
        train(tmp_path / "x", strategy="mirrored", batch_size=7, max_steps=1)


def test_a_damaged_newest_checkpoint_resumes_from_the_one_before(tmp_path):
    settings = dict(epochs=1, checkpoint_every=2, dropout=0.1)  # 6 steps
    uninterrupted, _ = train(tmp_path / "full", **settings)
    train(tmp_path / "killed", interrupt_after=5, **settings)   # checkpoints 2 and 4
    newest = tmp_path / "killed/checkpoints/ckpt-4.safetensors"
    newest.write_bytes(newest.read_bytes()[:1000])              # a disk that filled up
    with pytest.warns(UserWarning, match=r"ckpt-4.safetensors: unreadable .*trying the "
                                         r"checkpoint before it"):
        resumed, result = train(tmp_path / "killed", **settings)
    assert result.step == 6
    assert_same_weights(resumed, uninterrupted, atol=1e-6)


def test_killed_run_resumes_to_the_same_weights(tmp_path):
    settings = dict(epochs=2, checkpoint_every=2, dropout=0.1)  # 6 steps per epoch
    uninterrupted, _ = train(tmp_path / "full", **settings)
    train(tmp_path / "killed", interrupt_after=5, **settings)   # last checkpoint: step 4
    state = json.loads((tmp_path / "killed/checkpoints/state.json").read_text())
    assert sorted(state, key=int) == ["2", "4"]
    resumed, result = train(tmp_path / "killed", **settings)
    assert result.step == 12
    # Dropout masks, data order and optimizer state all continue where they stopped.
    assert_same_weights(resumed, uninterrupted, atol=1e-6)
    history = json.loads((tmp_path / "killed/history.json").read_text())
    assert [row["step"] for row in history] == [2, 4, 6, 8, 10, 12]


@pytest.mark.slow
def test_layer_decay_scales_each_layers_first_step(tmp_path):
    # The first Adam step moves each weight by about the rate (m / sqrt(v) = sign of the
    # gradient), and weight decay by rate * decay * weight: so with D = 0.5 each variable
    # moves by its layer's factor times its move at D = 1 (embeddings 0.5^4, block_0 0.5^3,
    # block_1 0.5^2, pooler and head 1), here over two replicas with accumulation.
    run = dict(strategy="mirrored", max_steps=1, accumulation_steps=2, warmup_ratio=0.0,
               clip_norm=0.0, learning_rate=1e-2)
    start, _ = train(tmp_path / "start", max_steps=1, learning_rate=1e-30)
    plain, _ = train(tmp_path / "plain", **run)
    decayed, _ = train(tmp_path / "decayed", layer_decay=0.5, **run)
    exponents = {"embeddings": 4, "block_0": 3, "block_1": 2, "pooler": 0, "classifier": 0}
    layers = set()
    for path in plain:
        moved = plain[path] - start[path]
        if np.abs(moved).max() < 1e-6:   # the key bias: softmax ignores it, no gradient
            continue
        layers.add(path.split("/")[0])
        np.testing.assert_allclose(decayed[path] - start[path],
                                   0.5 ** exponents[path.split("/")[0]] * moved,
                                   rtol=1e-3, atol=2e-7, err_msg=path)
    assert layers == set(exponents)


def test_layer_decay_one_equals_no_factors(tmp_path):
    # Factors of 1 take the per-variable path (weight decay inside each update) and must
    # give the weights of the optimizer's own path exactly.
    plain, _ = train(tmp_path / "plain", max_steps=4, weight_decay=0.1)
    ones, _ = train(tmp_path / "ones", max_steps=4, weight_decay=0.1, layer_decay=1.0)
    assert_same_weights(ones, plain, atol=0)


def test_killed_run_with_layer_decay_resumes_to_the_same_weights(tmp_path):
    settings = dict(epochs=2, checkpoint_every=2, dropout=0.1, layer_decay=0.7,
                    accumulation_steps=2)   # 3 steps per epoch
    uninterrupted, _ = train(tmp_path / "full", **settings)
    train(tmp_path / "killed", interrupt_after=3, **settings)   # last checkpoint: step 2
    resumed, result = train(tmp_path / "killed", **settings)
    assert result.step == 6
    assert_same_weights(resumed, uninterrupted, atol=1e-6)


def test_tensorboard_scalars_history_and_keep_last(tmp_path):
    train(tmp_path / "r", epochs=2, checkpoint_every=1, keep_checkpoints=2)
    kept = sorted(n for n in os.listdir(tmp_path / "r/checkpoints") if n.startswith("ckpt-"))
    assert kept == ["ckpt-11.safetensors", "ckpt-12.safetensors"]
    states = json.loads((tmp_path / "r/checkpoints/state.json").read_text())
    assert sorted(states) == ["11", "12"]
    tags = set()
    for name in os.listdir(tmp_path / "r/logs"):
        for event in tf.compat.v1.train.summary_iterator(str(tmp_path / "r/logs" / name)):
            tags.update(v.tag for v in event.summary.value)
    assert {"loss", "learning_rate", "examples_per_second"} <= tags
    assert (tmp_path / "r/training_curves.png").read_bytes()[:4] == b"\x89PNG"
    # 6 steps an epoch, 2 epochs, a row every 2 steps.
    history = json.loads((tmp_path / "r/history.json").read_text())
    assert [row["step"] for row in history] == [2, 4, 6, 8, 10, 12]


def test_early_stopping_and_best_weights(tmp_path):
    scores = iter([0.5, 0.7, 0.6, 0.6, 0.9])
    seen = []

    def evaluate(model):
        seen.append({v.path: v.numpy() for v in model.weights})
        return {"accuracy": next(scores)}

    final, result = train(tmp_path / "e", epochs=10, eval_every=2, early_stopping=2,
                          evaluate=evaluate)
    # 0.5, 0.7 (best), 0.6, 0.6 -> two without improvement: stop at step 8.
    assert result.stopped_early and result.step == 8 and result.best_metric == 0.7
    # The kept weights are those scored 0.7 (step 4), not the last ones.
    from tfbert.model_dir import read_weights

    best = read_weights(tmp_path / "e/checkpoints/best.safetensors")
    assert len(best) == len(seen[1])
    for (name, value), expected in zip(sorted(best.items()), sorted(seen[1].items())):
        np.testing.assert_array_equal(value, expected[1], err_msg=name)
    assert max(np.abs(seen[1][k] - final[k]).max() for k in final) > 1e-4


@pytest.mark.parametrize("precision", ["float32", "bfloat16", "float16"])
def test_only_float16_scales_the_loss(tmp_path, precision):
    """float16 gradients underflow without dynamic loss scaling; float32 and bfloat16 (with
    float32's exponent range) need none."""
    settings = TrainSettings(batch_size=8, max_steps=1, precision=precision)
    prepare(settings)
    config = BertConfig(vocab_size=60, hidden_size=32, num_layers=1, num_heads=4,
                        intermediate_size=64, max_position_embeddings=16)
    strategy = make_strategy("one")
    with strategy.scope():
        model = BertClassifier(BertEncoder.from_bert_config(config), 2)
    trainer = Trainer(strategy, model, ClassificationLoss(), settings, tmp_path, EXAMPLES,
                      verbose=False)
    scaled = isinstance(trainer.optimizer, keras.optimizers.LossScaleOptimizer)
    assert scaled == (precision == "float16")


@pytest.mark.slow
@pytest.mark.parametrize("precision, policy", [("float16", "mixed_float16"),
                                               ("bfloat16", "mixed_bfloat16")])
def test_mixed_precision_trains_close_to_float32(tmp_path, precision, policy):
    initial, _ = train(tmp_path / "init", max_steps=1, learning_rate=1e-12)
    reference, _ = train(tmp_path / "f32", max_steps=3)
    weights, result = train(tmp_path / precision, max_steps=3, precision=precision)
    assert keras.mixed_precision.dtype_policy().name == policy
    assert result.step == 3 and all(np.isfinite(w).all() for w in weights.values())
    assert all(w.dtype == np.float32 for w in weights.values())   # variables stay float32

    def update(w):
        return np.concatenate([(w[k] - initial[k]).ravel() for k in sorted(w)])

    # Adam moves every weight by ~lr per step, so compare the update's direction: low
    # precision changes a few signs of near-zero gradients, not the step as a whole.
    a, b = update(weights), update(reference)
    assert a @ b / np.linalg.norm(a) / np.linalg.norm(b) > 0.9


@pytest.mark.slow
def test_xla_step_matches_the_plain_step(tmp_path):
    plain, _ = train(tmp_path / "plain", max_steps=3, accumulation_steps=2, batch_size=4)
    compiled, _ = train(tmp_path / "xla", max_steps=3, accumulation_steps=2, batch_size=4,
                        xla=True)
    assert_same_weights(compiled, plain, atol=1e-5)

"""Training-loop throughput: tfbert's `Trainer` against keras-hub's `fit`, same run.

Both train a 2-class classifier on the same BERT size (MiniLM-L6: 6/384/12, seq 128,
batch 16, AdamW, float32) from the same tf.data batches. keras-hub's `BertTextClassifier`
runs Keras' `fit`, once with `jit_compile=False` and once with Keras' default (`"auto"`,
which compiles with XLA); tfbert's `Trainer` runs its `strategy.run` loop on one device
(progress bar, logging and the end-of-run checkpoint included). Each round runs every
variant for `--warmup` untimed steps and then `--steps` timed ones; rounds take turns so
the host's drifting speed falls on all alike. The figure is the median round's sequences
per second; the ratio divides tfbert's by the better keras-hub figure.

    .venv/bin/python tools/bench_training.py --rounds 3 --json runs/bench_training.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfbert.config import BertConfig  # noqa: E402
from tfbert.modeling import BertClassifier, BertEncoder  # noqa: E402
from tfbert.training.losses import ClassificationLoss  # noqa: E402
from tfbert.training.strategy import make_strategy  # noqa: E402
from tfbert.training.trainer import Trainer, TrainSettings  # noqa: E402

CONFIG = BertConfig(vocab_size=30522, num_layers=6, hidden_size=384, num_heads=12,
                    intermediate_size=1536, hidden_act="gelu_tanh")


def batches(batch, seq, count, seed=0):
    rng = np.random.default_rng(seed)
    n = batch * count
    lengths = rng.integers(seq // 2, seq + 1, size=n)
    mask = (np.arange(seq)[None] < lengths[:, None]).astype("int32")
    inputs = {"token_ids": rng.integers(1, CONFIG.vocab_size, (n, seq)).astype("int32") * mask,
              "segment_ids": np.zeros((n, seq), "int32"), "padding_mask": mask}
    return inputs, rng.integers(0, 2, size=(n,)).astype("int32")


class StepTimes(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.times = [time.perf_counter()]

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())


def keras_hub_round(model, inputs, labels, batch, warmup, steps):
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(batch).repeat()
    timer = StepTimes()
    model.fit(dataset, steps_per_epoch=warmup + steps, epochs=1, verbose=0, callbacks=[timer])
    return steps * batch / (timer.times[-1] - timer.times[warmup])


STRATEGY = make_strategy("one")


def tfbert_round(model, inputs, labels, batch, warmup, steps):
    # Logged every `steps`: with warmup == steps the last window is the timed one.
    assert warmup == steps
    settings = TrainSettings(batch_size=batch, max_steps=warmup + steps, learning_rate=5e-5,
                             log_every=steps)
    trainer = Trainer(STRATEGY, model, ClassificationLoss(), settings,
                      tempfile.mkdtemp(prefix="bench_training."), len(labels), verbose=False)
    data = tf.data.Dataset.from_tensor_slices((inputs, {"labels": labels}))
    result = trainer.fit(lambda epoch, b: data.batch(b, drop_remainder=True))
    return result.history[-1]["examples_per_second"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    import keras_hub

    inputs, labels = batches(args.batch, args.seq, 2 * args.steps)
    variants = {}
    for jit in (False, "auto"):
        backbone = keras_hub.models.BertBackbone(
            vocabulary_size=CONFIG.vocab_size, num_layers=CONFIG.num_layers,
            num_heads=CONFIG.num_heads, hidden_dim=CONFIG.hidden_size,
            intermediate_dim=CONFIG.intermediate_size)
        model = keras_hub.models.BertTextClassifier(backbone, num_classes=2, preprocessor=None)
        model.compile(optimizer=keras.optimizers.AdamW(5e-5),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=jit)
        variants[f"keras-hub fit (jit_compile={jit})"] = (keras_hub_round, model)
    with STRATEGY.scope():
        variants["tfbert Trainer"] = (tfbert_round, BertClassifier(
            BertEncoder.from_bert_config(CONFIG), num_classes=2))
    figures = {name: [] for name in variants}
    for round_number in range(args.rounds):
        for name, (run, model) in variants.items():
            figures[name].append(run(model, inputs, labels, args.batch, args.steps, args.steps))
            print(f"round {round_number + 1}: {name}: {figures[name][-1]:.2f} seq/s", flush=True)
    medians = {name: statistics.median(values) for name, values in figures.items()}
    anchor = max(v for k, v in medians.items() if k.startswith("keras-hub"))
    print(f"\n| loop | seq/s (median of {args.rounds}) | vs best keras-hub fit |")
    print("|---|---|---|")
    for name, value in medians.items():
        print(f"| {name} | {value:.2f} | {value / anchor:.2f}x |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"machine": platform.processor() or platform.machine(),
                       "cpus": os.cpu_count(), "args": vars(args), "rounds": figures,
                       "medians": medians, "ratio": medians["tfbert Trainer"] / anchor}, f,
                      indent=2)


if __name__ == "__main__":
    main()

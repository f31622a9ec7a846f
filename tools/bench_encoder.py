"""Encoder benchmark: tfbert vs keras-hub's BertBackbone in the same run.

For each model size (MiniLM-L6 = 6/384/12, base = 12/768/12) it measures

* a fine-tuning training step of a 2-class classifier (seq 128, batch 16, AdamW, sparse
  cross-entropy): keras-hub's `BertTextClassifier` through Keras' own train function (what
  `fit` runs each step), tfbert's `BertClassifier` through the same train function, and
  tfbert through a `tf.function` GradientTape step, alone, with XLA, with bf16, and both;
* batch inference (seq 128, batch 16) of both encoders, plain and with XLA.

Each variant runs `--warmup` steps; then the variants take turns, one timed block of
`--steps` steps each, `--repeats` times round, so that the host's speed drifting affects
all alike. The figure is the median block's sequences per second; the ratio is to
keras-hub's `fit`-path figure measured in the same run. Results are printed as a Markdown table and,
with `--json`, written to a file.

    .venv/bin/python tools/bench_encoder.py --models minilm,base --json runs/bench_encoder.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfbert.config import BertConfig  # noqa: E402
from tfbert.modeling import BertClassifier, BertEncoder  # noqa: E402

SIZES = {
    "minilm": BertConfig(vocab_size=30522, num_layers=6, hidden_size=384, num_heads=12,
                         intermediate_size=1536, hidden_act="gelu_tanh"),
    "base": BertConfig.from_name("base", hidden_act="gelu_tanh"),
}


def make_batch(config, batch, seq, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(seq // 2, seq + 1, size=batch)
    mask = (np.arange(seq)[None] < lengths[:, None]).astype("int32")
    inputs = {"token_ids": rng.integers(1, config.vocab_size, (batch, seq)).astype("int32") * mask,
              "segment_ids": np.zeros((batch, seq), "int32"), "padding_mask": mask}
    labels = rng.integers(0, 2, size=(batch,)).astype("int32")
    return {k: tf.constant(v) for k, v in inputs.items()}, tf.constant(labels)


def measure_interleaved(variants, batch, warmup, steps, repeats, report):
    """Times every variant in turn, block by block, so that drift in the machine's speed
    (shared hosts vary by 2x over minutes) falls on all variants alike.

    `variants` is a list of `(key, step)`; returns `{key: (median seq/s, [block seq/s])}`.
    """
    for _, step in variants:
        for _ in range(warmup):
            _block(step())
    rates = {key: [] for key, _ in variants}
    for _ in range(repeats):
        for key, step in variants:
            start = time.perf_counter()
            for _ in range(steps):
                result = step()
            _block(result)
            rates[key].append(steps * batch / (time.perf_counter() - start))
    results = {key: (statistics.median(values), values) for key, values in rates.items()}
    for key, _ in variants:
        report(key, results[key])
    return results


def _block(result):
    for value in tf.nest.flatten(result):
        if hasattr(value, "numpy"):
            value.numpy()


def _optimizer():
    return keras.optimizers.AdamW(learning_rate=2e-5, weight_decay=0.01)


def keras_fit_step(model, inputs, labels, loss):
    """Keras' compiled train function: exactly what `fit` runs per step, minus callbacks."""
    model.compile(optimizer=_optimizer(), loss=loss, jit_compile=False)
    dataset = tf.data.Dataset.from_tensors((inputs, labels)).repeat()
    iterator = iter(dataset)
    model.make_train_function()
    return lambda: model.train_function(iterator)


def tape_step(model, inputs, labels, jit_compile):
    optimizer = _optimizer()
    optimizer.build(model.trainable_variables)

    @tf.function(jit_compile=jit_compile)
    def step(inputs, labels):
        with tf.GradientTape() as tape:
            logits = model(inputs, training=True)["logits"]
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                labels, logits, from_logits=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return lambda: step(inputs, labels)


def tfbert_classifier(config, policy="float32"):
    keras.config.set_dtype_policy(policy)
    keras.utils.set_random_seed(0)
    model = BertClassifier(BertEncoder.from_bert_config(config), num_classes=2)
    keras.config.set_dtype_policy("float32")
    return model


def keras_hub_backbone(config):
    import keras_hub

    keras.utils.set_random_seed(0)
    return keras_hub.models.BertBackbone(
        vocabulary_size=config.vocab_size, num_layers=config.num_layers,
        num_heads=config.num_heads, hidden_dim=config.hidden_size,
        intermediate_dim=config.intermediate_size,
        max_sequence_length=config.max_position_embeddings)


def bench_size(name, config, args):
    import keras_hub

    inputs, labels = make_batch(config, args.batch, args.seq)
    rows = []

    def record(key, result):
        kind, variant = key
        rate, rates = result
        rows.append({"model": name, "kind": kind, "variant": variant, "seq_per_s": rate,
                     "blocks": rates})
        print(f"  {name:<7} {kind:<6} {variant:<48} {rate:7.2f} seq/s  "
              f"({', '.join(f'{r:.2f}' for r in rates)})", flush=True)

    def run(variants):
        measure_interleaved(variants, args.batch, args.warmup, args.steps, args.repeats, record)

    # --- training ---
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    hub = keras_hub.models.BertTextClassifier(keras_hub_backbone(config), num_classes=2,
                                              preprocessor=None)
    train = [(("train", "keras-hub BertTextClassifier, fit path"),
              keras_fit_step(hub, inputs, labels, ce)),
             (("train", "tfbert BertClassifier, fit path"),
              keras_fit_step(tfbert_classifier(config), inputs, labels, {"logits": ce}))]
    policies = [("float32", False), ("float32", True)]
    if args.bf16:
        policies += [("mixed_bfloat16", False), ("mixed_bfloat16", True)]
    for policy, xla in policies:
        variant = "tfbert, tf.function step" + (" + XLA" if xla else "") + (
            f", {policy}" if policy != "float32" else "")
        train.append((("train", variant),
                      tape_step(tfbert_classifier(config, policy), inputs, labels, xla)))
    run(train)
    del train, hub

    # --- inference ---
    backbone = keras_hub_backbone(config)
    encoder = BertEncoder.from_bert_config(config)
    infer = []
    for variant, model, xla in [("keras-hub BertBackbone", backbone, False),
                                ("tfbert BertEncoder", encoder, False),
                                ("keras-hub BertBackbone + XLA", backbone, True),
                                ("tfbert BertEncoder + XLA", encoder, True)]:
        forward = tf.function(lambda x, m=model: m(x, training=False)["sequence_output"],
                              jit_compile=xla)
        infer.append((("infer", variant), lambda f=forward: f(inputs)))
    run(infer)
    return rows


def markdown(rows):
    lines = ["| model | kind | variant | seq/s (median) | × keras-hub |", "|---|---|---|---|---|"]
    for row in rows:
        anchor_variant = ("keras-hub BertTextClassifier, fit path" if row["kind"] == "train"
                          else "keras-hub BertBackbone")
        anchor = next(r["seq_per_s"] for r in rows if r["model"] == row["model"]
                      and r["kind"] == row["kind"] and r["variant"] == anchor_variant)
        lines.append(f"| {row['model']} | {row['kind']} | {row['variant']} | "
                     f"{row['seq_per_s']:.2f} | {row['seq_per_s'] / anchor:.2f} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="minilm,base")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-bf16", dest="bf16", action="store_false",
                        help="skip the mixed_bfloat16 variants")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    flags = open("/proc/cpuinfo").read()
    machine = (f"{cpu}, {os.cpu_count()} cores, avx512_bf16: {'avx512_bf16' in flags}, "
               f"amx: {'amx_tile' in flags}; TF {tf.__version__}, Keras {keras.__version__}")
    print(f"machine: {machine}\nbatch {args.batch}, seq {args.seq}, "
          f"{args.repeats} blocks of {args.steps} steps after {args.warmup} warm-up", flush=True)
    rows = []
    for name in args.models.split(","):
        rows += bench_size(name, SIZES[name], args)
    table = markdown(rows)
    print(table)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "args": vars(args), "rows": rows,
                       "markdown": table}, f, indent=2)


if __name__ == "__main__":
    main()

"""One variant of `tools/bench_accelerator.py`, run in a process of its own.

    python tools/accelerator_variants.py VARIANT SPEC.json RESULT.json

SPEC.json holds the model sizes and the run's settings (`bench_accelerator.spec`); RESULT.json
gets the device, the warm-up seconds (compilation included), the sequences per second of
each timed round and the first and last loss. Every variant trains on the same random
batch (`batch`), kept on the device: the figures are the training step's, not a data
pipeline's.

The Keras variants run with KERAS_BACKEND=jax and never import TensorFlow (the GPU host has
none): tfbert through `tfbert.training.jax_steps`, keras-hub through Keras's own
`Model.train_step` jit-compiled as `fit` compiles it.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np


def batch(spec, seed=0):
    """Random ids, full length (no padding), two segments, `masked` distinct positions
    per row (never [CLS] at 0), their target ids, and next-sentence labels; NumPy."""
    rng = np.random.default_rng(seed)
    rows, seq, masked, vocab = spec["batch"], spec["seq"], spec["masked"], spec["vocab_size"]
    positions = np.sort(np.stack([rng.choice(np.arange(1, seq), masked, replace=False)
                                  for _ in range(rows)]), axis=1).astype("int32")
    inputs = {"token_ids": rng.integers(1, vocab, (rows, seq)).astype("int32"),
              "segment_ids": (np.arange(seq)[None] >= seq // 2).repeat(rows, 0).astype("int32"),
              "padding_mask": np.ones((rows, seq), "int32"),
              "masked_positions": positions}
    targets = {"masked_ids": rng.integers(1, vocab, (rows, masked)).astype("int32"),
               "masked_weights": np.ones((rows, masked), "float32"),
               "next_sentence_label": rng.integers(0, 2, rows).astype("int32")}
    return inputs, targets


def timed(spec, run_steps, wait):
    """Warm-up (compilation) once, then `rounds` rounds of `steps` steps; `run_steps(n)`
    returns the last loss and `wait(loss)` blocks until the device is done."""
    start = time.perf_counter()
    first = wait(run_steps(spec["warmup"]))
    warmup_s = time.perf_counter() - start
    rates, loss = [], first
    for _ in range(spec["rounds"]):
        start = time.perf_counter()
        loss = wait(run_steps(spec["steps"]))
        rates.append(spec["steps"] * spec["batch"] / (time.perf_counter() - start))
        print(f"  round {len(rates)}: {rates[-1]:.2f} seq/s", flush=True)
    return {"warmup_s": warmup_s, "rounds_seq_per_s": rates, "loss_after_warmup": first,
            "loss_last": loss}


def jax_device():
    import jax

    device = jax.devices()[0]
    return {"platform": device.platform, "name": device.device_kind,
            "count": jax.device_count()}


def keras_versions():
    import jax
    import keras

    return {"keras": keras.__version__, "jax": jax.__version__}


def run_tfbert(spec):
    import jax
    import keras

    from tfbert.config import BertConfig
    from tfbert.modeling import BertEncoder, BertPretrainer
    from tfbert.training.jax_steps import make_train_step, state_of
    from tfbert.training.losses import PretrainLoss
    from tfbert.training.optimization import make_optimizer, make_schedule

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    config = BertConfig(**spec["config"], hidden_act="gelu_tanh")
    model = BertPretrainer(BertEncoder.from_bert_config(config))
    total = spec["warmup"] + spec["rounds"] * spec["steps"]
    optimizer = make_optimizer("adamw", make_schedule(1e-4, total, warmup_ratio=0.01))
    optimizer.build(model.trainable_variables)
    step = make_train_step(model, PretrainLoss(), optimizer)
    inputs, targets = jax.device_put(batch(spec))
    # A copy: the step donates its state, and the variables keep their own buffers.
    state = jax.tree_util.tree_map(lambda a: a.copy(), state_of(model, optimizer))

    def run_steps(n):
        nonlocal state
        for _ in range(n):
            loss, state = step(state, inputs, targets)
        return loss

    def wait(loss):
        jax.block_until_ready(state)
        return float(loss)

    result = timed(spec, run_steps, wait)
    return {**result, "device": jax_device(), "versions": keras_versions(),
            "how": "tfbert.training.jax_steps.make_train_step: one jax.jit step, state "
                   "donated; BertPretrainer (MLM + NSP), AdamW, global-norm clip 1.0, "
                   "mixed_bfloat16"}


def run_keras_hub(spec):
    import jax
    import keras
    import keras_hub

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    config = spec["config"]
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=config["vocab_size"], num_layers=config["num_layers"],
        num_heads=config["num_heads"], hidden_dim=config["hidden_size"],
        intermediate_dim=config["intermediate_size"],
        max_sequence_length=config["max_position_embeddings"])
    model = keras_hub.models.BertMaskedLM(backbone, preprocessor=None)
    model.compile(optimizer=keras.optimizers.AdamW(1e-4, weight_decay=0.01, epsilon=1e-6,
                                                   global_clipnorm=1.0),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  weighted_metrics=[])
    inputs, targets = batch(spec)
    x = {k: inputs[k] for k in ("token_ids", "segment_ids", "padding_mask")}
    x["mask_positions"] = inputs["masked_positions"]
    data = jax.device_put((x, targets["masked_ids"], targets["masked_weights"]))
    model.optimizer.build(model.trainable_variables)
    # Keras's own step, jit-compiled with the state donated as `fit` compiles it on JAX
    # (keras-hub's `fit` itself batches arrays through grain or tf.data, and the GPU
    # host has neither).
    step = jax.jit(model.train_step, donate_argnums=0)
    state = jax.tree_util.tree_map(lambda a: a.copy(), tuple(
        [v.value for v in variables] for variables in (
            model.trainable_variables, model.non_trainable_variables,
            model.optimizer.variables, model.metrics_variables)))

    def run_steps(n):
        nonlocal state
        for _ in range(n):
            logs, state = step(state, data)
        return logs["loss"]

    def wait(loss):
        jax.block_until_ready(state)
        return float(loss)

    result = timed(spec, run_steps, wait)
    return {**result, "device": jax_device(),
            "versions": {**keras_versions(), "keras-hub": keras_hub.__version__},
            "how": "keras_hub.models.BertMaskedLM (BertBackbone, no preprocessor), its "
                   "Keras Model.train_step under jax.jit with the state donated (what fit "
                   "compiles per step on JAX; keras-hub's fit needs grain or TensorFlow to "
                   "batch arrays); MLM only (BertMaskedLM has no NSP head, under 0.01 % of "
                   "the FLOPs); AdamW, global-norm clip 1.0, mixed_bfloat16; the loss is "
                   "Keras's running mean"}


def run_hf(spec, compiled):
    import torch
    import torch.nn.functional as F
    import transformers

    device = "cuda" if torch.cuda.is_available() else "cpu"
    config = spec["config"]
    hf_config = transformers.BertConfig(
        vocab_size=config["vocab_size"], hidden_size=config["hidden_size"],
        num_hidden_layers=config["num_layers"], num_attention_heads=config["num_heads"],
        intermediate_size=config["intermediate_size"],
        max_position_embeddings=config["max_position_embeddings"],
        hidden_act="gelu_pytorch_tanh")
    torch.manual_seed(0)
    model = transformers.BertForPreTraining(hf_config).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01, eps=1e-6,
                                  fused=device == "cuda")
    inputs, targets = batch(spec)
    data = {k: torch.from_numpy(v).to(device) for k, v in {**inputs, **targets}.items()}
    hidden = config["hidden_size"]

    def loss_of(data):
        # The heads on the `masked` positions only, as tfbert and keras-hub do
        # (BertForPreTraining.forward scores every position).
        out = model.bert(input_ids=data["token_ids"], attention_mask=data["padding_mask"],
                         token_type_ids=data["segment_ids"])
        index = data["masked_positions"].long()[:, :, None].expand(-1, -1, hidden)
        # (batch, masked, hidden)
        gathered = torch.gather(out.last_hidden_state, 1, index)
        scores, nsp = model.cls(gathered, out.pooler_output)
        mlm = F.cross_entropy(scores.float().flatten(0, 1), data["masked_ids"].long().flatten(),
                              reduction="none")
        weights = data["masked_weights"].flatten()
        return (mlm * weights).sum() / weights.sum().clamp(min=1.0) + F.cross_entropy(
            nsp.float(), data["next_sentence_label"].long())

    forward = torch.compile(loss_of) if compiled else loss_of

    def run_steps(n):
        for _ in range(n):
            with torch.autocast(device, dtype=torch.bfloat16):
                loss = forward(data)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        return loss

    def wait(loss):
        if device == "cuda":
            torch.cuda.synchronize()
        return float(loss.detach())

    result = timed(spec, run_steps, wait)
    name = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    return {**result, "device": {"platform": "gpu" if device == "cuda" else "cpu",
                                 "name": name, "count": torch.cuda.device_count()},
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
            "how": f"transformers.BertForPreTraining, {'torch.compile of' if compiled else ''} "
                   "the forward and loss with the heads on the masked positions only, "
                   f"autocast bfloat16, AdamW ({'fused' if device == 'cuda' else 'for-each'}),"
                   f" clip_grad_norm_ 1.0, attention '{model.config._attn_implementation}'"}


KERAS_VARIANTS = ("tfbert-jax", "keras-hub-jax")
RUNNERS = {"tfbert-jax": run_tfbert, "keras-hub-jax": run_keras_hub,
           "hf-eager": lambda spec: run_hf(spec, compiled=False),
           "hf-compile": lambda spec: run_hf(spec, compiled=True)}


def main(argv=None):
    name, spec_path, result_path = argv or sys.argv[1:]
    if name in KERAS_VARIANTS:
        # As on the GPU host, which has no TensorFlow: keras-hub would otherwise import it
        # where installed, and tfbert's path must not need it (an import of it fails).
        sys.modules["tensorflow"] = None
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    result = RUNNERS[name](spec)
    with open(result_path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()

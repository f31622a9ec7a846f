"""Optimizers and learning-rate schedules for BERT training.

AdamW (google-research/bert's recipe: beta 0.9/0.999, epsilon 1e-6, weight decay 0.01 on
every weight but LayerNorm and biases) or LAMB for large batches, a linear warm-up, then
linear or polynomial decay to `end_learning_rate`; optionally layer-wise learning-rate
decay (ELECTRA's: lower rates for layers closer to the input).
"""

from __future__ import annotations

import re

import keras

from tfbert.training.choices import DECAYS, OPTIMIZERS

# Variable names (the last path component) that get no weight decay: LayerNorm scale and
# offset, and every bias.
NO_DECAY = ["gamma", "beta", "bias"]


class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """`peak * step / warmup` for the first `warmup_steps`, then from `peak` down to
    `end_learning_rate` at `total_steps` as `(1 - progress) ** power` (power 1: linear)."""

    def __init__(self, peak_learning_rate, total_steps, warmup_steps=0, power=1.0,
                 end_learning_rate=0.0):
        if total_steps < 1 or not 0 <= warmup_steps <= total_steps:
            raise ValueError(f"warm-up must be 0..total steps; received warmup_steps="
                             f"{warmup_steps}, total_steps={total_steps}")
        self.peak_learning_rate = float(peak_learning_rate)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.power = float(power)
        self.end_learning_rate = float(end_learning_rate)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        warm = self.peak_learning_rate * step / max(self.warmup_steps, 1)
        decay_steps = max(self.total_steps - self.warmup_steps, 1)
        progress = keras.ops.clip((step - self.warmup_steps) / decay_steps, 0.0, 1.0)
        decayed = self.end_learning_rate + (self.peak_learning_rate - self.end_learning_rate) \
            * (1.0 - progress) ** self.power
        return keras.ops.where(step < self.warmup_steps, warm, decayed)

    def get_config(self):
        return {"peak_learning_rate": self.peak_learning_rate, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps, "power": self.power,
                "end_learning_rate": self.end_learning_rate}


class _ReducedGradients:
    """The training loop all-reduces gradients itself, once per optimizer step and before
    clipping (so `global_clipnorm` sees the global gradient, as on one device); the TF
    backend's own all-reduce inside `apply` would sum them a second time."""

    def _all_reduce_sum_gradients(self, grads_and_vars):
        return list(grads_and_vars)


class _RateFactors:
    """A learning-rate factor per variable (`set_rate_factors`): the variable's update and
    its decoupled weight decay both use the schedule's rate times its factor, as ELECTRA's
    per-layer rates do (its AdamW multiplies `update + weight_decay * param` by the layer's
    rate). Keras optimizers have one rate for all variables, so the factor is applied where
    each variable is updated; the optimizer state and its checkpoint stay as without it.
    LAMB's trust ratio multiplies the rate it is given, so the factor scales it alike."""

    _rate_factors = None   # {optimizer variable key: factor}; None: every factor is 1

    def set_rate_factors(self, variables, factors):
        self._rate_factors = {self._var_key(v): float(f) for v, f in zip(variables, factors)}

    def _apply_weight_decay(self, variables):
        if self._rate_factors is None:
            super()._apply_weight_decay(variables)
        # else: in `update_step`, at the variable's own rate

    def update_step(self, gradient, variable, learning_rate):
        if self._rate_factors is not None:
            learning_rate = learning_rate * self._rate_factors[self._var_key(variable)]
            if self.weight_decay is not None and self._use_weight_decay(variable):
                rate = keras.ops.cast(learning_rate, variable.dtype)
                decay = keras.ops.cast(self.weight_decay, variable.dtype)
                self.assign_sub(variable, variable * decay * rate)
        super().update_step(gradient, variable, learning_rate)


class AdamW(_ReducedGradients, _RateFactors, keras.optimizers.AdamW):
    pass


class Lamb(_ReducedGradients, _RateFactors, keras.optimizers.Lamb):
    pass


def layer_rate_factors(paths, num_layers, layer_decay):
    """The learning-rate factor of each variable (by path) under layer-wise decay `D`,
    following ELECTRA's `_get_layer_lrs` (google-research/electra, model/optimization.py):
    depth 0 is the embeddings, block `k` (from 0) is depth `k + 1`, the task head is depth
    `L + 2`, and a depth's factor is `D ** (L + 2 - depth)`. So the head (and the pooler,
    which ELECTRA's heads do not have) learns at the base rate, the top block at `D ** 2`,
    block `k` at `D ** (L + 1 - k)` and the embeddings at `D ** (L + 2)`."""
    def depth(path):
        top = path.split("/", 1)[0]
        if top == "embeddings":
            return 0
        block = re.fullmatch(r"block_(\d+)", top)
        if block:
            assert int(block.group(1)) < num_layers, path
            return int(block.group(1)) + 1
        return num_layers + 2

    return [layer_decay ** (num_layers + 2 - depth(p)) for p in paths]


def make_schedule(learning_rate, total_steps, warmup_ratio=0.1, decay="linear", power=1.0):
    if decay not in DECAYS:
        raise ValueError(f"--decay must be one of {DECAYS}. Received: {decay!r}")
    if not 0.0 <= warmup_ratio < 1.0:
        raise ValueError(f"--warmup-ratio must be in [0, 1). Received: {warmup_ratio}")
    if learning_rate <= 0:
        raise ValueError(f"--learning-rate must be positive. Received: {learning_rate}")
    power = {"linear": 1.0, "constant": 0.0}.get(decay, power)
    return WarmupDecay(learning_rate, total_steps, int(round(warmup_ratio * total_steps)),
                       power=power)


def make_optimizer(name, schedule, weight_decay=0.01, clip_norm=1.0, loss_scale=False):
    """AdamW or LAMB on `schedule`; `clip_norm` caps the global gradient norm (None: off);
    `loss_scale` wraps it in Keras' dynamic `LossScaleOptimizer` (for float16)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"--optimizer must be one of {OPTIMIZERS}. Received: {name!r}")
    cls = AdamW if name == "adamw" else Lamb
    optimizer = cls(learning_rate=schedule, weight_decay=weight_decay, beta_1=0.9,
                    beta_2=0.999, epsilon=1e-6, global_clipnorm=clip_norm or None)
    optimizer.exclude_from_weight_decay(var_names=NO_DECAY)
    if loss_scale:
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer

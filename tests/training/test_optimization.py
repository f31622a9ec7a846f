import keras
import numpy as np
import pytest

from tfbert.training.optimization import (WarmupDecay, layer_rate_factors, make_optimizer,
                                         make_schedule)


def test_warmup_then_linear_and_polynomial_decay():
    linear = make_schedule(1e-3, total_steps=100, warmup_ratio=0.1)
    assert [round(float(linear(s)), 7) for s in (0, 5, 10, 55, 100, 120)] == \
        [0.0, 5e-4, 1e-3, 5e-4, 0.0, 0.0]
    poly = WarmupDecay(1e-3, total_steps=100, warmup_steps=0, power=2.0)
    assert float(poly(50)) == pytest.approx(1e-3 * 0.25)
    assert float(make_schedule(1e-3, 100, 0.0, decay="constant")(70)) == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="--warmup-ratio must be in"):
        make_schedule(1e-3, 100, warmup_ratio=1.5)


@pytest.mark.parametrize("name", ["adamw", "lamb"])
def test_no_weight_decay_on_layer_norm_and_bias(name):
    dense = keras.layers.Dense(3, bias_initializer="ones")
    norm = keras.layers.LayerNormalization()
    dense.build((None, 3))
    norm.build((None, 3))
    variables = dense.trainable_variables + norm.trainable_variables
    before = [v.numpy().copy() for v in variables]
    optimizer = make_optimizer(name, 0.1, weight_decay=0.5, clip_norm=None)
    optimizer.apply([np.zeros(v.shape, "float32") for v in variables], variables)
    changed = {v.path.split("/")[-1]: not np.allclose(b, v.numpy())
               for v, b in zip(variables, before)}
    # Zero gradients: only weight decay can move a variable, and only the kernel decays.
    assert changed == {"kernel": True, "bias": False, "gamma": False, "beta": False}


def test_layer_factors_follow_electras_depths():
    # google-research/electra `_get_layer_lrs`: embeddings depth 0, layer k depth k + 1,
    # task head depth L + 2; factor D ** (L + 2 - depth). L = 2 here.
    paths = ["embeddings/token_embedding/embeddings", "embeddings/layer_norm/gamma",
             "block_0/attention/query/kernel", "block_1/output_layer_norm/beta",
             "pooler/kernel", "classifier/bias"]
    assert layer_rate_factors(paths, 2, 0.5) == [0.5 ** 4, 0.5 ** 4, 0.5 ** 3, 0.5 ** 2,
                                                 1.0, 1.0]
    assert layer_rate_factors(paths, 2, 1.0) == [1.0] * 6


@pytest.mark.parametrize("name", ["adamw", "lamb"])
@pytest.mark.parametrize("gradient", [0.0, 0.3], ids=["decay-only", "update"])
def test_rate_factor_is_the_variables_own_learning_rate(name, gradient):
    # Kernels with factors 1, 0.5, 0.1 in one optimizer end as each would under its own
    # optimizer at rate 0.1 * factor: the update and the decoupled weight decay (zero
    # gradient: Adam's and LAMB's update is 0, only weight decay moves a kernel) both scale.
    def kernels(count):
        layers = [keras.layers.Dense(4, kernel_initializer="ones") for _ in range(count)]
        for layer in layers:
            layer.build((None, 4))
        return [layer.kernel for layer in layers]

    factors = [1.0, 0.5, 0.1]
    grouped = kernels(3)
    optimizer = make_optimizer(name, 0.1, weight_decay=0.5, clip_norm=None)
    optimizer.build(grouped)
    optimizer.set_rate_factors(grouped, factors)
    optimizer.apply([np.full((4, 4), gradient, "float32")] * 3, grouped)
    for kernel, factor in zip(grouped, factors):
        alone = kernels(1)
        make_optimizer(name, 0.1 * factor, weight_decay=0.5, clip_norm=None).apply(
            [np.full((4, 4), gradient, "float32")], alone)
        np.testing.assert_allclose(kernel.numpy(), alone[0].numpy(), rtol=1e-6)
    assert np.all(grouped[0].numpy() < 1.0) and np.all(grouped[2].numpy() > grouped[0].numpy())

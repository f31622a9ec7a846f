import keras
import numpy as np
import pytest

from tfbert.training.optimization import WarmupDecay, make_optimizer, make_schedule


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

"""The residual sequence model: every mixer kind runs, intermediates agree with the call,
bad input is rejected."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynlearn.ssm as ssm


def test_intermediates_and_depth(getkey):
    model = ssm.SequenceModel("mamba", 8, 3, 5, vocab_size=6, key=getkey())
    tokens = jnp.arange(10) % 6
    inputs, outputs = model.intermediates(tokens)
    assert inputs.shape == (3, 10, 8) and outputs.shape == (3, 10, 5)
    np.testing.assert_allclose(outputs[-1], model(tokens), atol=1e-6)
    np.testing.assert_allclose(outputs[0], model(tokens, depth=1), atol=1e-6)


@pytest.mark.parametrize("mixer", ["s4", "s5", "linear_attention", "rglru"])
def test_real_inputs(mixer, getkey):
    model = ssm.SequenceModel(mixer, 8, 1, 2, d_in=3, key=getkey())
    ys = eqx.filter_jit(model)(jax.random.normal(getkey(), (12, 3)))
    assert ys.shape == (12, 2) and bool(jnp.all(jnp.isfinite(ys)))


def test_bad_input(getkey):
    model = ssm.SequenceModel("s4d", 8, 1, 2, d_in=3, key=getkey())
    with pytest.raises(ValueError, match=r"\(L, 3\).*\(12, 4\)"):
        model(jnp.zeros((12, 4)))
    with pytest.raises(ValueError, match="exactly one"):
        ssm.SequenceModel("s4d", 8, 1, 2, key=getkey())
    with pytest.raises(ValueError, match="kind must be one of"):
        ssm.SequenceModel("lstm", 8, 1, 2, d_in=3, key=getkey())

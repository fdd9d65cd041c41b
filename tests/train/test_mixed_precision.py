"""`train.mixed_precision`: the model runs in bfloat16, the gradient reaches float32 parameters."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dynlearn.train import cast_floating, fit, mixed_precision


def _mse(model, batch, *, key):
    x, y = batch
    pred = jax.vmap(model)(x)
    return jnp.mean((pred - y) ** 2), {"pred_dtype": jnp.zeros((), pred.dtype)}


def _problem():
    key = jax.random.key(0)
    model = eqx.nn.MLP(3, 2, 16, 2, key=key)
    x = jax.random.normal(jax.random.key(1), (64, 3))
    y = jnp.stack([jnp.sin(x[:, 0]), x[:, 1] * x[:, 2]], axis=1)
    return model, (x, y)


def test_computes_in_bfloat16_and_returns_the_model_precision():
    model, batch = _problem()
    seen = {}

    def spy(m, b, *, key):
        seen["weight"] = m.layers[0].weight.dtype
        seen["x"] = b[0].dtype
        return _mse(m, b, key=key)

    loss, aux = mixed_precision(spy)(model, batch, key=jax.random.key(2))
    assert seen == {"weight": jnp.bfloat16, "x": jnp.bfloat16}
    assert loss.dtype == jnp.float32 and aux["pred_dtype"].dtype == jnp.float32


def test_gradient_matches_a_plain_bfloat16_reference_and_is_float32():
    model, batch = _problem()
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def ours(p):
        return mixed_precision(_mse)(eqx.combine(p, static), batch, key=jax.random.key(0))[0]

    def reference(p):  # the same computation written out: cast by hand, loss cast back
        low = jax.tree.map(lambda a: a.astype(jnp.bfloat16), p)
        x, y = (a.astype(jnp.bfloat16) for a in batch)
        pred = jax.vmap(eqx.combine(low, static))(x)
        return jnp.mean((pred - y) ** 2).astype(jnp.float32)

    g, g_ref = jax.grad(ours)(params), jax.grad(reference)(params)
    for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(g_ref)):
        assert a.dtype == jnp.float32
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # and within bfloat16 rounding of the full-precision gradient
    g32 = jax.grad(lambda p: _mse(eqx.combine(p, static), batch, key=None)[0])(params)
    for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(g32)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0.1, atol=0.02)


def test_fit_trains_float32_parameters_in_mixed_precision():
    model, batch = _problem()
    trained, history = fit(
        model, mixed_precision(_mse), batch, optax.adam(1e-2), steps=300, batch_size=32,
        key=jax.random.key(3), progress=False,
    )  # fmt: skip
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(eqx.filter(trained, eqx.is_array)))
    first, last = float(history[0]["loss"]), float(history[-1]["loss"])
    assert last < 0.2 * first


def test_cast_floating_leaves_integers_alone():
    tree = {"f": jnp.ones(2), "i": jnp.arange(3), "s": "name"}
    out = cast_floating(tree, jnp.bfloat16)
    assert out["f"].dtype == jnp.bfloat16 and out["i"].dtype == jnp.arange(3).dtype
    assert out["s"] == "name"


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="compute_dtype.*float32"):
        mixed_precision(_mse, jnp.float32)
    with pytest.raises(TypeError, match="loss_fn"):  # ours, or the test-time type checker's
        mixed_precision(3)
    with pytest.raises(TypeError, match="dtype must be a floating dtype"):
        cast_floating({"a": jnp.ones(2)}, jnp.int32)

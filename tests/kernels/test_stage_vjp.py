"""Recorded pullbacks (`_stage_vjp`) against plain `jax.vjp`, evaluation by evaluation."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn.kernels._stage_vjp import StageVjp, depends_on_inputs, derived_outputs


def test_depends_on_inputs():
    w = jnp.arange(3.0)

    def fn(t, y):
        return w * 2.0, y * t, jnp.sin(w) + y, jnp.float32(1.0)

    closed = jax.make_jaxpr(fn)(jnp.float32(0.5), jnp.ones(3))
    assert depends_on_inputs(closed) == [False, True, True, False]


@pytest.mark.parametrize("jit", [False, True])
def test_derived_outputs(jit):
    """`1 - h` next to `h` is redone from `h`; `exp(h)` (not cheap) and `h * y` (y not an
    output) are kept, seen through a jit or not."""

    def fn(y):
        h = jnp.tanh(y)
        return h, 1.0 - h, jnp.exp(h), h * y, 2.0 * (1.0 - h)

    closed = jax.make_jaxpr(jax.jit(fn) if jit else fn)(jnp.ones(3))
    recipes = derived_outputs(closed, [True] * 5)
    assert set(recipes) == {1}
    primitive, params, operands = recipes[1]
    assert primitive.name == "sub" and operands[1] == ("out", 0)
    # Only saved outputs may be sources.
    assert derived_outputs(closed, [False, True, True, True, True]) == {}


def _mlp_field(dtype):
    model = eqx.nn.MLP(3, 3, 16, 2, activation=jnp.tanh, key=jax.random.key(0))
    model = jax.tree_util.tree_map(lambda x: x.astype(dtype) if eqx.is_array(x) else x, model)
    params, static = eqx.partition(model, eqx.is_array)

    def f_params(p, t, y):
        out = jax.vmap(eqx.combine(p, static))(y["a"]) * jnp.cos(t)
        return {"a": out, "b": y["a"] - t * y["b"]}

    return params, f_params


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_recorded_pullbacks_equal_jax_vjp(x64, dtype):
    params, f_params = _mlp_field(dtype)
    n = 5
    keys = jax.random.split(jax.random.key(1), 4)
    ys = {
        "a": jax.random.normal(keys[0], (n, 4, 3), dtype),
        "b": jax.random.normal(keys[3], (n, 4, 3), dtype),
    }
    ts = jnp.linspace(0.1, 0.9, n).astype(dtype)
    cts = {
        "a": jax.random.normal(keys[1], (n, 4, 3), dtype),
        "b": jax.random.normal(keys[2], (n, 4, 3), dtype),
    }
    y_ref = jax.tree_util.tree_map(lambda y: y[0], ys)
    stage = StageVjp(f_params, params, ts[0], y_ref, with_params=True)

    @jax.jit
    def recorded(ys, ts, cts):
        ks, res = jax.vmap(stage.record)(ts, ys)
        g_y = jax.vmap(stage.y_cotangent)(res, cts)
        return ks, g_y, stage.params_cotangent(res, cts)

    def reference(y, t, ct):
        k, pull = jax.vjp(lambda p, y_: f_params(p, t, y_), params, y)
        g_p, g_y = pull(ct)
        return k, g_y, g_p

    ks, g_y, g_p = recorded(ys, ts, cts)
    want_k, want_y, want_p = jax.vmap(reference)(ys, ts, cts)
    want_p = jax.tree_util.tree_map(lambda g: g.sum(0), want_p)
    rtol = 1e-5 if dtype == jnp.float32 else 1e-12
    for got, want in [(ks, want_k), (g_y, want_y), (g_p, want_p)]:
        for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)
    # Only activations are recorded, never the weights, and not `1 - tanh` next to `tanh`:
    # of the hidden layers, only their two outputs.
    _, res = stage.record(ts[0], y_ref)
    weight_shapes = {w.shape for w in jax.tree_util.tree_leaves(params)}
    assert not any(r.shape in weight_shapes for r in res)
    assert len(stage.derived) == 2
    assert sum(r.shape == (4, 16) for r in res) == 2


def test_y_only_records_no_parameter_pullback():
    params, f_params = _mlp_field(jnp.float32)
    y = {"a": jnp.ones((4, 3)), "b": jnp.zeros((4, 3))}
    stage = StageVjp(f_params, params, jnp.float32(0.0), y, with_params=False)
    k, res = stage.record(jnp.float32(0.3), y)
    ct = jax.tree_util.tree_map(jnp.ones_like, k)
    _, pull = jax.vjp(lambda y_: f_params(params, jnp.float32(0.3), y_), y)
    np.testing.assert_allclose(stage.y_cotangent(res, ct)["a"], pull(ct)[0]["a"], rtol=1e-6)
    with pytest.raises(ValueError, match="with_params=False"):
        stage.params_cotangent(
            [r[None] for r in res], jax.tree_util.tree_map(lambda c: c[None], ct)
        )

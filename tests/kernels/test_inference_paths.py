"""Inference paths (#23): an undifferentiated fused call runs the residual-free forward pass.

Checks that `selective_scan` binds the inference primitive when nothing is differentiated and
the residual-producing forward pass when something is, that both give the values of a plain
numpy loop (real and complex, with h0 and the last state, under vmap), and that grad, jvp and
vmap-of-grad through the inference call still equal autodiff through the loop. `linear_scan`'s
forward has no residuals; its values and derivatives are checked against a loop as well. A
toy `FusedOp` checks the generic mechanism: residual outputs are dropped and `inference` runs
only when no derivative is taken.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn.kernels import linear_scan, selective_scan
from dynlearn.kernels._primitive import FusedOp, fused_call

from tests.helpers import rel_err
from tests.kernels.test_selective_scan import _problem as selective_scan_problem


def loop_selective(u, delta, A, B, C, h0):
    """h_t = exp(delta_t A) h_{t-1} + delta_t B_t u_t; y_t = C_t . h_t (2 Re for complex)."""
    xp = jnp if isinstance(u, jax.Array) else np
    complex_ = any(xp.iscomplexobj(x) for x in (A, B, C, h0))
    h = h0
    dtype = h.dtype
    ys = []
    for t in range(u.shape[0]):
        dA = xp.exp(delta[t].astype(dtype)[:, None] * A.astype(dtype))
        h = dA * h + (delta[t] * u[t]).astype(dtype)[:, None] * B[t].astype(dtype)[None, :]
        y = xp.sum(h * C[t].astype(dtype)[None, :], axis=1)
        ys.append(2 * y.real if complex_ else y)
    return xp.stack(ys), h


def _problem(rng, length, channels, state, complex_):
    """test_selective_scan's random problem, with step sizes in (0.01, 0.8) (no softplus here)."""
    (u, _, A, B, C), _, h0 = selective_scan_problem(rng, length, channels, state, complex_)
    delta = rng.uniform(0.01, 0.8, size=(length, channels))
    return u, delta, A, B, C, h0


def _primitives(fn, *args) -> set[str]:
    """The names of the fused primitives in `fn`'s program, nested programs included."""
    names = set()

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            names.add(eqn.primitive.name)
            for value in eqn.params.values():
                for item in value if isinstance(value, tuple | list) else (value,):
                    inner = getattr(item, "jaxpr", item)  # ClosedJaxpr or Jaxpr
                    if hasattr(inner, "eqns"):
                        walk(inner)

    walk(jax.make_jaxpr(fn)(*args).jaxpr)
    return {n for n in names if n.startswith("dynlearn_fused")}


def _scan(chunk):
    # The pure-XLA path's inference mechanism (for float32, "auto" may pick the native kernel).
    def f(u, delta, A, B, C, h0):
        return selective_scan(
            u, delta, A, B, C, h0=h0, chunk=chunk, return_last_state=True, implementation="xla"
        )

    return f


def test_selective_scan_binds_inference_only_when_not_differentiated():
    rng = np.random.default_rng(0)
    args = [jnp.asarray(x, jnp.float32) for x in _problem(rng, 9, 3, 2, False)]
    f = _scan(4)
    assert _primitives(f, *args) == {"dynlearn_fused_inference"}
    assert _primitives(jax.vmap(f), *(jnp.stack([x, x]) for x in args)) == {
        "dynlearn_fused_inference"
    }
    loss = lambda *a: jnp.sum(f(*a)[0])
    assert _primitives(jax.grad(loss), *args) == {
        "dynlearn_fused_forward",
        "dynlearn_fused_backward",
    }
    tangent_only = lambda *a: jax.jvp(loss, a, a)[1]
    assert "dynlearn_fused_forward" in _primitives(tangent_only, *args)


@pytest.mark.parametrize("complex_, chunk", [(False, 4), (False, 64), (True, 5)])
def test_selective_inference_equals_differentiable_path_and_loop(x64, complex_, chunk):
    rng = np.random.default_rng(1)
    args = _problem(rng, 23, 4, 3, complex_)
    f = jax.jit(_scan(chunk))
    y, h = f(*args)
    # The differentiable path's values: the primal outputs of a vjp.
    (y_diff, h_diff), _ = jax.vjp(_scan(chunk), *map(jnp.asarray, args))
    y_loop, h_loop = loop_selective(*args)
    assert rel_err(y, y_loop) < 1e-12
    assert rel_err(h, h_loop) < 1e-12
    assert rel_err(y, y_diff) < 1e-12
    assert rel_err(h, h_diff) < 1e-12
    assert y.dtype == jnp.float64
    assert h.dtype == (jnp.complex128 if complex_ else jnp.float64)


def test_selective_inference_under_vmap_and_float32():
    rng = np.random.default_rng(2)
    problems = [_problem(rng, 40, 5, 4, False) for _ in range(3)]
    stacked = [np.stack(xs) for xs in zip(*problems)]
    args32 = [jnp.asarray(x, jnp.float32) for x in stacked]
    y, h = jax.jit(jax.vmap(_scan(8)))(*args32)
    assert y.dtype == jnp.float32
    for i, problem in enumerate(problems):
        y_loop, h_loop = loop_selective(*problem)
        assert rel_err(y[i], y_loop) < 1e-5
        assert rel_err(h[i], h_loop) < 1e-5
    # Shared A (unbatched) goes through the same batching rule.
    shared = jax.vmap(_scan(8), in_axes=(0, 0, None, 0, 0, 0))
    y_shared, _ = jax.jit(shared)(*args32[:2], args32[2][0], *args32[3:])
    y_loop, _ = loop_selective(*(x[1] if i != 2 else x[0] for i, x in enumerate(stacked)))
    assert rel_err(y_shared[1], y_loop) < 1e-5


def test_selective_grad_jvp_vmap_through_inference_call(x64):
    rng = np.random.default_rng(3)
    args = tuple(map(jnp.asarray, _problem(rng, 17, 3, 2, False)))
    loss = lambda f: lambda *a: jnp.sum(jnp.sin(f(*a)[0])) + jnp.sum(f(*a)[1] ** 2)
    fast, slow = loss(_scan(4)), loss(loop_selective)
    got = jax.jit(jax.grad(fast, argnums=tuple(range(6))))(*args)
    want = jax.jit(jax.grad(slow, argnums=tuple(range(6))))(*args)
    assert all(rel_err(g, w) < 1e-11 for g, w in zip(got, want))

    tangents = tuple(0.3 * x + 0.1 for x in args)
    got_t = jax.jit(lambda a, t: jax.jvp(fast, a, t))(args, tangents)
    want_t = jax.jit(lambda a, t: jax.jvp(slow, a, t))(args, tangents)
    assert rel_err(got_t[0], want_t[0]) < 1e-12
    assert rel_err(got_t[1], want_t[1]) < 1e-11

    batched = tuple(jnp.stack([x, 0.5 * x]) for x in args)
    per_example = jax.jit(jax.vmap(jax.grad(fast, argnums=(0, 2))))(*batched)
    want_1 = jax.jit(jax.grad(slow, argnums=(0, 2)))(*(x[1] for x in batched))
    assert all(rel_err(g[1], w) < 1e-11 for g, w in zip(per_example, want_1))


def loop_linear(a, b, h0):
    h, hs = h0, []
    for t in range(b.shape[0]):
        h = a[t] * h + b[t]
        hs.append(h)
    return np.stack(hs)


@pytest.mark.parametrize("method", ["auto", "sequential", "chunked"])
def test_linear_scan_values_and_derivatives_equal_loop(x64, method):
    rng = np.random.default_rng(4)
    a = rng.uniform(0.3, 1.0, (29, 3))
    b = rng.normal(size=(29, 3))
    h0 = rng.normal(size=3)
    f = jax.jit(lambda a, b, h0: linear_scan(a, b, h0, method=method))
    assert rel_err(f(a, b, h0), loop_linear(a, b, h0)) < 1e-12
    batched = jax.jit(jax.vmap(f))(np.stack([a, a**2]), np.stack([b, -b]), np.stack([h0, h0]))
    assert rel_err(batched[1], loop_linear(a**2, -b, h0)) < 1e-12

    def loss(fn):
        return lambda a, b, h0: jnp.sum(jnp.cos(fn(a, b, h0)))

    def jnp_loop(a, b, h0):
        return jax.lax.scan(lambda h, x: (x[0] * h + x[1],) * 2, h0, (a, b))[1]

    args = (jnp.asarray(a), jnp.asarray(b), jnp.asarray(h0))
    got = jax.grad(loss(f), argnums=(0, 1, 2))(*args)
    want = jax.grad(loss(jnp_loop), argnums=(0, 1, 2))(*args)
    assert all(rel_err(g, w) < 1e-12 for g, w in zip(got, want))
    got_t = jax.jvp(loss(f), args, args)[1]
    want_t = jax.jvp(loss(jnp_loop), args, args)[1]
    assert rel_err(got_t, want_t) < 1e-12


def _toy_op(calls):
    """Cumulative sum with a residual (the doubled input) and a counting inference path."""

    def forward(x):
        return jnp.cumsum(x), 2 * x

    def backward(inputs, outputs, cotangents):
        g, _ = cotangents
        return (jnp.cumsum(g[::-1])[::-1],)

    def inference(x):
        calls.append("inference")
        return (jnp.cumsum(x),)

    return FusedOp("toy_cumsum", forward, backward, inference=inference, residuals=1)


def test_generic_fused_op_drops_residuals_and_switches_paths():
    calls = []
    op = _toy_op(calls)
    x = jnp.arange(1.0, 6.0)
    (y,) = fused_call(op, x)
    assert np.allclose(y, np.cumsum(np.arange(1.0, 6.0)))
    assert calls == ["inference"]
    calls.clear()
    grad = jax.grad(lambda x: jnp.sum(fused_call(op, x)[0] * jnp.arange(5.0)))(x)
    assert calls == []  # differentiated: the forward pass with residuals ran instead
    # d/dx_i sum_j w_j cumsum(x)_j = sum_{j >= i} w_j.
    assert np.allclose(grad, np.cumsum(np.arange(5.0)[::-1])[::-1])
    (batched,) = jax.vmap(lambda x: fused_call(op, x))(jnp.stack([x, -x]))
    assert np.allclose(batched[1], -np.cumsum(np.arange(1.0, 6.0)))

"""linear_scan: every method against a plain Python loop, derivative rules against autodiff
through the loop, every transform combination, and input errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dynlearn.kernels import linear_scan

from tests.helpers import rel_err

METHODS = ["sequential", "associative", "chunked", "auto"]
scan = jax.jit(linear_scan, static_argnames=("reverse", "method"))


def loop_reference(a, b, h0, reverse=False):
    """h_t = a_t h_{t-1} + b_t one step at a time (numpy, or jnp for autodiff)."""
    xp = jnp if isinstance(b, jax.Array) else np
    a = xp.broadcast_to(a, b.shape)
    h = h0
    out = [None] * b.shape[0]
    order = range(b.shape[0] - 1, -1, -1) if reverse else range(b.shape[0])
    for t in order:
        h = a[t] * h + b[t]
        out[t] = h
    return xp.stack(out)


def _draw(rng, shape, complex_):
    x = rng.uniform(-1, 1, shape)
    if complex_:
        x = x + 1j * rng.uniform(-1, 1, shape)
    return x


def _problem(rng, length, state, complex_, a_kind):
    b = _draw(rng, (length, *state), complex_)
    a_shape = {"full": (length, *state), "invariant": state, "time": (length,) + (1,) * len(state)}
    a = 0.95 * _draw(rng, a_shape[a_kind], complex_) / (np.sqrt(2) if complex_ else 1)
    h0 = _draw(rng, state, complex_)
    return a, b, h0


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    # Few distinct shapes, so that compiled scans are reused across examples.
    length=st.sampled_from([1, 2, 9, 64, 70]),
    state=st.sampled_from([(), (3,), (2, 2)]),
    complex_=st.booleans(),
    reverse=st.booleans(),
    a_kind=st.sampled_from(["full", "invariant", "time"]),
    with_h0=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_methods_equal_python_loop(x64, length, state, complex_, reverse, a_kind, with_h0, seed):
    rng = np.random.default_rng(seed)
    a, b, h0 = _problem(rng, length, state, complex_, a_kind)
    expected = loop_reference(a, b, h0 if with_h0 else np.zeros(state), reverse)
    for method in METHODS:
        h = scan(a, b, h0 if with_h0 else None, reverse=reverse, method=method)
        assert h.shape == b.shape and h.dtype == (np.complex128 if complex_ else np.float64)
        assert rel_err(h, expected) < 1e-12, method


def _vjp_jvp(f, args, cot, tangents):
    return jax.vjp(f, *args)[1](cot), jax.jvp(f, args, tangents)[1]


@pytest.mark.parametrize("method", ["sequential", "associative", "chunked"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("complex_", [False, True])
def test_vjp_and_jvp_equal_autodiff_of_loop(x64, method, reverse, complex_):
    rng = np.random.default_rng(1)
    a, b, h0 = _problem(rng, 21, (3,), complex_, "full")
    args = tuple(map(jnp.asarray, (a, b, h0)))
    fast = lambda a, b, h0: linear_scan(a, b, h0, reverse=reverse, method=method)
    slow = lambda a, b, h0: loop_reference(a, b, h0, reverse)
    cot = jnp.asarray(_draw(rng, b.shape, complex_))
    tangents = tuple(jnp.asarray(_draw(rng, x.shape, complex_)) for x in args)
    # The kernel under jit; the unrolled loop eagerly (compiling its derivatives takes longer
    # than running them op by op).
    got_vjp, got_jvp = jax.jit(_vjp_jvp, static_argnums=0)(fast, args, cot, tangents)
    want_vjp, want_jvp = _vjp_jvp(slow, args, cot, tangents)
    for g, w in zip(got_vjp, want_vjp):
        assert rel_err(g, w) < 1e-12
    assert rel_err(got_jvp, want_jvp) < 1e-12


@pytest.mark.parametrize("method", ["sequential", "associative", "chunked"])
def test_transforms(x64, method):
    rng = np.random.default_rng(2)
    a, b, h0 = (jnp.asarray(x) for x in _problem(rng, 40, (2,), False, "full"))
    fast = lambda a, b, h0: linear_scan(a, b, h0, method=method)
    reference = loop_reference  # eager: the unrolled loop is not worth compiling
    loss = lambda f: lambda a, b, h0: jnp.sum(jnp.sin(f(a, b, h0)))
    batch = lambda x: jnp.stack([x, 0.5 * x, -x])

    # vmap and vmap of vmap against per-example calls.
    got = jax.jit(jax.vmap(fast))(batch(a), batch(b), batch(h0))
    for i in range(3):
        assert rel_err(got[i], reference(batch(a)[i], batch(b)[i], batch(h0)[i])) < 1e-12
    nested = jax.jit(jax.vmap(jax.vmap(fast)))(batch(batch(a)), batch(batch(b)), batch(batch(h0)))
    assert rel_err(nested[2, 1], reference(-0.5 * a, -0.5 * b, -0.5 * h0)) < 1e-12

    # grad of vmap, vmap of grad, jit.
    g_fast = jax.grad(loss(fast), argnums=(0, 1, 2))
    g_slow = jax.grad(loss(reference), argnums=(0, 1, 2))
    want = g_slow(a, b, h0)
    got = jax.jit(jax.vmap(g_fast))(batch(a), batch(b), batch(h0))
    assert all(rel_err(g[0], w) < 1e-12 for g, w in zip(got, want))
    total = lambda a: jnp.sum(jax.vmap(loss(fast), (0, None, None))(a, b, h0))
    assert rel_err(jax.jit(jax.grad(total))(batch(a))[0], want[0]) < 1e-12

    # jvp of grad (forward over reverse) against the same on the loop.
    tangents = (b, a, h0)
    jvp_of_grad = lambda g, x, t: jax.jvp(g, x, t)[1]
    got = jax.jit(jvp_of_grad, static_argnums=0)(g_fast, (a, b, h0), tangents)
    want = jvp_of_grad(g_slow, (a, b, h0), tangents)
    assert all(rel_err(g, w) < 1e-11 for g, w in zip(got, want))


def test_float32_and_complex64_keep_dtype():
    b = jnp.ones((50, 4), jnp.float32)
    a = jnp.full((4,), 0.5, jnp.float32)
    for method in METHODS:
        h = linear_scan(a, b, method=method)
        assert h.dtype == jnp.float32
        np.testing.assert_allclose(h[-1], 2.0, rtol=1e-6)
    h = linear_scan(a.astype(jnp.complex64) * 1j, b)
    assert h.dtype == jnp.complex64


def test_backward_memory_does_not_keep_associative_tree():
    """The backward pass of every method keeps O(T * state) residuals, like sequential."""
    a = jnp.full((4096, 8), 0.5, jnp.float32)
    b = jnp.ones((4096, 8), jnp.float32)

    def residual_bytes(method):
        loss = lambda a, b: jnp.sum(linear_scan(a, b, method=method))
        # The vjp closure is a PyTree whose leaves are the residuals kept for the backward pass.
        residuals = jax.eval_shape(lambda a, b: jax.vjp(loss, a, b)[1], a, b)
        leaves = jax.tree_util.tree_leaves(residuals)
        return sum(x.size * x.dtype.itemsize for x in leaves)

    budget = 4 * a.size * 4
    for method in ["sequential", "associative", "chunked"]:
        assert residual_bytes(method) <= budget, method


def test_empty_sequence():
    assert linear_scan(jnp.ones((0, 3)), jnp.ones((0, 3))).shape == (0, 3)


@pytest.mark.parametrize(
    "a, b, h0, method, match",
    [
        (np.ones((5, 3)), np.ones((5, 4)), None, "auto", r"a.shape=\(5, 3\).*b.shape=\(5, 4\)"),
        (np.ones((5, 3)), np.ones((5, 3)), np.ones(4), "auto", r"h0.shape=\(4,\)"),
        (np.ones((5, 3), np.int32), np.ones((5, 3)), None, "auto", "a must have a floating"),
        (np.ones((5, 3)), np.ones((5, 3), np.int64), None, "auto", "b must have a floating"),
        (np.ones(()), np.ones(()), None, "auto", r"leading time axis, got b.shape=\(\)"),
        (np.ones((5, 3)), np.ones((5, 3)), None, "fast", "method must be one of"),
    ],
)
def test_bad_input_raises(a, b, h0, method, match):
    with pytest.raises(ValueError, match=match):
        linear_scan(a, b, h0, method=method)


def test_grad_of_vmap_with_shared_multipliers(x64):
    """a shared across the batch (in_axes None): its cotangent is summed over the batch."""
    rng = np.random.default_rng(3)
    a, b, h0 = (jnp.asarray(x) for x in _problem(rng, 30, (2,), False, "full"))
    bs = jnp.stack([b, -b, 0.5 * b])

    def total(f):
        return lambda a, bs: jnp.sum(jax.vmap(f, (None, 0, None))(a, bs, h0) ** 2)

    for method in ["sequential", "chunked"]:
        fast = lambda a, b, h0, method=method: linear_scan(a, b, h0, method=method)
        got = jax.jit(jax.grad(total(fast)))(a, bs)
        want = jax.grad(total(loop_reference))(a, bs)  # eager: no compile of the unrolled loop
        assert rel_err(got, want) < 1e-12

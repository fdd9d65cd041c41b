"""The Pallas scan kernels (interpret mode on CPU) against the plain Python loops, and their
gradients and transforms against the XLA implementations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn.kernels import linear_scan, selective_scan

from tests.helpers import rel_err, tree_allclose
from tests.kernels.test_linear_scan import loop_reference as linear_loop
from tests.kernels.test_selective_scan import loop_reference as selective_loop


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("state", [(3, 5), (130,)])
def test_linear_scan_pallas_equals_loop(x64, reverse, state):
    """Widths that do not fill a block (15) and that need padding (130 = 128 + 2)."""
    rng = np.random.default_rng(0)
    length = 23
    a = rng.uniform(-1, 1, (length, *state))
    b = rng.normal(size=(length, *state))
    h0 = rng.normal(size=state)
    got = linear_scan(a, b, h0, reverse=reverse, method="pallas")
    assert rel_err(got, linear_loop(a, b, h0, reverse=reverse)) < 1e-12


def test_linear_scan_pallas_gradients_and_transforms(x64):
    rng = np.random.default_rng(1)
    a, b = jnp.asarray(rng.uniform(-1, 1, (17, 6))), jnp.asarray(rng.normal(size=(17, 6)))
    h0 = jnp.asarray(rng.normal(size=6))

    def loss(method):
        return lambda a, b, h0: jnp.sum(jnp.sin(linear_scan(a, b, h0, method=method)))

    grads = [jax.grad(loss(m), argnums=(0, 1, 2))(a, b, h0) for m in ("pallas", "sequential")]
    assert tree_allclose(grads[0], grads[1], rtol=1e-12, atol=1e-13)
    tangents = (jnp.ones_like(a), jnp.ones_like(b), jnp.ones_like(h0))
    jvps = [jax.jvp(loss(m), (a, b, h0), tangents)[1] for m in ("pallas", "sequential")]
    assert abs(jvps[0] - jvps[1]) < 1e-11
    batched = jax.vmap(lambda b: linear_scan(a, b, h0, method="pallas"))(jnp.stack([b, -b]))
    assert rel_err(batched[1], linear_loop(np.asarray(a), -np.asarray(b), np.asarray(h0))) < 1e-12


def _selective_problem(rng, length, channels, state):
    u = rng.normal(size=(length, channels))
    delta = np.logaddexp(rng.normal(size=(length, channels)), 0.0)
    A = -np.exp(rng.normal(size=(channels, state)))
    B = rng.normal(size=(length, state))
    C = rng.normal(size=(length, state))
    return u, delta, A, B, C


@pytest.mark.parametrize("length, channels, chunk", [(29, 20, 8), (16, 16, 16), (5, 3, 32)])
def test_selective_scan_pallas_equals_loop(x64, length, channels, chunk):
    """Channel counts that fill, pad (20 -> 32) and undershoot (3) a block; chunks that do
    and do not divide the length."""
    rng = np.random.default_rng(2)
    u, delta, A, B, C = _selective_problem(rng, length, channels, 4)
    h0 = rng.normal(size=(channels, 4))
    y, last = selective_scan(
        u, delta, A, B, C, h0=h0, return_last_state=True, chunk=chunk, implementation="pallas"
    )
    y_ref, last_ref = selective_loop(u, delta, A, B, C, h0=h0)
    assert rel_err(y, y_ref) < 1e-12 and rel_err(last, last_ref) < 1e-12


def test_selective_scan_pallas_gradients_jvp_and_vmap(x64):
    rng = np.random.default_rng(3)
    args = tuple(jnp.asarray(x) for x in _selective_problem(rng, 21, 18, 3))

    def loss(implementation):
        def f(u, delta, A, B, C):
            y = selective_scan(u, delta, A, B, C, chunk=8, implementation=implementation)
            return jnp.sum(jnp.sin(y))

        return f

    grads = [jax.grad(loss(i), argnums=tuple(range(5)))(*args) for i in ("pallas", "xla")]
    assert tree_allclose(grads[0], grads[1], rtol=1e-11, atol=1e-12)
    tangents = tuple(jnp.ones_like(x) for x in args)
    jvps = [jax.jvp(loss(i), args, tangents)[1] for i in ("pallas", "xla")]
    assert abs(jvps[0] - jvps[1]) < 1e-10
    u, delta, A, B, C = args
    run = lambda u: selective_scan(u, delta, A, B, C, implementation="pallas")
    batched = jax.vmap(run)(jnp.stack([u, 2 * u]))
    want, _ = selective_loop(2 * np.asarray(u), *(np.asarray(x) for x in (delta, A, B, C)))
    assert rel_err(batched[1], want) < 1e-12


def test_pallas_rejects_complex_and_unknown_implementation():
    a = jnp.ones((4, 2), jnp.complex64)
    with pytest.raises(ValueError, match="real dtypes only"):
        linear_scan(a, a, method="pallas")
    u = jnp.ones((4, 2))
    A = -jnp.ones((2, 3), jnp.complex64)
    B = jnp.ones((4, 3))
    with pytest.raises(ValueError, match="real dtypes only"):
        selective_scan(u, u, A, B, B, implementation="pallas")
    with pytest.raises(ValueError, match="implementation must be one of"):
        selective_scan(u, u, -jnp.ones((2, 3)), B, B, implementation="triton")

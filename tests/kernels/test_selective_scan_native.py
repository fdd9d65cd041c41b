"""The native CPU selective-scan kernel (XLA FFI, #23): against the pure-XLA path and a loop.

Values and gradients of all inputs (u, delta, A, B, C, h0, with a loss on y and on the last
state) against `implementation="xla"` and against a plain numpy loop of the recurrence; under
`vmap` (batched and shared A), `jvp` and `jvp` of `grad`; odd shapes (channels not a multiple of
the 8-lane vector, L=1, batch 1). The tests that run the kernel are skipped, with the loader's
reason, where it is not available. The fallback is checked by making the library unavailable:
`"auto"` then runs the XLA path and logs one notice, `"native"` raises. The kernel's `exp`
(a polynomial) is checked against numpy's through the forward pass with B = C = 1, where
y_t = exp(delta_t A) with h0 = 1, u = 0.
"""

import contextlib
import logging

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn import kernels
from dynlearn.kernels import _native, selective_scan

from tests.helpers import rel_err

needs_native = pytest.mark.skipif(
    not kernels.native_available(),
    reason=f"native selective-scan kernel unavailable: {_native.status()[1]}",
)


def loop(u, delta, A, B, C, h0):
    """h_t = exp(delta_t A) h_{t-1} + delta_t B_t u_t; y_t = C_t . h_t, in float64 numpy."""
    u, delta, A, B, C, h = (np.asarray(x, np.float64) for x in (u, delta, A, B, C, h0))
    ys = []
    for t in range(u.shape[0]):
        h = np.exp(delta[t][:, None] * A) * h + (delta[t] * u[t])[:, None] * B[t][None, :]
        ys.append(h @ C[t])
    return np.stack(ys), h


def problem(rng, length, channels, state, batch=()):
    """float32 inputs (u, delta, A, B, C, h0); `batch` leading axes on all but A."""
    b = tuple(batch)
    return (
        rng.normal(size=b + (length, channels)).astype(np.float32),
        np.abs(rng.normal(size=b + (length, channels))).astype(np.float32),
        -np.exp(rng.normal(size=(channels, state))).astype(np.float32),
        rng.normal(size=b + (length, state)).astype(np.float32),
        rng.normal(size=b + (length, state)).astype(np.float32),
        rng.normal(size=b + (channels, state)).astype(np.float32),
    )


def scan(implementation):
    def f(u, delta, A, B, C, h0):
        return selective_scan(
            u, delta, A, B, C, h0=h0, return_last_state=True, implementation=implementation
        )

    return f


def loss(f):
    def total(*args):
        y, h = f(*args)
        return jnp.sum(jnp.sin(y)) + jnp.sum(h**2)

    return total


SHAPES = [(37, 16, 8), (1, 8, 4), (20, 13, 5), (3, 1, 1)]  # (L, D, N): D=13, 1 are padded


@needs_native
@pytest.mark.parametrize("length, channels, state", SHAPES)
def test_values_and_gradients(length, channels, state):
    rng = np.random.default_rng(length * 100 + channels)
    args = problem(rng, length, channels, state)
    y, h = jax.jit(scan("native"))(*args)
    y_xla, h_xla = jax.jit(scan("xla"))(*args)
    y_loop, h_loop = loop(*args)
    assert y.dtype == h.dtype == jnp.float32
    assert rel_err(y, y_loop) < 1e-5 and rel_err(h, h_loop) < 1e-5
    assert rel_err(y, y_xla) < 1e-5 and rel_err(h, h_xla) < 1e-5
    grads = jax.jit(jax.grad(loss(scan("native")), argnums=range(6)))(*args)
    grads_xla = jax.jit(jax.grad(loss(scan("xla")), argnums=range(6)))(*args)
    # Independent reference: autodiff through the loop, in float64.
    with _x64():
        loop_jax = jax.grad(loss(_jax_loop), argnums=range(6))
        grads_loop = [np.asarray(g) for g in loop_jax(*(jnp.asarray(x, jnp.float64) for x in args))]
    for name, g, g_xla, g_loop in zip("u delta A B C h0".split(), grads, grads_xla, grads_loop):
        assert g.shape == g_xla.shape, name
        assert rel_err(g, g_loop) < 2e-5, name
        assert rel_err(g, g_xla) < 2e-5, name


@contextlib.contextmanager
def _x64():
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", previous)


def _jax_loop(u, delta, A, B, C, h0):
    def step(h, x):
        u_t, d_t, B_t, C_t = x
        h = jnp.exp(d_t[:, None] * A) * h + (d_t * u_t)[:, None] * B_t[None, :]
        return h, h @ C_t

    h, y = jax.lax.scan(step, h0, (u, delta, B, C))
    return y, h


@needs_native
@pytest.mark.parametrize("batch, shared_A", [((3,), True), ((2,), False), ((1,), True)])
def test_vmap_values_and_gradients(batch, shared_A):
    rng = np.random.default_rng(11)
    args = list(problem(rng, 9, 12, 3, batch))
    if not shared_A:
        args[2] = np.stack([args[2] * (1 + 0.1 * i) for i in range(batch[0])])
    in_axes = (0, 0, None if shared_A else 0, 0, 0, 0)
    native = jax.vmap(scan("native"), in_axes)
    xla = jax.vmap(scan("xla"), in_axes)
    y, h = jax.jit(native)(*args)
    for i in range(batch[0]):
        one = [x if (k == 2 and shared_A) else x[i] for k, x in enumerate(args)]
        y_loop, h_loop = loop(*one)
        assert rel_err(y[i], y_loop) < 1e-5 and rel_err(h[i], h_loop) < 1e-5
    grads = jax.jit(jax.grad(loss(native), argnums=range(6)))(*args)
    grads_xla = jax.jit(jax.grad(loss(xla), argnums=range(6)))(*args)
    for name, g, g_xla in zip("u delta A B C h0".split(), grads, grads_xla):
        assert g.shape == g_xla.shape, name
        assert rel_err(g, g_xla) < 2e-5, name
    # Nested vmap: two leading axes folded into the kernel's batch.
    nested = [np.stack([x, 0.5 * x]) if k != 2 else x for k, x in enumerate(args)]
    inner = jax.vmap(scan("native"), in_axes)
    outer_axes = (0, 0, None, 0, 0, 0)
    y2, _ = jax.jit(jax.vmap(inner, outer_axes))(*nested)
    y2_xla, _ = jax.jit(jax.vmap(jax.vmap(scan("xla"), in_axes), outer_axes))(*nested)
    assert rel_err(y2, y2_xla) < 1e-5


@needs_native
def test_jvp_and_jvp_of_grad():
    rng = np.random.default_rng(12)
    args = problem(rng, 15, 10, 4)
    tangents = problem(rng, 15, 10, 4)
    out, out_t = jax.jit(lambda a, t: jax.jvp(scan("native"), a, t))(args, tangents)
    out_x, out_t_x = jax.jit(lambda a, t: jax.jvp(scan("xla"), a, t))(args, tangents)
    assert all(rel_err(a, b) < 1e-5 for a, b in zip(out + out_t, out_x + out_t_x))

    def hvp(implementation):
        grad = jax.grad(loss(scan(implementation)), argnums=range(6))
        return jax.jit(lambda a, t: jax.jvp(grad, a, t)[1])(args, tangents)

    for name, g, g_xla in zip("u delta A B C h0".split(), hvp("native"), hvp("xla")):
        assert rel_err(g, g_xla) < 1e-4, name


@needs_native
def test_auto_uses_native_for_float32_on_cpu():
    rng = np.random.default_rng(13)
    args = problem(rng, 6, 8, 2)
    jaxpr = str(jax.make_jaxpr(scan("auto"))(*args))
    assert "selective_scan[native, auto]" in jaxpr
    # Undifferentiated, a tiny sequence (L*D*N = 16) runs the XLA inference path (no FFI call),
    # with the same values; a longer one (L*D*N = 6 * 8 * 200) the native kernel.
    one = [x[:1] if x.shape[0] == 6 else x for x in args]

    def lowered(f):
        return jax.jit(f).lower(*one).as_text()

    assert "dynlearn_selective_scan_forward" not in lowered(scan("auto"))
    assert "dynlearn_selective_scan_forward" in lowered(scan("native"))
    assert "dynlearn_selective_scan_backward" in lowered(jax.grad(loss(scan("auto"))))
    y_one, h_one = scan("auto")(*one)
    y_loop, h_loop = loop(*one)
    assert rel_err(y_one, y_loop) < 1e-5 and rel_err(h_one, h_loop) < 1e-5
    wide = problem(rng, 6, 8, 200)
    assert "dynlearn_selective_scan_forward" in jax.jit(scan("auto")).lower(*wide).as_text()
    with _x64():
        args64 = [jnp.asarray(x, jnp.float64) for x in args]
        assert "selective_scan[native" not in str(jax.make_jaxpr(scan("auto"))(*args64))
        with pytest.raises(ValueError, match="float32 only, got the state dtype float64"):
            scan("native")(*args64)


@needs_native
def test_exp_relative_error():
    """u = 0, h0 = 1, one state, B = C = 1: y_0 = exp(delta_0 A), the kernel's own exp."""
    x = np.concatenate([np.linspace(-87.0, 88.0, 4001), np.linspace(-1, 1, 4001)])
    x = x[: len(x) // 8 * 8].astype(np.float32)
    channels = len(x)
    one = np.ones((1, 1), np.float32)
    y, _ = scan("native")(
        np.zeros((1, channels), np.float32),
        np.ones((1, channels), np.float32),
        x[:, None],
        one,
        one,
        np.ones((channels, 1), np.float32),
    )
    want = np.exp(x.astype(np.float64))
    assert np.max(np.abs(np.asarray(y[0], np.float64) / want - 1)) < 3e-7  # measured 1.5e-7


@pytest.fixture
def no_library(monkeypatch, tmp_path):
    """The native library made unavailable for one test (the loader state restored after)."""
    monkeypatch.delenv("DYNLEARN_NO_NATIVE", raising=False)
    monkeypatch.setattr(_native, "LIBRARY", tmp_path / "missing.so")
    monkeypatch.setattr(_native, "_status", None)
    monkeypatch.setattr(_native, "_noticed", False)


def test_fallback_runs_xla_and_logs_one_notice(no_library, caplog):
    rng = np.random.default_rng(14)
    args = problem(rng, 7, 5, 3)
    with caplog.at_level(logging.INFO, logger="dynlearn.kernels"):
        assert not kernels.native_available()
        y, h = scan("auto")(*args)
        grads = jax.grad(loss(scan("auto")), argnums=range(6))(*args)
        scan("auto")(*args)
    notices = [r for r in caplog.records if "native CPU selective-scan kernel" in r.message]
    assert len(notices) == 1 and "missing.so" in notices[0].message
    assert "selective_scan[native" not in str(jax.make_jaxpr(scan("auto"))(*args))
    y_loop, h_loop = loop(*args)
    assert rel_err(y, y_loop) < 1e-5 and rel_err(h, h_loop) < 1e-5
    grads_xla = jax.grad(loss(scan("xla")), argnums=range(6))(*args)
    assert all(rel_err(g, w) < 1e-6 for g, w in zip(grads, grads_xla))
    with pytest.raises(RuntimeError, match="native CPU kernel is unavailable.*missing.so"):
        scan("native")(*args)


def test_disabled_by_environment(monkeypatch):
    monkeypatch.setenv("DYNLEARN_NO_NATIVE", "1")
    monkeypatch.setattr(_native, "_status", None)
    monkeypatch.setattr(_native, "_noticed", True)
    assert _native.status() == (False, "disabled by DYNLEARN_NO_NATIVE")


def test_unloadable_library_logs_a_warning(monkeypatch, tmp_path, caplog):
    broken = tmp_path / "libdynlearn_selscan.so"
    broken.write_text("not a shared library")
    monkeypatch.delenv("DYNLEARN_NO_NATIVE", raising=False)
    monkeypatch.setattr(_native, "LIBRARY", broken)
    monkeypatch.setattr(_native, "_status", None)
    monkeypatch.setattr(_native, "_noticed", False)
    with caplog.at_level(logging.INFO, logger="dynlearn.kernels"):
        loaded, reason = _native.status()
    assert not loaded and "failed to load" in reason
    assert [r.levelno for r in caplog.records] == [logging.WARNING]

"""The Mamba block against a naive NumPy loop, step mode against the full call, the
dynamical-systems view against the output, gradients against the plain-scan reference."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynlearn.ssm as ssm
from dynlearn.ssm import _scan


def _naive_mamba(block, xs):
    """Token by token, channel by channel, state by state: the Mamba paper's equations."""
    p = {
        k: np.asarray(getattr(block, k), np.float64)
        for k in (
            "in_proj",
            "conv_weight",
            "conv_bias",
            "x_proj",
            "dt_proj",
            "dt_bias",
            "A_log",
            "D",
            "out_proj",
        )
    }
    xs = np.asarray(xs, np.float64)
    L = xs.shape[0]
    Di, N, R, K = block.d_inner, block.state_size, block.dt_rank, block.d_conv
    silu = lambda v: v / (1 + np.exp(-v))
    softplus = lambda v: np.log1p(np.exp(v))
    A = -np.exp(p["A_log"])
    x_in = np.zeros((L, Di))
    z = np.zeros((L, Di))
    for t in range(L):
        xz = p["in_proj"] @ xs[t]
        x_in[t], z[t] = xz[:Di], xz[Di:]
    h = np.zeros((Di, N))
    out = np.zeros((L, block.d_model))
    for t in range(L):
        u = np.zeros(Di)
        for d in range(Di):
            acc = p["conv_bias"][d]
            for k in range(K):
                src = t - (K - 1) + k
                if src >= 0:
                    acc += p["conv_weight"][d, k] * x_in[src, d]
            u[d] = silu(acc)
        proj = p["x_proj"] @ u
        dt_raw, B, C = proj[:R], proj[R : R + N], proj[R + N :]
        delta = softplus(p["dt_proj"] @ dt_raw + p["dt_bias"])
        y = np.zeros(Di)
        for d in range(Di):
            for n in range(N):
                h[d, n] = np.exp(delta[d] * A[d, n]) * h[d, n] + delta[d] * B[n] * u[d]
            y[d] = (h[d] @ C + p["D"][d] * u[d]) * silu(z[t, d])
        out[t] = p["out_proj"] @ y
    return out


def test_matches_naive_reference_float64(x64, getkey):
    block = ssm.Mamba(6, state_size=4, d_conv=3, key=getkey())
    xs = jax.random.normal(getkey(), (12, 6), dtype=jnp.float64)
    np.testing.assert_allclose(block(xs), _naive_mamba(block, xs), rtol=0, atol=1e-10)


def test_matches_naive_reference_float32(getkey):
    block = ssm.Mamba(8, key=getkey())
    xs = jax.random.normal(getkey(), (16, 8))
    ref = _naive_mamba(block, xs)
    np.testing.assert_allclose(block(xs), ref, rtol=0, atol=1e-5 * np.abs(ref).max())


def test_step_equals_call(getkey):
    block = ssm.Mamba(8, state_size=8, key=getkey())
    xs = jax.random.normal(getkey(), (40, 8))
    _, ys = jax.lax.scan(lambda s, x: block.step(s, x), block.init_state(), xs)
    full = block(xs)
    np.testing.assert_allclose(ys, full, atol=1e-5 * float(jnp.abs(full).max()))


def test_dynamical_system_reproduces_output(getkey):
    block = ssm.Mamba(4, state_size=4, key=getkey())
    xs = jax.random.normal(getkey(), (10, 4))
    system, u = eqx.filter_jit(block.dynamical_system)(xs)
    assert u.shape == (10, block.d_inner)
    ys = block(xs)
    np.testing.assert_allclose(eqx.filter_jit(system)(u), ys, atol=1e-5)
    phi = eqx.filter_jit(system.materialize)()
    np.testing.assert_allclose(jnp.einsum("ijod,jd->io", phi, u), ys, atol=1e-5)
    # |A_bar| < 1: Delta > 0 and A < 0 make every mode contracting
    assert float(jnp.max(system.A)) < 1.0


def test_kernel_path_matches_reference_path(getkey, monkeypatch):
    """Output and gradient through dynlearn.kernels equal those through the plain lax.scan."""
    block = ssm.Mamba(4, state_size=4, key=getkey())
    xs = jax.random.normal(getkey(), (20, 4))
    loss = lambda m: jnp.sum(jnp.sin(m(xs)))
    monkeypatch.setattr(_scan, "USE_KERNELS", False)
    y_ref, g_ref = block(xs), eqx.filter_grad(loss)(block)
    monkeypatch.setattr(_scan, "USE_KERNELS", True)
    y_ker, g_ker = block(xs), eqx.filter_grad(loss)(block)
    np.testing.assert_allclose(y_ker, y_ref, atol=1e-5)
    for a, b in zip(jax.tree.leaves(g_ker), jax.tree.leaves(g_ref)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_bad_input_names_shapes(getkey):
    block = ssm.Mamba(4, key=getkey())
    with pytest.raises(ValueError, match=r"\(L, 4\).*\(7, 5\)"):
        block(jnp.zeros((7, 5)))
    with pytest.raises(ValueError, match=r"\(7,\)"):
        block(jnp.zeros(7))
    with pytest.raises(ValueError, match=r"\(4,\).*\(1, 4\)"):
        block.step(block.init_state(), jnp.zeros((1, 4)))


def test_batched_gradient_through_kernels(getkey, monkeypatch):
    """Training batches with vmap: the gradient through the kernels under vmap (shared
    parameters) equals the reference path's."""
    block = ssm.Mamba(4, state_size=4, key=getkey())
    xs = jax.random.normal(getkey(), (3, 12, 4))
    loss = lambda m: jnp.sum(jnp.sin(jax.vmap(m)(xs)))
    monkeypatch.setattr(_scan, "USE_KERNELS", True)
    g_ker = eqx.filter_grad(loss)(block)
    monkeypatch.setattr(_scan, "USE_KERNELS", False)
    g_ref = eqx.filter_grad(loss)(block)
    for a, b in zip(jax.tree.leaves(g_ker), jax.tree.leaves(g_ref)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)

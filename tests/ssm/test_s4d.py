"""S4D: convolution mode == recurrent mode == step mode, the kernel equals the explicit
recurrence, the dynamical-systems view reproduces the output, bad input is rejected."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynlearn.ssm as ssm


def _explicit_kernel(layer, L):
    """K[h, l] = c Re(sum_n C_n B_bar_n A_bar_n^l) with a plain power loop."""
    A_bar, B_bar, C = (np.asarray(v) for v in layer.discrete())
    scale = 1.0 if layer.init == "real" else 2.0
    K = np.zeros((A_bar.shape[0], L))
    power = np.ones_like(A_bar)
    for l in range(L):
        K[:, l] = scale * np.real(np.sum(C * B_bar * power, axis=1))
        power = power * A_bar
    return K


@pytest.mark.parametrize(
    "init, discretization",
    [("lin", "zoh"), ("inv", "zoh"), ("real", "zoh"), ("legs", "zoh"), ("lin", "bilinear")],
)
def test_kernel_equals_explicit_recurrence(init, discretization, x64, getkey):
    layer = ssm.S4D(3, 8, init=init, discretization=discretization, key=getkey())
    np.testing.assert_allclose(
        layer.kernel(40), _explicit_kernel(layer, 40), rtol=1e-10, atol=1e-12
    )


@pytest.mark.parametrize("init", ["lin", "real"])
def test_modes_agree_float32(init, getkey):
    layer = ssm.S4D(4, 16, init=init, key=getkey())
    xs = jax.random.normal(getkey(), (64, 4))
    conv = layer(xs)
    rec = layer.recurrent(xs)
    _, steps = jax.lax.scan(lambda s, x: layer.step(s, x), layer.init_state(), xs)
    scale = float(jnp.max(jnp.abs(conv)))
    np.testing.assert_allclose(rec, conv, atol=1e-5 * scale)
    np.testing.assert_allclose(steps, conv, atol=1e-5 * scale)


@pytest.mark.parametrize("discretization", ["zoh", "bilinear"])
def test_modes_agree_float64(discretization, x64, getkey):
    layer = ssm.S4D(3, 16, init="inv", discretization=discretization, key=getkey())
    xs = jax.random.normal(getkey(), (100, 3), dtype=jnp.float64)
    conv = layer(xs)
    np.testing.assert_allclose(layer.recurrent(xs), conv, rtol=0, atol=1e-10)
    _, ys = jax.lax.scan(lambda s, x: layer.step(s, x), layer.init_state(), xs)
    np.testing.assert_allclose(ys, conv, rtol=0, atol=1e-10)


def test_impulse_response_is_kernel_plus_skip(x64, getkey):
    layer = ssm.S4D(2, 8, key=getkey())
    xs = jnp.zeros((20, 2)).at[0].set(1.0)
    K = np.array(layer.kernel(20)).T
    K[0] += np.asarray(layer.D)
    np.testing.assert_allclose(layer(xs), K, atol=1e-12)


def test_init_closed_forms():
    A, _ = ssm.s4d_init("lin", 8)
    np.testing.assert_allclose(A, -0.5 + 1j * np.pi * np.arange(4))
    A, _ = ssm.s4d_init("inv", 8)
    n = np.arange(4)
    np.testing.assert_allclose(A, -0.5 + 1j * (8 / np.pi) * (8 / (2 * n + 1) - 1))
    A, _ = ssm.s4d_init("real", 5)
    np.testing.assert_allclose(A, -(np.arange(5) + 1.0))
    A, _ = ssm.s4d_init("legs", 8)
    np.testing.assert_allclose(A.real, -0.5, atol=1e-6)
    assert np.all(A.imag > 0)


def test_dynamical_system_reproduces_output(getkey):
    layer = ssm.S4D(3, 8, init="lin", key=getkey())
    xs = jax.random.normal(getkey(), (24, 3))
    system, u = eqx.filter_jit(layer.dynamical_system)(xs)
    ys = layer(xs)
    np.testing.assert_allclose(eqx.filter_jit(system)(u), ys, atol=1e-5)
    phi = eqx.filter_jit(system.materialize)()
    np.testing.assert_allclose(jnp.einsum("ijod,jd->io", phi, u), ys, atol=1e-5)
    # time invariance: Phi[i, j] depends on i - j only
    np.testing.assert_allclose(phi[5, 2], phi[10, 7], atol=1e-6)


def test_bad_input_names_shapes(getkey):
    layer = ssm.S4D(3, 8, key=getkey())
    with pytest.raises(ValueError, match=r"\(L, 3\).*\(10, 4\)"):
        layer(jnp.zeros((10, 4)))
    with pytest.raises(ValueError, match=r"\(2, 10, 3\)"):
        layer(jnp.zeros((2, 10, 3)))
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        layer.step(layer.init_state(), jnp.zeros(4))
    with pytest.raises(ValueError, match="even"):
        ssm.S4D(3, 7, init="lin", key=getkey())

"""Regularizers: exact values on linear problems, sampling identities, RNODE closed forms."""

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from dynlearn.nde import (
    NeuralODE,
    global_error_regularization,
    kinetic_jacobian_regularization,
    local_regularization,
    step_error,
)


class Linear(eqx.Module):
    a: jax.Array

    def __call__(self, t, y, args):
        return self.a @ y


def test_error_estimates_on_linear_decay(x64):
    # y' = -y on a constant grid: the penalties must equal single steps taken from the exact
    # solution at the step starts (global: all of them; biased: one; unbiased: from t_s).
    h, n = 0.1, 20
    model = NeuralODE(Linear(-jnp.eye(1)), stepsize_controller=dfx.ConstantStepSize(), dt0=h)
    ts = jnp.array([0.0, n * h])
    y0 = jnp.array([2.0])
    starts = jnp.linspace(0.0, (n - 1) * h, n)
    per_step = jax.vmap(lambda t: step_error(model, t, y0 * jnp.exp(-t), jnp.array(h)))(starts)
    _, total = global_error_regularization(model, ts, y0)
    np.testing.assert_allclose(total, jnp.sum(per_step), rtol=1e-6)
    local = eqx.filter_jit(local_regularization)
    for seed in range(3):
        key = jax.random.key(seed)
        _, biased = local(model, ts, y0, key=key, biased=True)
        assert np.min(np.abs(per_step - biased) / per_step) < 1e-6
        _, unbiased = local(model, ts, y0, key=key)
        t_s = jax.random.uniform(key, (1,), dtype=ts.dtype, minval=0.0, maxval=n * h)[0]
        expected = step_error(model, t_s, y0 * jnp.exp(-t_s), jnp.array(h))
        np.testing.assert_allclose(unbiased, expected, rtol=1e-6)


def test_local_error_order(x64):
    # Tsit5's error estimate is a 4th/5th-order difference: EEst * dt scales like dt^5 * dt.
    model = NeuralODE(Linear(jnp.array([[0.0, 1.0], [-1.0, 0.0]])))
    y = jnp.array([1.0, 0.5])
    e1 = step_error(model, jnp.array(0.0), y, jnp.array(0.1))
    e2 = step_error(model, jnp.array(0.0), y, jnp.array(0.05))
    assert 40 < float(e1 / e2) < 90  # 2^6 = 64


def test_adaptive_penalties_are_differentiable(getkey):
    field = eqx.nn.MLP(2, 2, 8, 1, activation=jnp.tanh, key=getkey())
    model = NeuralODE(
        eqx.Partial(lambda f, t, y, args: f(y), field),
        stepsize_controller=dfx.PIDController(rtol=1e-4, atol=1e-6),
        max_steps=64,
    )
    ts = jnp.linspace(0.0, 2.0, 5)
    y0 = jnp.array([1.0, -1.0])
    key = getkey()

    @eqx.filter_jit
    @eqx.filter_grad
    def grads(m):
        sol, p_local = local_regularization(m, ts, y0, key=key)
        _, p_global = global_error_regularization(m, ts, y0)
        return jnp.sum(sol.ys**2) + p_local + p_global

    g = grads(model)
    leaves = jax.tree_util.tree_leaves(eqx.filter(g, eqx.is_inexact_array))
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in leaves)
    assert any(float(jnp.max(jnp.abs(x))) > 0 for x in leaves)
    # accepted steps each have EEst <= 1, so the global penalty is at most t1 - t0
    _, p_global = eqx.filter_jit(global_error_regularization)(model, ts, y0)
    assert 0 < float(p_global) <= 2.0


def test_kinetic_and_jacobian_closed_form(x64, getkey):
    a = jnp.array([[-0.5, 0.0], [0.0, -1.0]])
    model = NeuralODE(Linear(a), stepsize_controller=dfx.PIDController(rtol=1e-9, atol=1e-9))
    ts = jnp.linspace(0.0, 2.0, 3)
    y0 = jnp.array([1.0, 2.0])
    sol, kinetic, jac = kinetic_jacobian_regularization(model, ts, y0)
    lam, T = -jnp.diag(a), 2.0
    exact_k = jnp.sum(lam * y0**2 * (1 - jnp.exp(-2 * lam * T)) / 2)
    np.testing.assert_allclose(kinetic, exact_k, rtol=1e-6)
    np.testing.assert_allclose(jac, jnp.sum(a**2) * T, rtol=1e-6)
    np.testing.assert_allclose(sol.ys[-1], y0 * jnp.exp(-lam * T), rtol=1e-6)
    keys = jax.random.split(getkey(), 2000)
    hutch = jax.vmap(lambda k: kinetic_jacobian_regularization(model, ts, y0, key=k)[2])(keys)
    np.testing.assert_allclose(jnp.mean(hutch), jnp.sum(a**2) * T, rtol=0.08)

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
    keys = jax.random.split(jax.random.key(0), 3)

    @eqx.filter_jit
    def everything(m):  # one compiled call: compiling the solves dominates this test's time
        per_step = jax.vmap(lambda t: step_error(m, t, y0 * jnp.exp(-t), jnp.array(h)))(starts)
        total = global_error_regularization(m, ts, y0)[1]
        biased = jax.vmap(lambda k: local_regularization(m, ts, y0, key=k, biased=True)[1])(keys)
        unbiased = jax.vmap(lambda k: local_regularization(m, ts, y0, key=k)[1])(keys)
        t_s = jax.vmap(
            lambda k: jax.random.uniform(k, (1,), dtype=ts.dtype, minval=0.0, maxval=n * h)[0]
        )(keys)
        expected = jax.vmap(lambda t: step_error(m, t, y0 * jnp.exp(-t), jnp.array(h)))(t_s)
        # only the one sampled step is differentiated by default: y(t_s) is a constant
        local = lambda y, d: local_regularization(m, ts, y, key=keys[0], differentiate_state=d)  # noqa: E731
        grads = [jax.grad(lambda y, d=d: local(y, d)[1])(y0) for d in (False, True)]
        chain = jax.grad(lambda y: step_error(m, t_s[0], y * jnp.exp(-t_s[0]), jnp.array(h)))(y0)
        return per_step, total, biased, unbiased, expected, grads, chain

    per_step, total, biased, unbiased, expected, grads, chain = everything(model)
    np.testing.assert_allclose(grads[0], 0.0)
    np.testing.assert_allclose(grads[1], chain, rtol=1e-6)
    assert float(jnp.abs(chain[0])) > 0
    np.testing.assert_allclose(total, jnp.sum(per_step), rtol=1e-6)
    for b in biased:
        assert np.min(np.abs(per_step - b) / per_step) < 1e-6
    # the three sampled times differ, so the unbiased penalties differ too
    assert len(set(np.round(np.asarray(unbiased), 12))) == 3
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
    def grads(m):
        def loss(mm):
            sol, p_local = local_regularization(mm, ts, y0, key=key)
            _, p_global = global_error_regularization(mm, ts, y0)
            return jnp.sum(sol.ys**2) + p_local + p_global, p_global

        return eqx.filter_grad(loss, has_aux=True)(m)

    g, p_global = grads(model)
    leaves = jax.tree_util.tree_leaves(eqx.filter(g, eqx.is_inexact_array))
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in leaves)
    assert any(float(jnp.max(jnp.abs(x))) > 0 for x in leaves)
    # accepted steps each have EEst <= 1, so the global penalty is at most t1 - t0
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

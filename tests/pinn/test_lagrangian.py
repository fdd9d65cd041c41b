"""Lagrangian PINN: residuals vanish on the exact characteristics; Eulerian reconstruction."""

import jax
import jax.numpy as jnp
import numpy as np

from dynlearn import pinn


def test_exact_lagrangian_solution(x64):
    c, nu = 30.0, 0.05
    model = pinn.LagrangianPINN(
        state=lambda p: jnp.exp(-nu * p[1]) * jnp.sin(p[0]),
        characteristic=lambda p: jnp.full((), c, p.dtype),
    )
    pts = jnp.array([[0.1, 0.0], [2.0, 0.5], [5.0, 1.0]])
    res = jax.jit(jax.vmap(lambda p: pinn.lagrangian_convection_diffusion(model, p, c, nu)))(pts)
    assert float(jnp.max(jnp.abs(res))) < 1e-10
    xi = jnp.linspace(0.0, 2 * jnp.pi, 2001)[:-1]
    x = jnp.linspace(0.0, 2 * jnp.pi, 17)
    u = pinn.lagrangian_to_eulerian(model, x, 0.7, xi, period=2 * jnp.pi)
    np.testing.assert_allclose(u, jnp.exp(-nu * 0.7) * jnp.sin(x - c * 0.7), atol=1e-5)


def test_curved_characteristics_chain_rule(x64):
    # x = xi + t xi^2 / 2 (so x_xi = 1 + t xi); u = x(xi, t)^2 in Eulerian terms: u_xx = 2
    model = pinn.LagrangianPINN(
        state=lambda p: (p[0] + p[1] * p[0] ** 2 / 2) ** 2,
        characteristic=lambda p: p[0] ** 2 / 2,
    )
    p = jnp.array([0.4, 0.3])
    r = pinn.lagrangian_convection_diffusion(model, p, 0.0, 1.0)
    x = 0.4 + 0.3 * 0.16 / 2
    # dx/dt = xi^2/2; du/dt = 2 x xi^2/2; residual 2 = du/dt - 1 * 2
    np.testing.assert_allclose(r, [0.08, 2 * x * 0.08 - 2.0], rtol=1e-10)


def test_inverse_problem_recovers_coefficient():
    # heat equation u_t = k u_xx with the exact field exp(-2 t) sin(x): learn k = 2 from residuals
    import optax

    from dynlearn.train import fit

    exact = lambda p: jnp.exp(-2.0 * p[1]) * jnp.sin(p[0])
    model = pinn.FieldWithCoefficients(exact, {"log_k": 0.0})

    def heat(m, p):
        k = jnp.exp(m.coefficients["log_k"])
        return pinn.partial_derivative(m, p, (0, 1)) - k * pinn.partial_derivative(m, p, (2, 0))

    pts = pinn.uniform_points(256, [0.0, 0.0], [3.0, 1.0], key=jax.random.key(1))
    obs = (pts, jax.vmap(exact)(pts))
    loss = pinn.PINNLoss({"residual": pinn.Residual(heat), "data": pinn.Observations()})
    model, _ = fit(
        model,
        loss,
        {"residual": pts, "data": obs},
        optax.adam(0.05),
        steps=300,
        batch_size=64,
        key=jax.random.key(2),
        progress=False,
    )
    np.testing.assert_allclose(jnp.exp(model.coefficients["log_k"]), 2.0, rtol=1e-3)

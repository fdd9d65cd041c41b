"""Inverse problem: the viscosity of Burgers' equation from data of the ETDRK4 reference."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dynlearn import pinn
from dynlearn.systems import burgers, periodic_grid
from dynlearn.train import fit


def test_burgers_viscosity_identified():
    # smooth regime (nu = 0.05, t <= 0.5) so a small network fits the field in a few seconds;
    # the guess 0.2 is 4x off, and the coefficient gets its own (larger) Adam step
    nu_true = 0.05
    x = periodic_grid(64, 2.0, start=-1.0)
    t, u = burgers(-jnp.sin(jnp.pi * x), dt=1e-3, n_steps=500, viscosity=nu_true, save_every=25)
    grid = pinn.grid_points(t, x)[:, ::-1]  # (x, t) pairs
    k_obs, k_net, k_res, k_fit = jax.random.split(jax.random.key(0), 4)
    idx = jax.random.choice(k_obs, grid.shape[0], (512,), replace=False)

    def residual(m, p):
        v, v_x, v_xx = pinn.directional_derivatives(m, p, jnp.array([1.0, 0.0], p.dtype), 2)
        v_t = pinn.partial_derivative(m, p, (0, 1))
        return v_t + v * v_x - jnp.exp(m.coefficients["log_nu"]) * v_xx

    net = pinn.MLP(
        2,
        "scalar",
        width=32,
        depth=2,
        key=k_net,
        embedding=pinn.PeriodicEmbedding(2, (2.0, None), harmonics=2),
    )
    model = pinn.FieldWithCoefficients(net, {"log_nu": jnp.log(0.2)})
    loss = pinn.PINNLoss(
        {"residual": pinn.Residual(residual), "data": pinn.Observations()},
        weighting=pinn.FixedWeights({"data": 10.0}),
    )
    data = {
        "residual": pinn.uniform_points(512, [-1.0, 0.0], [1.0, 0.5], key=k_res),
        "data": (grid[idx], u.ravel()[idx]),
    }
    opt = pinn.coefficient_optimizer(optax.adam(1e-2), optax.adam(5e-2))
    model, _ = fit(
        model,
        loss,
        data,
        opt,
        steps=1200,
        batch_size=512,
        key=k_fit,
        progress=False,
        steps_per_dispatch=200,
    )
    np.testing.assert_allclose(jnp.exp(model.coefficients["log_nu"]), nu_true, rtol=0.02)


def test_coefficient_optimizer_needs_field_with_coefficients(getkey):
    opt = pinn.coefficient_optimizer(optax.adam(1e-3), optax.adam(1e-2))
    with pytest.raises(TypeError, match="FieldWithCoefficients"):
        opt.init(pinn.MLP(2, "scalar", width=4, depth=1, key=getkey()))


def test_coefficient_optimizer_routes_the_two_parts(getkey):
    # a zero step for the field and a unit SGD step for the coefficients: only they move
    net = pinn.MLP(2, "scalar", width=4, depth=1, key=getkey())
    model = pinn.FieldWithCoefficients(net, {"a": jnp.array(1.0), "b": jnp.array([2.0, 3.0])})
    opt = pinn.coefficient_optimizer(optax.sgd(0.0), optax.sgd(1.0))
    grads = jax.tree_util.tree_map(jnp.ones_like, model)
    updates, _ = opt.update(grads, opt.init(model), model)
    new = optax.apply_updates(model, updates)
    for old, moved in zip(jax.tree_util.tree_leaves(net), jax.tree_util.tree_leaves(new.field)):
        np.testing.assert_array_equal(moved, old)
    np.testing.assert_allclose(new.coefficients["a"], 0.0)
    np.testing.assert_allclose(new.coefficients["b"], [1.0, 2.0])

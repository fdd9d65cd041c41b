"""Hard constraints hold to solver tolerance; the MoE least-squares layer is differentiable."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx

from dynlearn import pinn


def test_output_transform_exact(getkey):
    net = pinn.MLP(2, "scalar", width=8, depth=2, key=getkey())
    field = pinn.HardConstraint(
        net,
        particular=lambda p: jnp.sin(jnp.pi * p[0]),
        distance=lambda p: p[1] * p[0] * (1 - p[0]),
    )
    xs = jnp.linspace(0.0, 1.0, 7)
    ic = jnp.stack([xs, jnp.zeros_like(xs)], axis=-1)
    np.testing.assert_allclose(jax.vmap(field)(ic), jnp.sin(jnp.pi * xs), atol=1e-7)
    edge = jnp.array([[0.0, 0.3], [1.0, 0.8]])
    np.testing.assert_allclose(jax.vmap(field)(edge), jnp.sin(jnp.pi * edge[:, 0]), atol=1e-7)


def _heat_moe(key, n_basis, tol=1e-6):
    # u_t = 0.1 u_xx on [0, 1] x [0, 0.5]; two experts along x; IC sin(pi x); u = 0 at x = 0, 1
    def equations(u, pts):
        interior, initial, boundary = pts

        def heat(p):
            return pinn.partial_derivative(u, p, (0, 1)) - 0.1 * pinn.partial_derivative(
                u, p, (2, 0)
            )

        res = jax.vmap(heat)(interior)
        ic = jax.vmap(u)(initial) - jnp.sin(jnp.pi * initial[:, 0])
        bc = jax.vmap(u)(boundary)
        return jnp.concatenate([res, ic, bc])

    basis = pinn.MLP(2, n_basis, width=16, depth=2, key=key)
    solver = optx.LevenbergMarquardt(rtol=tol, atol=tol)
    layer = pinn.MixtureOfExpertsLSQ(basis, equations, (0.0, 0.5, 1.0), solver=solver)
    k1, k2 = jax.random.split(jax.random.fold_in(key, 1))
    lo = jnp.array([[0.0], [0.5]])
    interior = jnp.concatenate(
        [
            lo[:, None] + 0.5 * jax.random.uniform(k1, (2, 8, 1), jnp.float64),
            0.5 * jax.random.uniform(k2, (2, 8, 1), jnp.float64),
        ],
        axis=-1,
    )
    xi = lo[:, None] + 0.5 * jnp.linspace(0.0, 1.0, 5, dtype=jnp.float64)[None, :, None]
    initial = jnp.concatenate([xi, jnp.zeros_like(xi)], axis=-1)
    tb = jnp.linspace(0.0, 0.5, 3, dtype=jnp.float64)
    boundary = jnp.stack(
        [jnp.stack([jnp.zeros_like(tb), tb], -1), jnp.stack([jnp.ones_like(tb), tb], -1)]
    )
    return layer, (interior, initial, boundary)


def test_moe_constraints_hold(getkey, x64):
    # 16 constraint rows per expert, 24 basis functions: solvable exactly
    layer, pts = _heat_moe(getkey(), 24)
    coeffs = eqx.filter_jit(layer.solve)(pts)
    assert coeffs.shape == (2, 24)
    for k in range(2):
        rows = layer.equations(
            lambda p, k=k: jnp.dot(coeffs[k], layer.basis(p)),
            jax.tree_util.tree_map(lambda a, k=k: a[k], pts),
        )
        assert float(jnp.max(jnp.abs(rows))) < 1e-5
    field = layer.field(coeffs)
    assert int(layer.expert_index(jnp.array([0.7, 0.1]))) == 1
    assert bool(jnp.isfinite(field(jnp.array([0.3, 0.2]))))


def test_moe_implicit_gradient(getkey, x64):
    # 16 rows, 6 basis functions: a unique least-squares minimiser. The implicit-function-theorem
    # gradient through Levenberg-Marquardt equals differentiating a direct lstsq solve.
    layer, pts = _heat_moe(getkey(), 6, tol=1e-13)
    test_pts = jnp.array([[0.25, 0.3], [0.8, 0.2], [0.6, 0.45]])

    def direct(basis):
        def one(p):
            rows = lambda c: layer.equations(lambda x: jnp.dot(c, basis(x)), p)
            zero = jnp.zeros(6, jnp.float64)
            return jnp.linalg.lstsq(jax.jacfwd(rows)(zero), -rows(zero))[0]

        return jax.vmap(one)(pts)

    def loss(basis, use_solver):
        lay = eqx.tree_at(lambda l: l.basis, layer, basis)
        c = lay.solve(pts) if use_solver else direct(basis)
        return jnp.sum(jax.vmap(lay.field(c))(test_pts) ** 2)

    params, static = eqx.partition(layer.basis, eqx.is_inexact_array)
    grads = [
        jax.jit(jax.grad(lambda p, u=u: loss(eqx.combine(p, static), u)))(params)
        for u in (True, False)
    ]
    for a, b in zip(*(jax.tree_util.tree_leaves(g) for g in grads)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)

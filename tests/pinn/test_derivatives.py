"""Derivative operators are exact on polynomials and trigonometric functions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn import pinn


def poly(p):
    x, y = p[0], p[1]
    return x**3 * y**2 + 2 * x * y - y**4 + 0.5 * x**5


def trig(p):
    return jnp.sin(2 * p[0]) * jnp.cos(3 * p[1])


POINTS = np.array([[0.3, -0.7], [1.1, 0.4], [-0.5, 2.0]])


@pytest.mark.parametrize("mode", ["taylor", "forward"])
def test_partials_exact(mode, x64):
    x = jnp.asarray(POINTS)
    X, Y = x[:, 0], x[:, 1]
    cases = {
        (1, 0): 3 * X**2 * Y**2 + 2 * Y + 2.5 * X**4,
        (0, 2): 2 * X**3 - 12 * Y**2,
        (3, 0): 6 * Y**2 + 30 * X**2,
        (0, 4): -24 * jnp.ones_like(X),
        (2, 1): 12 * X * Y,
        (3, 2): jnp.full_like(X, 12.0),
        (5, 0): jnp.full_like(X, 60.0),
        (0, 0): poly(x.T),
    }
    for orders, expected in cases.items():
        got = jax.jit(lambda x, o=orders: pinn.partial_derivative(poly, x, o, mode=mode))(x)
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10, err_msg=str(orders))
    # trigonometric: d^4/dx^4 sin(2x) cos(3y) = 16 sin(2x) cos(3y); mixed (1, 1)
    np.testing.assert_allclose(
        pinn.partial_derivative(trig, x, (4, 0), mode=mode), 16 * trig(x.T), rtol=1e-10
    )
    np.testing.assert_allclose(
        pinn.partial_derivative(trig, x, (1, 1), mode=mode),
        -6 * jnp.cos(2 * X) * jnp.sin(3 * Y),
        rtol=1e-10,
    )


def test_gradient_divergence_laplacian(x64):
    x = jnp.asarray(POINTS)
    X, Y = x[:, 0], x[:, 1]
    g = pinn.gradient(trig, x)
    assert g.shape == (3, 2)
    np.testing.assert_allclose(g[:, 0], 2 * jnp.cos(2 * X) * jnp.cos(3 * Y), rtol=1e-12)
    np.testing.assert_allclose(g[:, 1], -3 * jnp.sin(2 * X) * jnp.sin(3 * Y), rtol=1e-12)
    np.testing.assert_allclose(pinn.gradient(trig, x, coordinates=[1])[:, 0], g[:, 1])

    def vec(p):
        return jnp.stack([p[0] ** 2 * p[1], jnp.sin(p[1])])

    np.testing.assert_allclose(pinn.divergence(vec, x), 2 * X * Y + jnp.cos(Y), rtol=1e-12)
    for mode in ("taylor", "forward"):
        np.testing.assert_allclose(pinn.laplacian(trig, x, mode=mode), -13 * trig(x.T), rtol=1e-10)
        np.testing.assert_allclose(
            pinn.laplacian(poly, x, coordinates=[0], mode=mode),
            6 * X * Y**2 + 10 * X**3,
            rtol=1e-10,
        )
    # one point works as well as a batch
    np.testing.assert_allclose(pinn.laplacian(trig, x[0]), -13 * trig(x[0]), rtol=1e-10)


def test_directional_derivatives(x64):
    p = jnp.array([0.2, 0.9])
    v = jnp.array([0.6, -0.8])
    for mode in ("taylor", "forward"):
        d = jax.jit(lambda p, m=mode: pinn.directional_derivatives(trig, p, v, 3, mode=m))(p)
        along = lambda s: trig(p + s * v)
        ref = [
            along(0.0),
            jax.grad(along)(0.0),
            jax.grad(jax.grad(along))(0.0),
            jax.grad(jax.grad(jax.grad(along)))(0.0),
        ]
        np.testing.assert_allclose(d, jnp.stack(ref), rtol=1e-10, atol=1e-12)
        # order 0 is the value alone, in either mode
        d0 = pinn.directional_derivatives(trig, p, v, 0, mode=mode)
        np.testing.assert_allclose(d0, trig(p)[None], rtol=1e-12)
    with pytest.raises(ValueError, match="non-negative int"):
        pinn.directional_derivatives(trig, p, v, -1)
    with pytest.raises(ValueError, match="direction has shape"):
        pinn.directional_derivatives(trig, p, jnp.ones(3), 2)


def test_bad_points(getkey):
    field = pinn.MLP(2, "scalar", width=8, depth=2, key=getkey())
    with pytest.raises(ValueError, match="dimension 3"):
        pinn.laplacian(field, jnp.ones((5, 3)))
    with pytest.raises(ValueError, match=r"shape \(d,\) or \(n, d\)"):
        pinn.gradient(field, jnp.ones((2, 5, 2)))
    with pytest.raises(ValueError, match="non-finite"):
        pinn.partial_derivative(field, jnp.array([[0.0, jnp.nan]]), (1, 0))
    with pytest.raises(ValueError, match="one non-negative order per coordinate"):
        pinn.partial_derivative(field, jnp.ones((4, 2)), (1, 0, 0))

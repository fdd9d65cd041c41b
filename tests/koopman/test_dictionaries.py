import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynlearn.koopman as dk


def test_monomials_count_and_values():
    x = jnp.array([2.0, 3.0])
    psi = dk.Monomials(3)(x)
    assert psi.shape == (math.comb(2 + 3, 3),)
    exps = dk.multi_indices(2, 3)
    np.testing.assert_allclose(psi, [2.0**a * 3.0**b for a, b in exps])
    assert dk.Monomials(2, include_constant=False)(x).shape == (5,)


def test_hermite_orthogonal_under_gaussian(x64):
    nodes, weights = np.polynomial.hermite_e.hermegauss(20)
    weights = weights / weights.sum()
    psi = dk.Hermite(5).evaluate(jnp.asarray(nodes)[:, None])
    gram = psi.T @ (psi * jnp.asarray(weights)[:, None])
    np.testing.assert_allclose(gram, np.diag([math.factorial(k) for k in range(6)]), atol=1e-9)


def test_legendre_orthogonal_on_interval(x64):
    nodes, weights = np.polynomial.legendre.leggauss(20)
    psi = dk.Legendre(4, low=0.0, high=2.0).evaluate(jnp.asarray(nodes + 1.0)[:, None])
    gram = psi.T @ (psi * jnp.asarray(weights)[:, None])
    np.testing.assert_allclose(gram, np.diag([2 / (2 * k + 1) for k in range(5)]), atol=1e-12)


def test_fourier_features_two_dimensional():
    psi = dk.Fourier(2)(jnp.array([0.3, -1.1]))
    assert psi.shape == (1 + 2 * 12,)  # (5^2 - 1) / 2 = 12 half-space wave vectors
    assert float(psi[0]) == 1.0


def test_rbfs():
    centers = jnp.array([[0.0, 0.0], [1.0, 0.0]])
    x = jnp.array([0.0, 0.0])
    np.testing.assert_allclose(dk.GaussianRBF(centers, 0.5)(x), [1.0, math.exp(-2.0)], rtol=1e-6)
    tps = dk.ThinPlateRBF(centers)
    np.testing.assert_allclose(
        tps(jnp.array([0.0, 2.0])), [4 * math.log(2.0), 5 * 0.5 * math.log(5.0)], rtol=1e-6
    )
    grad = jax.grad(lambda y: tps(y).sum())(x)  # r^2 log r at a centre: value 0, finite gradient
    assert np.all(np.isfinite(grad))


def test_random_fourier_features_approximate_gaussian_kernel(getkey):
    rff = dk.RandomFourierFeatures(2, 20000, lengthscale=0.7, key=getkey())
    x, y = jnp.array([0.1, 0.2]), jnp.array([0.5, -0.3])
    exact = math.exp(-float(jnp.sum((x - y) ** 2)) / (2 * 0.49))
    assert abs(float(rff(x) @ rff(y)) - exact) < 0.03


def test_delay_embedding_and_time_delays():
    traj = jnp.arange(12.0).reshape(6, 2)
    rows = dk.delay_embed(traj, 2)
    assert rows.shape == (4, 6)
    np.testing.assert_array_equal(rows[0], [4.0, 5.0, 2.0, 3.0, 0.0, 1.0])
    psi = dk.TimeDelays(2, dk.Monomials(2))(rows[0])
    assert psi.shape == (3 * 6,)
    with pytest.raises(ValueError, match="multiple of num_delays"):
        dk.TimeDelays(2)(jnp.ones(5))


def test_learned_and_concatenation(getkey):
    mlp = eqx.nn.MLP(2, 3, 8, 1, key=getkey())
    learned = dk.Learned(mlp)
    assert learned(jnp.ones(2)).shape == (1 + 2 + 3,)
    both = dk.Concatenation((dk.Identity(), dk.Fourier(1)))
    assert both(jnp.ones(2)).shape == (2 + 1 + 2 * 4,)


def test_dictionary_bad_input():
    # A batch passed where one state is expected: the shape annotation (under the test-time
    # type checker) or our own check (without it) rejects it.
    with pytest.raises((ValueError, TypeError)):
        dk.Monomials(2)(jnp.ones((3, 2)))
    with pytest.raises(ValueError, match="degree"):
        dk.Monomials(0)
    with pytest.raises((ValueError, TypeError)):
        dk.GaussianRBF(jnp.ones(3), 1.0)


def test_tensor_product():
    d = dk.TensorProduct((dk.Fourier(1), dk.Hermite(2)), ((0,), (1,)))
    x = jnp.array([0.4, 1.5])
    expected = np.outer(dk.Fourier(1)(x[:1]), dk.Hermite(2)(x[1:])).reshape(-1)
    np.testing.assert_allclose(d(x), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="one coordinate tuple"):
        dk.TensorProduct((dk.Fourier(1),), ())

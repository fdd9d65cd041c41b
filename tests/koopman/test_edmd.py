import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
import pytest

import dynlearn.koopman as dk

RATES = (0.9, 0.5)


def assert_same_spectrum(a, b, atol):
    """Same multiset of complex numbers up to atol (order-free nearest-neighbour matching)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    distance = np.abs(a[:, None] - b[None, :])
    assert distance.min(axis=1).max() <= atol and distance.min(axis=0).max() <= atol, (a, b)


def _linear_data(n=400, seed=0):
    X = jax.random.uniform(jax.random.key(seed), (n, 2), minval=-1.0, maxval=1.0)
    return X, X * jnp.asarray(RATES, X.dtype)[None, :]


def _products(degree):
    return np.sort([RATES[0] ** i * RATES[1] ** j for i, j in dk.multi_indices(2, degree)])


def test_edmd_linear_map_monomials_exact(x64):
    X, Y = _linear_data()
    dec = dk.edmd(dk.Monomials(3), X, Y)
    assert dec.eigenvalues.dtype == jnp.complex128
    np.testing.assert_allclose(np.sort(dec.eigenvalues.real), _products(3), atol=1e-12)
    np.testing.assert_allclose(dec.eigenvalues.imag, 0.0, atol=1e-12)
    # Eigenfunctions are monomials: phi(Y) = lambda phi(X) on the data.
    phi_x = jax.vmap(dec.eigenfunctions)(X)
    phi_y = jax.vmap(dec.eigenfunctions)(Y)
    np.testing.assert_allclose(phi_y, phi_x * dec.eigenvalues[None, :], atol=1e-10)
    # Prediction through the Koopman mode decomposition is the exact linear map.
    pred = dec.predict(X[3], 5)
    exact = X[3][None, :] * jnp.asarray(RATES)[None, :] ** jnp.arange(6.0)[:, None]
    np.testing.assert_allclose(pred, exact, atol=1e-10)
    np.testing.assert_allclose(dec.step(X[3]), Y[3], atol=1e-12)


def test_edmd_weights_and_orthogonal_dictionaries_agree(x64):
    X, Y = _linear_data()
    w = jax.random.uniform(
        jax.random.key(3), (X.shape[0],), minval=0.5, maxval=1.5, dtype=jnp.float64
    )
    for dictionary in (dk.Hermite(3), dk.Legendre(3)):
        dec = dk.edmd(dictionary, X, Y, w / w.sum())
        np.testing.assert_allclose(np.sort(dec.eigenvalues.real), _products(3), atol=1e-11)


def test_rotation_fourier_unit_modulus(x64):
    theta = jnp.linspace(0.0, 2 * np.pi, 128, endpoint=False)[:, None]
    omega = 2 * np.pi * 0.1234
    dec = dk.edmd(dk.Fourier(5), theta, jnp.mod(theta + omega, 2 * np.pi))
    np.testing.assert_allclose(jnp.abs(dec.eigenvalues), 1.0, atol=1e-12)
    angles = np.sort(np.abs(np.angle(np.asarray(dec.eigenvalues))))
    expected = np.sort([abs(np.angle(np.exp(1j * k * omega))) for k in range(-5, 6)])
    np.testing.assert_allclose(angles, expected, atol=1e-10)


def test_dmd_matches_svd_reference(x64):
    rng = np.random.default_rng(0)
    A = rng.normal(size=(6, 6)) / 3
    X = rng.normal(size=(50, 6))
    Y = X @ A.T + 1e-3 * rng.normal(size=(50, 6))
    dec = dk.dmd(jnp.asarray(X), jnp.asarray(Y), rank=4)
    u, s, vh = np.linalg.svd(X.T, full_matrices=False)
    u, s, v = u[:, :4], s[:4], vh[:4].conj().T
    atilde = u.T @ Y.T @ v / s
    lam, w = np.linalg.eig(atilde)
    assert_same_spectrum(dec.eigenvalues, lam, 1e-12)
    phi = Y.T @ v / s @ w  # exact modes, compared up to the eigenvector's free scale
    for j, value in enumerate(lam):
        k = int(np.argmin(np.abs(np.asarray(dec.eigenvalues) - value)))
        mode = np.asarray(dec.modes[k])
        scale = (mode.conj() @ phi[:, j]) / (mode.conj() @ mode)
        np.testing.assert_allclose(mode * scale, phi[:, j], atol=1e-10)
    # Full-rank DMD on exact linear data recovers A's spectrum.
    full = dk.dmd(jnp.asarray(X), jnp.asarray(X @ A.T))
    assert_same_spectrum(full.eigenvalues, np.linalg.eigvals(A), 1e-10)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_dmd_matches_pydmd(x64):
    from pydmd import DMD

    t = np.linspace(0, 4 * np.pi, 80)
    space = np.linspace(-2, 2, 30)
    f, g = 1 / np.cosh(space), np.tanh(space) / np.cosh(space)
    snapshots = sum(
        np.outer(np.cos(w * t), a) + np.outer(np.sin(w * t), b)
        for w, a, b in ((2.3, f, g), (1.1, f**2, g * space))
    )
    ref = DMD(svd_rank=4).fit(snapshots.T)
    dec = dk.dmd(jnp.asarray(snapshots[:-1]), jnp.asarray(snapshots[1:]), rank=4)
    assert_same_spectrum(dec.eigenvalues, ref.eigs, 1e-10)


def test_kernel_edmd_polynomial_matches_monomials(x64):
    X = jax.random.uniform(jax.random.key(1), (300, 2), minval=-1.0, maxval=1.0, dtype=jnp.float64)
    Y = jnp.stack(
        [0.9 * X[:, 0] + 0.2 * X[:, 1] ** 2, 0.5 * X[:, 1] - 0.1 * X[:, 0] * X[:, 1]], axis=1
    )
    reference = dk.edmd(dk.Monomials(3), X, Y)
    kernel = dk.kernel_edmd(dk.PolynomialKernel(3), X, Y, rank=10)
    assert_same_spectrum(kernel.eigenvalues, reference.eigenvalues, 1e-9)
    # Both decompositions predict the same state.
    np.testing.assert_allclose(kernel.step(X[0]), reference.step(X[0]), atol=1e-8)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_kernel_edmd_rbf_matches_pydmd(x64):
    from pydmd import EDMD

    t = np.arange(121) * 0.1
    traj = np.stack([np.cos(t) * np.exp(-0.05 * t), np.sin(t) * np.exp(-0.05 * t)], axis=1)
    lengthscale = 0.8
    ref = EDMD(
        svd_rank=12, kernel_metric="rbf", kernel_params={"gamma": 1 / (2 * lengthscale**2)}
    ).fit(traj.T)
    dec = dk.kernel_edmd(
        dk.GaussianKernel(lengthscale), jnp.asarray(traj[:-1]), jnp.asarray(traj[1:]), rank=12
    )
    assert_same_spectrum(dec.eigenvalues, ref.eigs, 1e-8)


def test_generator_edmd_linear_ode(x64):
    rates = jnp.asarray([-0.1, -0.7])
    X = jax.random.uniform(jax.random.key(2), (300, 2), minval=-1.0, maxval=1.0, dtype=jnp.float64)
    dec = dk.generator_edmd(dk.Monomials(3), X, X * rates[None, :])
    expected = np.sort([-0.1 * i - 0.7 * j for i, j in dk.multi_indices(2, 3)])
    np.testing.assert_allclose(np.sort(dec.eigenvalues.real), expected, atol=1e-12)
    times = jnp.linspace(0.0, 3.0, 7)
    np.testing.assert_allclose(
        dec.predict(X[0], times),
        X[0][None, :] * jnp.exp(times[:, None] * rates[None, :]),
        atol=1e-10,
    )
    with pytest.raises(ValueError, match="no time step"):
        dec.step(X[0])


def test_edmd_is_differentiable(x64, getkey):
    X, _ = _linear_data()

    def top_eigenvalue(a):
        Y = X * jnp.stack([a, jnp.asarray(0.5)])[None, :]
        return jnp.real(dk.edmd(dk.Identity(), X, Y).eigenvalues[0])

    np.testing.assert_allclose(jax.grad(top_eigenvalue)(jnp.asarray(0.9)), 1.0, atol=1e-10)

    dictionary = dk.Learned(eqx.nn.MLP(2, 4, 8, 1, key=getkey()))
    Y = jnp.stack([0.9 * X[:, 0], 0.5 * X[:, 1] + X[:, 0] ** 2], axis=1)

    def loss(d):
        K = dk.edmd_operator(d, X, Y)
        return jnp.mean((d.evaluate(X) @ K - d.evaluate(Y)) ** 2)

    grads = eqx.filter_grad(loss)(dictionary)
    leaves = jax.tree_util.tree_leaves(eqx.filter(grads, eqx.is_inexact_array))
    assert all(np.all(np.isfinite(g)) for g in leaves)
    assert any(np.any(g != 0) for g in leaves)


def test_snapshot_pairs():
    traj = jnp.arange(24.0).reshape(2, 6, 2)
    X, Y = dk.snapshot_pairs(traj)
    assert X.shape == Y.shape == (10, 2)
    np.testing.assert_array_equal(Y[4], traj[0, 5])


def test_bad_input():
    X = jnp.ones((20, 2))
    with pytest.raises(ValueError, match="same shape"):
        dk.edmd(dk.Monomials(2), X, jnp.ones((19, 2)))
    with pytest.raises(ValueError, match="same shape"):
        dk.dmd(X, jnp.ones((20, 3)))
    with pytest.raises(ValueError, match="weights must have shape"):
        dk.edmd(dk.Monomials(2), X, X, jnp.ones(3))
    with pytest.raises(ValueError, match="5 snapshots cannot determine 10 dictionary features"):
        dk.edmd(dk.Monomials(3), X[:5], X[:5])
    with pytest.raises(ValueError, match="rank"):
        dk.kernel_edmd(dk.GaussianKernel(), X, X, rank=21)


def test_too_few_snapshots_svd_is_minimum_norm_least_squares(x64):
    # Documented behaviour: with lineax.SVD() the under-determined fit is the min-norm solution.
    X = jax.random.normal(jax.random.key(4), (6, 2), dtype=jnp.float64)
    Y = 0.5 * X
    dictionary = dk.Monomials(3)
    K = dk.edmd_operator(dictionary, X, Y, solver=lx.SVD())
    psi_x, psi_y = dictionary.evaluate(X), dictionary.evaluate(Y)
    np.testing.assert_allclose(K, np.linalg.pinv(np.asarray(psi_x)) @ np.asarray(psi_y), atol=1e-10)

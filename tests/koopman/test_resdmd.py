import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynlearn.koopman as dk


def _standard_map_grid(n=30, strength=0.6):
    """Chirikov's standard map on a uniform grid of the torus: measure preserving, so its Koopman
    operator is unitary and the grid's equal weights are an accurate quadrature."""
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
    t, p = np.meshgrid(theta, theta, indexing="ij")
    t, p = t.ravel(), p.ravel()
    p_new = np.mod(p + strength * np.sin(t), 2 * np.pi)
    t_new = np.mod(t + p_new, 2 * np.pi)
    return jnp.asarray(np.stack([t, p], 1)), jnp.asarray(np.stack([t_new, p_new], 1))


def test_linear_map_residuals_vanish(x64):
    X = jax.random.uniform(jax.random.key(0), (400, 2), minval=-1.0, maxval=1.0, dtype=jnp.float64)
    Y = X * jnp.asarray([0.9, 0.5])[None, :]
    dec = dk.resdmd(dk.Monomials(3), X, Y).decomposition()
    expected = np.sort([0.9**i * 0.5**j for i, j in dk.multi_indices(2, 3)])
    np.testing.assert_allclose(np.sort(dec.eigenvalues.real), expected, atol=1e-12)
    assert float(jnp.max(dec.residuals)) <= 1e-7
    # Eigenfunctions and modes of the QR form reproduce the map.
    np.testing.assert_allclose(dec.step(X[5]), Y[5], atol=1e-10)


def test_resdmd_requires_float64():
    assert not jax.config.jax_enable_x64
    X = jnp.ones((10, 2))
    with pytest.raises(
        RuntimeError, match=r'float64.*jax\.config\.update\("jax_enable_x64", True\)'
    ):
        dk.resdmd(dk.Monomials(1), X, X)


def test_residuals_match_direct_formula_and_candidates(x64):
    X, Y = _standard_map_grid()
    dictionary = dk.Fourier(3)
    verified = dk.resdmd(dictionary, X, Y)
    dec = verified.decomposition()
    # Direct (unsquared) residual |Psi_Y c - lambda Psi_X c| / |Psi_X c| on the data, in numpy.
    psi_x = np.asarray(dictionary.evaluate(X))
    psi_y = np.asarray(dictionary.evaluate(Y))
    c = np.asarray(dec.eigenvectors)
    lam = np.asarray(dec.eigenvalues)
    direct = np.linalg.norm(psi_y @ c - lam * (psi_x @ c), axis=0) / np.linalg.norm(
        psi_x @ c, axis=0
    )
    np.testing.assert_allclose(dec.residuals, direct, rtol=1e-8, atol=1e-12)
    # EDMD (lineax least-squares route) gives the same eigenpairs up to conditioning.
    plain = dk.edmd(dictionary, X, Y)
    candidate = verified.residuals(plain.eigenvalues, plain.eigenvectors)
    np.testing.assert_allclose(np.sort(candidate), np.sort(dec.residuals), atol=1e-7)
    with pytest.raises(ValueError, match="coefficients"):
        verified.residuals(plain.eigenvalues, plain.eigenvectors[:3])


def test_spurious_eigenvalues_removed_for_unitary_koopman_operator(x64):
    # The Koopman operator of a measure-preserving map is unitary, so its spectrum lies on the
    # unit circle and res(lambda, g) >= dist(lambda, spectrum) >= 1 - |lambda|.
    X, Y = _standard_map_grid()
    dec = dk.resdmd(dk.Fourier(3), X, Y).decomposition()
    moduli = np.abs(np.asarray(dec.eigenvalues))
    residuals = np.asarray(dec.residuals)
    assert np.all(residuals >= 1 - moduli - 1e-8)
    assert moduli.min() < 0.5  # EDMD does produce eigenvalues deep inside the disc ...
    kept = dec.filter(0.05)
    assert 1 <= kept.eigenvalues.shape[0] < dec.eigenvalues.shape[0]
    assert np.all(np.abs(np.asarray(kept.eigenvalues)) > 0.95)  # ... which ResDMD removes
    np.testing.assert_allclose(kept.eigenvalues[0], 1.0, atol=1e-10)  # constant eigenfunction
    with pytest.raises(ValueError, match="no residuals"):
        dk.edmd(dk.Fourier(1), X, Y).filter(0.1)


def test_pseudospectrum_rotation_is_distance_to_spectrum(x64):
    theta = jnp.linspace(0.0, 2 * np.pi, 64, endpoint=False)[:, None]
    omega = 1.0
    verified = dk.resdmd(dk.Fourier(4), theta, jnp.mod(theta + omega, 2 * np.pi))
    spectrum = np.exp(1j * omega * np.arange(-4, 5))
    grid = np.linspace(-1.5, 1.5, 7)[None, :] + 1j * np.linspace(-1.2, 1.2, 5)[:, None]
    values = verified.pseudospectrum(jnp.asarray(grid))
    assert values.shape == grid.shape
    expected = np.min(np.abs(grid[..., None] - spectrum), axis=-1)
    np.testing.assert_allclose(values, expected, atol=1e-10)
    # Batches that do not divide the 35 points (padded internally) give the same values.
    batched = verified.pseudospectrum(jnp.asarray(grid), batch_size=8)
    np.testing.assert_allclose(batched, expected, atol=1e-10)


def test_pseudospectrum_bounded_by_residuals(x64):
    X, Y = _standard_map_grid()
    verified = dk.resdmd(dk.Fourier(3), X, Y)
    dec = verified.decomposition()
    values = verified.pseudospectrum(dec.eigenvalues, batch_size=4)
    assert np.all(np.asarray(values) <= np.asarray(dec.residuals) + 1e-12)


def test_kernel_dictionary_verified_on_fresh_data(x64):
    # Kernel EDMD picks a dictionary on one data set; ResDMD verifies its eigenpairs on another.
    X, Y = _standard_map_grid(n=20)
    fit = dk.kernel_edmd(dk.GaussianKernel(1.0), X, Y, rank=20)
    Xn, Yn = _standard_map_grid(n=30)
    residuals = dk.resdmd(fit.dictionary, Xn, Yn).residuals(fit.eigenvalues, fit.eigenvectors)
    assert residuals.shape == (20,)
    assert np.all(np.asarray(residuals) >= 1 - np.abs(np.asarray(fit.eigenvalues)) - 1e-8)

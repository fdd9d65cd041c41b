"""Bad input to dynlearn.koopman: the error type and a message naming the argument (and value).

Fits check their data eagerly, before the compiled fit: NaN or inf snapshots, complex data
(whose imaginary part would be dropped), negative quadrature weights and dictionaries that do not
fit the state are refused with the argument named."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn import koopman as dk

KEY = jax.random.key(0)
TRAJ = jax.random.normal(KEY, (40, 2))
X, Y = dk.snapshot_pairs(TRAJ)
D = dk.Monomials(2)


@pytest.mark.parametrize("fit", ["edmd", "edmd_operator", "generator_edmd"])
@pytest.mark.parametrize(
    "args, error, message",
    [
        ((X.at[3, 0].set(jnp.nan), Y), ValueError, "X contains 1 NaN or inf value(s) (first at"),
        ((X, Y.at[3, 1].set(jnp.inf)), ValueError, "contains 1 NaN or inf value(s)"),
        ((X.astype(jnp.complex64), Y), TypeError, "X must be real floating point"),
        ((X[:, 0], Y[:, 0]), ValueError, "X must be a snapshot matrix"),
        ((X, Y[:-1]), ValueError, "must have the same shape"),
        ((X[:0], Y[:0]), ValueError, "samples >= 1"),
        ((X, Y, -jnp.ones(X.shape[0])), ValueError, "weights[0]=-1.0"),
        ((X, Y, jnp.ones(X.shape[0]).at[2].set(jnp.nan)), ValueError, "weights[2]=nan"),
    ],
)
def test_fit_data_is_checked_eagerly(fit, args, error, message):
    with pytest.raises(error) as info:
        getattr(dk, fit)(D, *args)
    assert message in str(info.value) and fit in str(info.value)


def test_fit_arguments_are_named():
    with pytest.raises(TypeError, match="dictionary must be a dynlearn.koopman.AbstractDictionary"):
        dk.edmd(None, X, Y)
    product = dk.TensorProduct((dk.Legendre(2), dk.Legendre(2)), ((0,), (1,)))
    with pytest.raises(ValueError, match=r"cannot be evaluated on states of X \(shape \(30, 1\)"):
        dk.edmd(product, jnp.ones((30, 1)), jnp.ones((30, 1)))
    with pytest.raises(TypeError, match="solver must be a lineax linear solver"):
        dk.edmd(D, X, Y, solver="qr")
    with pytest.raises(ValueError, match=r"rank must be a positive int, got rank=0"):
        dk.dmd(X, Y, rank=0)
    with pytest.raises(TypeError, match="rank must be an int, got rank=1.5"):
        dk.dmd(X, Y, rank=1.5)
    with pytest.raises(ValueError, match="X contains 1 NaN"):
        dk.dmd(X.at[0, 0].set(jnp.nan), Y)
    with pytest.raises(TypeError, match="kernel must be a dynlearn.koopman.AbstractKernel"):
        dk.kernel_edmd(None, X, Y)
    with pytest.raises(ValueError, match=r"rank must be in \[1, 39\], got rank=1000"):
        dk.kernel_edmd(dk.GaussianKernel(), X, Y, rank=1000)
    with pytest.raises(ValueError, match="trajectories contains 1 NaN"):
        dk.snapshot_pairs(TRAJ.at[0, 0].set(jnp.nan))
    with pytest.raises(TypeError, match="trajectories must be real floating point"):
        # (under the test suite's jaxtyping hook the annotation refuses it first)
        getattr(dk.snapshot_pairs, "__wrapped__", dk.snapshot_pairs)(TRAJ.astype(jnp.complex64))


def test_valid_fits_are_unchanged_by_the_checks():
    # a linear map x -> A x: EDMD with the identity dictionary recovers A's eigenvalues exactly
    A = jnp.array([[0.9, 0.2], [0.0, 0.5]])
    xs = jax.random.normal(KEY, (30, 2))
    decomposition = dk.edmd(dk.Identity(), xs, xs @ A.T)
    np.testing.assert_allclose(
        np.sort(np.abs(np.asarray(decomposition.eigenvalues))), [0.5, 0.9], rtol=1e-4
    )
    # and the same inside jit (the eager checks pass traced data through)
    jitted = jax.jit(lambda a, b: dk.edmd_operator(dk.Identity(), a, b))(xs, xs @ A.T)
    np.testing.assert_allclose(jitted, A.T, rtol=1e-4, atol=1e-5)


def test_decomposition_methods_name_their_arguments():
    decomposition = dk.edmd(D, X, Y)
    with pytest.raises(ValueError, match=r"x0 must be one state of shape \(2,\).*got shape \(3,\)"):
        decomposition.predict(jnp.ones(3), 4)
    with pytest.raises(ValueError, match="n_steps=-1"):
        decomposition.predict(jnp.ones(2), -1)
    with pytest.raises(ValueError, match=r"x must be one state of shape \(2,\)"):
        decomposition.step(jnp.ones(3))
    with pytest.raises(ValueError, match="keep holds indices out of range for 6 eigenpairs"):
        decomposition.select(jnp.array([100]))


def test_models_name_their_arguments():
    ae = dk.KoopmanAutoencoder(2, 4, 8, 1, key=KEY)
    with pytest.raises(ValueError, match=r"x0 must have shape \(2,\), got shape \(3,\)"):
        ae.predict(jnp.ones(3), 4)
    with pytest.raises(ValueError, match="n_steps must be a non-negative int, got n_steps=-1"):
        ae.predict(jnp.ones(2), -1)
    with pytest.raises(ValueError, match=r"batch must have shape \(batch, time >= 2, 2\)"):
        dk.koopman_autoencoder_loss(ae, jnp.ones((2, 5, 3)))
    with pytest.raises(ValueError, match="batch contains 1 NaN"):
        dk.koopman_autoencoder_loss(ae, jnp.ones((2, 5, 2)).at[0, 0, 0].set(jnp.nan))
    with pytest.raises(ValueError, match="operator does not map a latent of size 4"):
        dk.KoopmanAutoencoder(2, 4, operator=dk.DenseOperator(3, key=KEY), key=KEY)
    with pytest.raises(ValueError, match=r"KoopmanVAE: operator does not map a latent of size 4"):
        dk.KoopmanVAE(2, 4, operator=dk.StableOperator(6, key=KEY), key=KEY)
    # (a non-operator is refused first by the run-time type checker that the tests enable; the
    # library's own check is what users without one get)
    from dynlearn.koopman._latent import check_latent_operator

    with pytest.raises(TypeError, match="KoopmanVAE: operator must be an AbstractLatentOperator"):
        check_latent_operator("KoopmanVAE", jnp.eye(4), 4)
    vae = dk.KoopmanVAE(2, 4, 8, 8, 1, key=KEY)
    ts = jnp.linspace(0.0, 1.0, 6)
    xs = jax.random.normal(KEY, (6, 2))
    with pytest.raises(ValueError, match="ts must be finite and strictly increasing"):
        vae.reconstruct(xs, ts[::-1])
    with pytest.raises(ValueError, match="xs contains 1 NaN"):
        vae.reconstruct(xs.at[0, 0].set(jnp.nan), ts)
    with pytest.raises(ValueError, match="future_ts"):
        vae.forecast(xs, ts, jnp.array([0.5, 0.6]))  # before the last observation
    with pytest.raises(ValueError, match="observation_scale=0.0"):
        dk.kvae_loss(vae, xs[None], key=KEY, observation_scale=0.0)
    with pytest.raises(ValueError, match="batch must be a dict|batch must have shape"):
        dk.kvae_loss(vae, xs, key=KEY)
    with pytest.raises(ValueError, match="values contains 1 NaN"):
        dk.autocorrelations(jnp.ones(10).at[3].set(jnp.nan), 2)
    with pytest.raises(TypeError, match="filter_fn must be callable"):
        dk.spectral_measure(jnp.ones(4), jnp.linspace(-3.0, 3.0, 5), filter_fn=3)

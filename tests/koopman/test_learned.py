import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import dynlearn.koopman as dk
from dynlearn.train import fit


@pytest.mark.parametrize("latent_size", [4, 5])
def test_block_operators_constraints_and_powers(latent_size, getkey):
    stable = dk.StableOperator(latent_size, max_radius=0.9, init_radius=0.5, key=getkey())
    unitary = dk.UnitaryOperator(latent_size, key=getkey())
    for op, bound in ((stable, 0.9), (unitary, 1.0)):
        k = op.matrix()
        assert k.shape == (latent_size, latent_size)
        lam = np.asarray(op.eigenvalues())
        ref = np.linalg.eigvals(np.asarray(k, np.float64))
        d = np.abs(lam[:, None] - ref[None, :])
        assert d.min(axis=1).max() < 1e-5
        assert np.all(np.abs(lam) <= bound + 1e-6)
        np.testing.assert_allclose(op.power(jnp.asarray(2.0)), k @ k, atol=1e-5)
        half = op.power(jnp.asarray(0.5))
        np.testing.assert_allclose(half @ half, k, atol=1e-5)
    np.testing.assert_allclose(
        unitary.matrix() @ unitary.matrix().T, np.eye(latent_size), atol=1e-6
    )
    with pytest.raises(NotImplementedError, match="fractional power"):
        dk.DenseOperator(3, key=getkey()).power(jnp.asarray(0.5))


def _linear_trajectories(key, batch=64, length=8):
    angle = 0.3
    rot = 0.95 * jnp.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    x0 = jax.random.normal(key, (batch, 2))

    def roll(x):
        def step(x, _):
            x = rot @ x
            return x, x

        _, xs = jax.lax.scan(step, x, None, length=length - 1)
        return jnp.concatenate([x[None], xs])

    return jax.jit(jax.vmap(roll))(x0)


def test_koopman_autoencoder_trains(getkey):
    data = _linear_trajectories(getkey())
    model = dk.KoopmanAutoencoder(
        2, 4, 16, 1, operator=dk.StableOperator(4, key=getkey()), key=getkey()
    )
    assert model.predict(data[0, 0], 5).shape == (6, 2)
    assert model(data[0, 0]).shape == (2,)
    loss_jit = eqx.filter_jit(dk.koopman_autoencoder_loss)  # compiled once, used twice
    loss, aux = loss_jit(model, data)
    assert set(aux) == {"reconstruction", "prediction", "linearity"}
    trained, history = fit(
        model,
        dk.koopman_autoencoder_loss,
        data,
        optax.adam(3e-3),
        steps=150,
        batch_size=16,
        key=getkey(),
        steps_per_dispatch=75,
        progress=False,
    )
    final, _ = loss_jit(trained, data)
    assert float(final) < 0.2 * float(loss)
    assert np.all(np.abs(np.asarray(trained.operator.eigenvalues())) < 1.0)
    with pytest.raises((ValueError, TypeError)):  # annotation check or our own ValueError
        dk.koopman_autoencoder_loss(model, data[0])


def test_koopman_vae_regular_and_irregular(getkey):
    data = _linear_trajectories(getkey(), batch=16, length=10)
    model = dk.KoopmanVAE(2, 4, hidden_size=8, width=8, depth=1, key=getkey())
    times = jnp.sort(jax.random.uniform(getkey(), (16, 10), maxval=9.0), axis=1)

    @eqx.filter_jit  # one compilation for all the checks (eager GRU scans were most of the cost)
    def evaluate(model, key):
        k1, k2, k3 = jax.random.split(key, 3)
        loss, aux = dk.kvae_loss(model, data, key=k1)
        irregular_loss, _ = dk.kvae_loss(model, (data, times), key=k2)
        sample = model.sample(times[0], key=k3)
        forecast = model.forecast(data[0], jnp.arange(10.0), jnp.arange(10.0, 13.0))
        return loss, aux, irregular_loss, sample, forecast

    loss, aux, irregular_loss, sample, forecast = evaluate(model, getkey())
    assert np.isfinite(float(loss)) and set(aux) == {
        "reconstruction",
        "kl",
        "predictive",
        "spectral",
    }
    assert np.isfinite(float(irregular_loss))
    assert sample.shape == (10, 2)
    assert forecast.shape == (3, 2)
    loss_fn = functools.partial(dk.kvae_loss, kl_weight=0.1)
    trained, history = fit(
        model,
        loss_fn,
        data,
        optax.adam(1e-2),
        steps=100,
        batch_size=16,
        key=getkey(),
        steps_per_dispatch=100,
        progress=False,
    )
    assert history[-1]["reconstruction"] < 0.5 * history[0]["reconstruction"]
    with pytest.raises(ValueError, match="and ts"):
        dk.kvae_loss(model, (data, times[:, :5]), key=getkey())

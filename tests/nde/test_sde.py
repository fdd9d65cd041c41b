"""NeuralSDE: pathwise geometric Brownian motion, every interpretation/solver pairing."""

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn.nde import NeuralSDE


@pytest.mark.parametrize(
    "noise,interpretation,solver",
    [
        ("diagonal", "ito", dfx.Euler()),
        ("diagonal", "stratonovich", dfx.Euler()),  # Itô solver: drift gets + correction
        ("general", "ito", dfx.Heun()),  # Stratonovich solver: drift gets - correction
        ("general", "stratonovich", dfx.Heun()),
    ],
)
def test_geometric_brownian_motion_pathwise(x64, interpretation, solver, noise):
    mu, sig = 0.3, jnp.array([0.5, 0.4])
    if noise == "diagonal":
        diffusion = lambda t, y, a: sig * y  # noqa: E731
        size = None
    else:
        diffusion = lambda t, y, a: y[:, None] * sig[None, :]  # noqa: E731 (both dims, 2 BMs)
        size = 2
    model = NeuralSDE(
        lambda t, y, a: mu * y,
        diffusion,
        noise=noise,
        noise_size=size,
        interpretation=interpretation,
        solver=solver,
        dt0=2e-3,
    )
    y0 = jnp.array([1.0, 2.0])
    key = jax.random.key(3)
    ts = jnp.array([0.0, 0.5, 1.0])
    ys = eqx.filter_jit(lambda m, k: m(ts, y0, key=k))(model, key)
    bm = model.terms(ts[0], ts[-1], y0, key=key).terms[1].control
    w = jax.vmap(lambda t: bm.evaluate(0.0, t))(ts)
    if noise == "diagonal":
        exponent, qv = sig[None, :] * w, sig[None, :] ** 2
    else:
        exponent, qv = jnp.repeat((w @ sig)[:, None], 2, axis=1), jnp.sum(sig**2)
    drift = mu - (0.5 * qv if interpretation == "ito" else 0.0)
    exact = y0[None, :] * jnp.exp(drift * ts[:, None] + exponent)
    np.testing.assert_allclose(ys, exact, rtol=0.03)


def test_bad_arguments():
    with pytest.raises(ValueError, match="noise_size"):
        NeuralSDE(lambda t, y, a: y, lambda t, y, a: y, noise="general")
    with pytest.raises(ValueError, match="interpretation"):
        NeuralSDE(lambda t, y, a: y, lambda t, y, a: y, interpretation="ito2")

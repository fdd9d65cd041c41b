"""Forecast metrics on cases with known answers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn.metrics import n_step_prediction_error, nrmse, smape, valid_prediction_time


def test_smape_known_values():
    true = jnp.array([[1.0, 2.0], [1.0, -1.0]])
    pred = jnp.array([[1.0, 2.0], [3.0, 1.0]])
    # row 2: 2|1-3|/(1+3) = 1, 2|-1-1|/(1+1) = 2 -> mean 1.5 -> 150
    np.testing.assert_allclose(smape(true, pred, pointwise=True), [0.0, 150.0], rtol=1e-6)
    np.testing.assert_allclose(smape(true, pred), 75.0, rtol=1e-6)
    assert float(smape(true, true)) == 0.0
    # both zero counts as zero error, not NaN
    assert float(smape(jnp.zeros((3, 2)), jnp.zeros((3, 2)))) == 0.0


def test_nrmse_known_values(getkey):
    true = jax.random.normal(getkey(), (500, 3)) * jnp.array([[1.0, 10.0, 100.0]])
    assert float(nrmse(true, true)) == 0.0
    # an offset of one standard deviation in every dimension gives NRMSE 1
    std = jnp.std(true, axis=0)
    np.testing.assert_allclose(nrmse(true, true + std[None, :]), 1.0, rtol=1e-5)
    np.testing.assert_allclose(nrmse(true, true + 2.0, scale=2.0, pointwise=True), 1.0, rtol=1e-5)


def test_vpt_counts_leading_valid_steps():
    n = 100
    true = jnp.ones((n, 2))
    pred = true.at[37:].set(5.0)  # sMAPE jumps to 133 at step 37
    vpt = valid_prediction_time(true, pred, dt=0.01)
    np.testing.assert_allclose(vpt, 0.37, rtol=1e-6)
    np.testing.assert_allclose(
        valid_prediction_time(true, pred, dt=0.01, max_lyapunov=0.9), 0.37 * 0.9, rtol=1e-6
    )
    np.testing.assert_allclose(
        valid_prediction_time(true, pred, dt=0.01, lyapunov_time=2.0), 0.185, rtol=1e-6
    )
    # perfect forecast: the whole horizon
    np.testing.assert_allclose(valid_prediction_time(true, true, dt=0.01), 1.0, rtol=1e-6)
    # a NaN makes the forecast invalid from there on
    np.testing.assert_allclose(
        valid_prediction_time(true, true.at[10].set(jnp.nan), dt=0.01), 0.1, rtol=1e-6
    )


def test_vpt_nrmse_threshold():
    t = jnp.linspace(0, 10, 1001)
    true = jnp.stack([jnp.sin(t), jnp.cos(t)], axis=1)
    drift = jnp.linspace(0, 1, 1001)[:, None] * jnp.ones((1, 2))
    pred = true + drift
    # error = drift / scale; with scale 1 it crosses 0.5 after index 500
    vpt = valid_prediction_time(true, pred, dt=0.01, metric="nrmse", threshold=0.5, scale=1.0)
    np.testing.assert_allclose(vpt, 5.01, rtol=1e-5)


def test_vpt_lorenz_divergence_is_a_few_lyapunov_times(x64):
    import diffrax

    def lorenz(t, y, args):
        x, yy, z = y
        return jnp.stack([10 * (yy - x), x * (28 - z) - yy, x * yy - 8 / 3 * z])

    dt = 0.01
    ts = jnp.arange(1.0, 1501.0) * dt

    def solve(y0):
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(lorenz),
            diffrax.Tsit5(),
            0.0,
            ts[-1],
            dt,
            y0,
            saveat=diffrax.SaveAt(ts=ts),
            stepsize_controller=diffrax.PIDController(1e-10, 1e-10),
            max_steps=100_000,
        )
        return sol.ys

    y0 = jnp.array([-8.0, 7.0, 27.0])
    true = solve(y0)
    pred = solve(y0 + 1e-6)
    vpt = float(valid_prediction_time(true, pred, dt=dt, max_lyapunov=0.906))
    # a 1e-6 perturbation grows to O(10) in about ln(1e7) ~ 16 Lyapunov times; allow a wide band
    assert 6.0 < vpt < 14.0, vpt


def test_n_step_prediction_error_exact_and_wrong_models():
    a = 0.9
    traj = a ** jnp.arange(50.0)[:, None] * jnp.ones((1, 2))
    assert float(n_step_prediction_error(lambda z: a * z, traj, 5)) < 1e-12
    # a model that does nothing misses by x_t - x_{t+n}
    err = n_step_prediction_error(lambda z: z, traj, 1)
    expected = jnp.mean((traj[:-1] - traj[1:]) ** 2)
    np.testing.assert_allclose(err, expected, rtol=1e-6)
    # encode/observe: a latent of twice the size
    enc = lambda x: jnp.concatenate([x, x])
    obs = lambda z: z[:2]
    assert float(n_step_prediction_error(lambda z: a * z, traj, 3, encode=enc, observe=obs)) < 1e-12


def test_bad_input_raises():
    x = jnp.ones((10, 3))
    with pytest.raises(ValueError, match="same number of dimensions"):
        smape(x, jnp.ones((10, 2)))
    with pytest.raises(ValueError, match="same shape"):
        nrmse(x, jnp.ones((9, 3)))
    with pytest.raises(ValueError, match="metric"):
        valid_prediction_time(x, x, dt=0.1, metric="mae")
    with pytest.raises(ValueError, match="not both"):
        valid_prediction_time(x, x, dt=0.1, max_lyapunov=1.0, lyapunov_time=1.0)
    with pytest.raises(ValueError, match="dt must be positive"):
        valid_prediction_time(x, x, dt=0.0)
    with pytest.raises(ValueError, match="too short"):
        n_step_prediction_error(lambda z: z, x, 10)
    with pytest.raises(ValueError, match=r"\(time, dim\)"):
        smape(jnp.ones((2, 3, 4)), jnp.ones((2, 3, 4)))

"""Forecast metrics on cases with known answers and against the reference definitions."""

import functools

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
    pred = true.at[37:].set(5.0)  # pointwise sMAPE jumps to 400/3 at step 37
    vpt = valid_prediction_time(true, pred, dt=0.01, metric="smape_pointwise")
    np.testing.assert_allclose(vpt, 0.37, rtol=1e-6)
    # the prefix sMAPE at step i is (400/3) (i - 36) / (i + 1): above 30 from i = 47 on
    np.testing.assert_allclose(valid_prediction_time(true, pred, dt=0.01), 0.47, rtol=1e-6)
    np.testing.assert_allclose(
        valid_prediction_time(true, pred, dt=0.01, max_lyapunov=0.9), 0.47 * 0.9, rtol=1e-6
    )
    np.testing.assert_allclose(
        valid_prediction_time(true, pred, dt=0.01, lyapunov_time=2.0), 0.235, rtol=1e-6
    )
    # perfect forecast: the whole horizon
    ramp = true + jnp.arange(n, dtype=jnp.float32)[:, None]
    for metric in ("smape", "smape_pointwise", "nrmse"):
        np.testing.assert_allclose(
            valid_prediction_time(ramp, ramp, dt=0.01, metric=metric), 1.0, rtol=1e-6
        )
    # a NaN makes the forecast invalid from there on
    for metric in ("smape", "smape_pointwise"):
        np.testing.assert_allclose(
            valid_prediction_time(true, true.at[10].set(jnp.nan), dt=0.01, metric=metric),
            0.1,
            rtol=1e-6,
        )


def _lorenz_rk4(y0, n, dt=0.01, substeps=4):
    """Lorenz-63 by classical RK4 in numpy (sigma 10, rho 28, beta 8/3), n points after y0."""

    def f(y):
        return np.array([10 * (y[1] - y[0]), y[0] * (28 - y[2]) - y[1], y[0] * y[1] - 8 / 3 * y[2]])

    h = dt / substeps
    y = np.asarray(y0, dtype=np.float64)
    out = np.empty((n, 3))
    for i in range(n):
        for _ in range(substeps):
            k1 = f(y)
            k2 = f(y + h / 2 * k1)
            k3 = f(y + h / 2 * k2)
            k4 = f(y + h * k3)
            y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out[i] = y
    return out


def _first_above(curve, threshold):
    above = np.nonzero(np.asarray(curve) > threshold)[0]
    return int(above[0]) if len(above) else len(curve)


@functools.cache
def _forecast_cases():
    rng = np.random.default_rng(17)
    cases = []
    # random: noise that grows with lead time, in several dimensions and offsets
    for dim in (1, 3, 5):
        true = rng.standard_normal((400, dim)) + rng.uniform(-2, 2, dim)
        growth = np.linspace(0, rng.uniform(0.5, 4), 400)[:, None]
        cases.append((true, true + growth * rng.standard_normal((400, dim))))
    # chaotic: two Lorenz orbits from initial conditions 1e-5 apart
    y0 = _lorenz_rk4([-8.0, 7.0, 27.0], 300)[-1]
    true = _lorenz_rk4(y0, 1500)
    cases.append((true, _lorenz_rk4(y0 + 1e-5, 1500)))
    # a forecast that stays valid to the end
    cases.append((true, true * (1 + 1e-3)))
    return cases


def test_vpt_smape_is_dysts_horizoned_smape(x64):
    import dysts.metrics

    for true, pred in _forecast_cases():
        # Gilpin's protocol: sMAPE (0-200 scale) of every prefix, first index above 30
        curve = dysts.metrics.horizoned_metric(true, pred, dysts.metrics.smape, scaled=False)
        expected = _first_above(curve, 30)
        got = valid_prediction_time(jnp.asarray(true), jnp.asarray(pred), dt=1.0)
        assert float(got) == expected, (float(got), expected)
        np.testing.assert_allclose(
            valid_prediction_time(jnp.asarray(true), jnp.asarray(pred), dt=0.01, max_lyapunov=0.5),
            expected * 0.01 * 0.5,
            rtol=1e-12,
        )


def test_vpt_pointwise_metrics_match_formulas(x64):
    for true, pred in _forecast_cases():
        std = true.std(axis=0)
        nrmse_t = np.sqrt(np.mean(((true - pred) / std) ** 2, axis=1))
        smape_t = 100 * np.mean(2 * np.abs(true - pred) / (np.abs(true) + np.abs(pred)), axis=1)
        t, p = jnp.asarray(true), jnp.asarray(pred)
        assert float(valid_prediction_time(t, p, dt=1.0, metric="nrmse")) == _first_above(
            nrmse_t, 0.5
        )
        assert float(valid_prediction_time(t, p, dt=1.0, metric="smape_pointwise")) == _first_above(
            smape_t, 30
        )
        scale = 2 * std
        nrmse_s = np.sqrt(np.mean(((true - pred) / scale) ** 2, axis=1))
        got = valid_prediction_time(
            t, p, dt=1.0, metric="nrmse", scale=jnp.asarray(scale), threshold=0.4
        )
        assert float(got) == _first_above(nrmse_s, 0.4)


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
    ts = jnp.arange(1.0, 2501.0) * dt

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
    lam = 0.9
    pointwise = float(valid_prediction_time(true, pred, dt=dt, max_lyapunov=lam, metric="nrmse"))
    prefix = float(valid_prediction_time(true, pred, dt=dt, max_lyapunov=lam))
    # a 1e-6 perturbation grows to O(10) in about ln(1e7) ~ 16 Lyapunov times; allow a wide band
    assert 6.0 < pointwise < 16.0, pointwise
    # the prefix sMAPE averages the early, accurate part in: it can only end later
    assert pointwise <= prefix < 22.0, (pointwise, prefix)


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
    with pytest.raises(ValueError, match="metric must be one of"):
        valid_prediction_time(x, x, dt=0.1, metric="mae")
    with pytest.raises(ValueError, match="not both"):
        valid_prediction_time(x, x, dt=0.1, max_lyapunov=1.0, lyapunov_time=1.0)
    with pytest.raises(ValueError, match="dt must be finite and positive"):
        valid_prediction_time(x, x, dt=0.0)
    with pytest.raises(ValueError, match="too short"):
        n_step_prediction_error(lambda z: z, x, 10)
    with pytest.raises(ValueError, match=r"\(time, dim\)"):
        smape(jnp.ones((2, 3, 4)), jnp.ones((2, 3, 4)))

"""Reservoir computers: the readout is closed-form ridge; NVAR features; closed-loop forecasts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn.recon import NVAR, EchoStateNetwork, fit_readout, ridge_regression


def _rotation_series(n=400):
    # a damped-free rotation plus a slow second harmonic: smooth, bounded, deterministic
    t = jnp.arange(n, dtype=jnp.float64) * 0.05
    return jnp.stack([jnp.sin(t), jnp.cos(t), 0.5 * jnp.sin(2 * t)], axis=1)


def _closed_form(features, targets, ridge):
    # ridge regression as least squares on the augmented system [X; sqrt(ridge) I]
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    aug_x = np.vstack([x, np.sqrt(ridge) * np.eye(x.shape[1])])
    aug_y = np.vstack([y, np.zeros((x.shape[1], y.shape[1]))])
    return np.linalg.lstsq(aug_x, aug_y, rcond=None)[0].T


@pytest.mark.parametrize("topology", ["random", "circulant"])
def test_esn_readout_equals_closed_form_ridge(x64, getkey, topology):
    us = _rotation_series()
    esn = EchoStateNetwork(3, 50, spectral_radius=0.8, topology=topology, key=getkey())
    fitted = fit_readout(esn, us, ridge=1e-3, washout=20)
    states = esn(us)
    feats = jax.vmap(esn.features)(states, us)[:-1][20:]
    expected = _closed_form(feats, us[1:][20:], 1e-3)
    np.testing.assert_allclose(fitted.w_out, expected, rtol=1e-6, atol=1e-8)
    # the jax ridge_regression helper agrees too
    np.testing.assert_allclose(ridge_regression(feats, us[1:][20:], 1e-3), expected, atol=1e-7)


@pytest.mark.parametrize("topology", ["random", "circulant"])
def test_esn_reservoir_properties(getkey, topology):
    esn = EchoStateNetwork(2, 80, spectral_radius=0.7, density=0.2, topology=topology, key=getkey())
    w = np.asarray(esn.w, dtype=np.float64)
    radius = np.max(np.abs(np.linalg.eigvals(w)))
    np.testing.assert_allclose(radius, 0.7, rtol=1e-4)
    if topology == "circulant":
        # 16 distinct shifts: every row and every column holds exactly 16 non-zeros
        assert len(esn.shifts) == 16
        np.testing.assert_array_equal((w != 0).sum(0), 16)
        np.testing.assert_array_equal((w != 0).sum(1), 16)
    # the recurrent input (shifted products for the circulant topology) is the matrix product
    r = jax.random.normal(getkey(), (80,))
    np.testing.assert_allclose(esn.recurrent(r), w @ np.asarray(r), rtol=1e-5, atol=1e-5)
    us = jax.random.normal(getkey(), (30, 2))
    states = esn(us)
    # reference: a plain loop with the dense matrix
    r = np.zeros(80)
    w_in, b = np.asarray(esn.w_in), np.asarray(esn.bias)
    for t in range(30):
        r = np.tanh(w @ r + w_in @ np.asarray(us[t]) + b)
    np.testing.assert_allclose(states[-1], r, rtol=1e-5, atol=1e-5)


def test_nvar_readout_closed_form_and_linear_system_exact(x64):
    us = _rotation_series()
    nvar = NVAR(3, delays=2, skip=2)
    assert nvar.window == 3
    feats = nvar.feature_series(us)
    n_lin = 6
    assert feats.shape == (400 - 2, 1 + n_lin + n_lin * (n_lin + 1) // 2)
    fitted = fit_readout(nvar, us, ridge=1e-4)
    expected = _closed_form(feats[:-1], us[3:] - us[2:-1], 1e-4)
    np.testing.assert_allclose(fitted.w_out, expected, rtol=1e-6, atol=1e-8)

    # a linear map u_{t+1} = A u_t is learned exactly by a linear NVAR with one delay
    a = jnp.array([[0.9, -0.3], [0.3, 0.9]])
    traj = [jnp.array([1.0, 0.0])]
    for _ in range(60):
        traj.append(a @ traj[-1])
    traj = jnp.stack(traj)
    linear = fit_readout(NVAR(2, delays=1, quadratic=False), traj[:40], ridge=0.0)
    np.testing.assert_allclose(linear.w_out[:, 1:], a - jnp.eye(2), atol=1e-10)
    pred = linear.forecast(traj[:40], 20)
    np.testing.assert_allclose(pred, traj[40:60], atol=1e-10)


def test_forecast_continues_training_signal(x64, getkey):
    us = _rotation_series(600)
    esn = fit_readout(EchoStateNetwork(3, 100, key=getkey()), us[:500], ridge=1e-8)
    pred = esn.forecast(us[:500], 50)
    assert pred.shape == (50, 3)
    assert float(jnp.max(jnp.abs(pred - us[500:550]))) < 1e-2
    nvar = fit_readout(NVAR(3, delays=2), us[:500], ridge=1e-10)
    pred = nvar.forecast(us[:500], 50)
    assert float(jnp.max(jnp.abs(pred - us[500:550]))) < 1e-3


def test_bad_input(getkey):
    with pytest.raises(ValueError, match="shape"):
        fit_readout(NVAR(3), jnp.ones((100, 2)))
    with pytest.raises(ValueError, match="too short"):
        fit_readout(EchoStateNetwork(2, 10, key=getkey()), jnp.ones((50, 2)))
    with pytest.raises(ValueError, match="shorter than the delay window"):
        NVAR(2, delays=4, skip=3).forecast(jnp.ones((5, 2)), 3)
    with pytest.raises(ValueError, match="delays"):
        NVAR(2, delays=0)
    with pytest.raises(ValueError, match="topology"):
        EchoStateNetwork(2, 10, topology="ring", key=getkey())
    with pytest.raises(ValueError, match="leak_rate"):
        EchoStateNetwork(2, 10, leak_rate=0.0, key=getkey())

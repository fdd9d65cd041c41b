"""KoVAE (Naiman et al.): least-squares Koopman map, gap filling, KL, prior rollout and the loss
terms against independent references (numpy least squares, numpy interpolation, numerical
integration, plain Python loops)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import dynlearn.koopman as dk
from dynlearn.train import fit


def test_koopman_least_squares_matches_numpy_lstsq(getkey):
    zs = jax.random.normal(getkey(), (5, 9, 4))
    matrix, predicted = dk.koopman_least_squares(zs)
    z = np.asarray(zs, np.float64)
    past, future = z[:, :-1].reshape(-1, 4), z[:, 1:].reshape(-1, 4)
    right = np.linalg.lstsq(past, future, rcond=None)[0]
    np.testing.assert_allclose(np.asarray(matrix), right.T, rtol=1e-4, atol=1e-5)
    # predictions: A @ z_{t-1} for every series and step, by a plain loop
    for b in range(5):
        for t in range(1, 9):
            np.testing.assert_allclose(
                np.asarray(predicted[b, t - 1]), right.T @ z[b, t - 1], rtol=1e-4, atol=1e-5
            )


def test_koopman_least_squares_recovers_an_exact_linear_map(getkey):
    true = 0.9 * jnp.linalg.qr(jax.random.normal(getkey(), (3, 3)))[0]
    z0 = jax.random.normal(getkey(), (6, 3))
    steps = [z0]
    for _ in range(7):
        steps.append(steps[-1] @ true.T)
    matrix, _ = dk.koopman_least_squares(jnp.stack(steps, axis=1))
    np.testing.assert_allclose(np.asarray(matrix), np.asarray(true), atol=1e-4)


def test_fill_gaps_matches_numpy_interp(getkey):
    xs = jax.random.normal(getkey(), (12, 3))
    mask = np.zeros(12, bool)
    mask[[2, 3, 7, 10]] = True  # first two and last one unobserved: held constant
    holes = jnp.where(jnp.asarray(mask)[:, None], xs, jnp.nan)
    filled = np.asarray(dk.fill_gaps(holes, jnp.asarray(mask)))
    t = np.arange(12.0)
    for c in range(3):
        expected = np.interp(t, t[mask], np.asarray(xs)[mask, c])
        np.testing.assert_allclose(filled[:, c], expected, rtol=1e-6, atol=1e-6)


def test_gaussian_kl_matches_numerical_integration():
    mq, lq, mp, lp = 0.3, np.log(0.5), -0.4, np.log(2.0)
    x = np.linspace(-15, 15, 200001)
    q = np.exp(-((x - mq) ** 2) / (2 * np.exp(lq))) / np.sqrt(2 * np.pi * np.exp(lq))
    p = np.exp(-((x - mp) ** 2) / (2 * np.exp(lp))) / np.sqrt(2 * np.pi * np.exp(lp))
    expected = np.trapezoid(q * np.log(q / p), x)
    got = dk.gaussian_kl(*(jnp.asarray(v, jnp.float32) for v in (mq, lq, mp, lp)))
    np.testing.assert_allclose(float(got), expected, rtol=1e-4)


def test_eigenvalue_penalties_match_numpy(getkey):
    matrix = 1.3 * jax.random.normal(getkey(), (5, 5))
    stability, unit, eigenvalues = dk.eigenvalue_penalties(matrix, 1.0, 2)
    moduli = np.sort(np.abs(np.linalg.eigvals(np.asarray(matrix, np.float64))))
    np.testing.assert_allclose(np.sort(np.abs(np.asarray(eigenvalues))), moduli, rtol=1e-4)
    expected_stability = sum(max(m - 1.0, 0.0) ** 2 for m in moduli)
    expected_unit = np.mean((moduli[-2:] - 1.0) ** 2)
    np.testing.assert_allclose(float(stability), expected_stability, rtol=1e-4)
    np.testing.assert_allclose(float(unit), expected_unit, rtol=1e-4)
    grad = jax.grad(lambda m: dk.eigenvalue_penalties(m, 1.0, 2)[0])(matrix)
    assert grad.shape == (5, 5) and bool(jnp.all(jnp.isfinite(grad)))


def test_prior_rollout_matches_a_plain_loop(getkey):
    model = dk.KoVAE(3, 4, hidden_size=6, key=getkey())
    key = getkey()
    means, log_vars, zs = model.prior(5, key=key)
    noise = np.asarray(jax.random.normal(key, (5, 4)))
    z, h = jnp.zeros(4), jnp.zeros(6)
    for t in range(5):
        h = model.prior_cell(z, h)
        out = model.prior_head(h)
        np.testing.assert_allclose(np.asarray(means[t]), np.asarray(out[:4]), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            np.asarray(log_vars[t]), np.asarray(out[4:]), rtol=1e-5, atol=1e-6
        )
        z = out[:4] + np.exp(0.5 * np.asarray(out[4:])) * noise[t]
        np.testing.assert_allclose(np.asarray(zs[t]), np.asarray(z), rtol=1e-5, atol=1e-5)


def test_kovae_loss_terms_against_a_plain_loop(getkey):
    model = dk.KoVAE(2, 3, hidden_size=5, key=getkey())
    xs = jax.random.uniform(getkey(), (4, 6, 2))
    mask = np.ones((4, 6), bool)
    mask[0, [1, 4]] = False
    mask[2, 0] = False
    holes = jnp.where(jnp.asarray(mask)[:, :, None], xs, jnp.nan)
    key = getkey()
    loss, aux = dk.kovae_loss(
        model,
        (holes, jnp.asarray(mask)),
        key=key,
        kl_weight=0.3,
        predictive_weight=0.2,
        stability_weight=0.1,
        max_modulus=0.5,
    )
    # the same draws, then every sum by a plain loop
    k_post, k_prior = jax.random.split(key)
    kq, kp = jax.random.split(k_post, 4), jax.random.split(k_prior, 4)
    encode, decode = eqx.filter_jit(model.encode), eqx.filter_jit(model.decode)
    prior = eqx.filter_jit(model.prior)  # compiled once: eager GRU scans are slow
    rec = kl = 0.0
    prior_z = []
    for b in range(4):
        mean, log_var = encode(holes[b], jnp.asarray(mask[b]))
        z = mean + jnp.exp(0.5 * log_var) * jax.random.normal(kq[b], mean.shape)
        x_hat = np.asarray(decode(z))
        for t in range(6):
            for c in range(2):
                if mask[b, t]:
                    rec += (x_hat[t, c] - float(xs[b, t, c])) ** 2
        pm, plv, pz = (np.asarray(a, np.float64) for a in prior(6, key=kp[b]))
        m, lv = np.asarray(mean, np.float64), np.asarray(log_var, np.float64)
        kl += np.sum(0.5 * (plv - lv + (np.exp(lv) + (m - pm) ** 2) / np.exp(plv) - 1.0))
        prior_z.append(pz)
    prior_z = np.stack(prior_z)
    past, future = prior_z[:, :-1].reshape(-1, 3), prior_z[:, 1:].reshape(-1, 3)
    right = np.linalg.lstsq(past, future, rcond=None)[0]
    pred = past @ right
    predictive = np.mean((pred - future) ** 2) / np.linalg.norm(pred)
    moduli = np.abs(np.linalg.eigvals(right.T))
    stability = np.sum(np.maximum(moduli - 0.5, 0.0) ** 2)
    np.testing.assert_allclose(float(aux["reconstruction"]), rec / 4, rtol=1e-4)
    np.testing.assert_allclose(float(aux["kl"]), kl / 4, rtol=1e-4)
    np.testing.assert_allclose(float(aux["predictive"]), predictive, rtol=1e-3)
    np.testing.assert_allclose(float(aux["stability"]), stability, rtol=1e-3, atol=1e-7)
    expected = rec / 4 + 0.3 * kl / 4 + 0.2 * predictive + 0.1 * stability
    np.testing.assert_allclose(float(loss), expected, rtol=1e-4)


def test_kovae_trains_samples_and_refuses_bad_input(getkey):
    t = jnp.arange(8.0)
    phase = jax.random.uniform(getkey(), (64, 1, 1), maxval=2 * np.pi)
    data = (jnp.sin(0.5 * t[None, :, None] + phase) + 1) / 2
    model = dk.KoVAE(1, 4, hidden_size=8, key=getkey())
    trained, history = fit(
        model,
        dk.kovae_loss,
        data,
        optax.adam(1e-2),
        steps=60,
        batch_size=32,
        key=getkey(),
        steps_per_dispatch=60,
        progress=False,
    )
    assert history[-1]["reconstruction"] < 0.5 * history[0]["reconstruction"]
    sample = eqx.filter_jit(trained.sample)(8, key=getkey())
    assert sample.shape == (8, 1) and bool(jnp.all((sample > 0) & (sample < 1)))
    assert trained.koopman_matrix(8, 16, key=getkey()).shape == (4, 4)
    with pytest.raises(ValueError, match="mask must have shape"):
        dk.kovae_loss(model, (data, jnp.ones((64, 7), bool)), key=getkey())
    with pytest.raises(ValueError, match="n_unit must be at most"):
        dk.kovae_loss(model, data, key=getkey(), n_unit=5)
    with pytest.raises(ValueError, match="series must have shape"):
        dk.kovae_loss(model, data[..., 0], key=getkey())

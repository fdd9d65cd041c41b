"""Lyapunov exponents of hidden-state dynamics (exact diagonal averages, eigenvalues of constant
transitions, and dynlearn.analysis on the hidden-state map), precision divergence, and the token
dynamics of deep selective SSMs against closed forms."""

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynlearn.ssm as ssm
from dynlearn.analysis import lyapunov_spectrum


def test_diagonal_exponents_are_mean_log_moduli(getkey):
    A = jax.random.uniform(getkey(), (50, 4), minval=0.2, maxval=1.5)
    system = ssm.LinearSystem(A, jnp.ones((50, 4, 1)), jnp.ones((50, 1, 4)), jnp.zeros((50, 1, 1)))
    expected = np.sort(np.mean(np.log(np.asarray(A)), axis=0))[::-1]
    np.testing.assert_allclose(ssm.lyapunov_exponents(system, k=4), expected, rtol=1e-6)


def test_dense_exponents_are_log_eigenvalue_moduli(x64):
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    A = Q @ np.diag([0.9, 0.7, -0.5, 0.2]) @ Q.T
    L = 2000
    system = ssm.LinearSystem(
        jnp.broadcast_to(jnp.asarray(A), (L, 4, 4)),
        jnp.ones((L, 4, 1)),
        jnp.ones((L, 1, 4)),
        jnp.zeros((L, 1, 1)),
    )
    got = ssm.lyapunov_exponents(system, k=3)
    np.testing.assert_allclose(got, np.log([0.9, 0.7, 0.5]), atol=3e-3)
    ref = lyapunov_spectrum(lambda h: jnp.asarray(A) @ h, jnp.ones(4), n_steps=L, kind="map", k=3)
    np.testing.assert_allclose(got, ref, atol=3e-3)


def test_mamba_hidden_state_exponent_matches_analysis(getkey):
    """With a constant input the Mamba state follows a fixed affine map; dynlearn.analysis on
    that map gives the same (negative) exponents as the dynamical-systems view. The exponents
    are close together, so the QR method aligns slowly; their sum (the mean log-determinant)
    needs no alignment and must agree tightly."""
    block = ssm.Mamba(2, 3, key=getkey())
    x = jax.random.normal(getkey(), (2,))
    L = 300
    n = block.d_inner * 3
    got = ssm.hidden_state_lyapunov(block, jnp.broadcast_to(x, (L, 2)), k=n)
    # after the conv window is full, the SSM state map is fixed:
    state = block.init_state()
    for _ in range(block.d_conv):
        state, _ = block.step(state, x)
    conv = state.conv

    def ssm_map(h):
        new, _ = block.step(ssm.MambaState(conv, h.reshape(block.d_inner, 3)), x)
        return new.ssm.reshape(-1)

    ref = lyapunov_spectrum(ssm_map, jnp.zeros(n), n_steps=L, kind="map")
    assert float(got[0]) < 0 and float(ref[0]) < 0
    # the first d_conv - 1 tokens see a partly empty conv window: O(d_conv / L) difference
    np.testing.assert_allclose(jnp.sum(got), jnp.sum(ref), rtol=2e-2)


def test_precision_divergence(getkey):
    W = jax.random.normal(getkey(), (3, 3))
    xs = jax.random.normal(getkey(), (8, 3))
    same = ssm.precision_divergence(lambda w, x: x @ w, W, xs, low_dtype=jnp.float32)
    np.testing.assert_array_equal(same, np.zeros(8))
    d = ssm.precision_divergence(lambda w, x: x @ w, W, xs)
    assert d.shape == (8,)
    assert float(jnp.max(d)) < 3 * 2.0**-8 and float(jnp.min(d)) > 0


def _naive_token_derivative(S_B, S_C, S_d, b_d, A, x):
    L, D = x.shape
    softplus = lambda v: np.log1p(np.exp(v))
    delta = softplus(x @ S_d.T + b_d)
    out = np.zeros((L, D))
    for l in range(L):
        for d in range(D):
            for j in range(l + 1):
                decay = np.exp(A[d] * np.sum(delta[j + 1 : l + 1, d]))
                out[l, d] += (S_C @ x[l]) @ (decay * (S_B @ x[j])) * delta[j, d] * x[j, d]
    return out


def test_token_vector_field_matches_formula(x64):
    rng = np.random.default_rng(1)
    N, D, L = 3, 2, 5
    S_B, S_C = rng.normal(size=(N, D)), rng.normal(size=(N, D))
    S_d, b_d = rng.normal(size=(D, D)), rng.normal(size=D)
    A = -rng.uniform(0.5, 2, size=(D, N))
    x = rng.normal(size=(L, D))
    dyn = ssm.SelectiveTokenDynamics(*(jnp.asarray(v) for v in (S_B, S_C, S_d, b_d, A)), L)
    np.testing.assert_allclose(
        dyn.vector_field(0.0, jnp.asarray(x).reshape(-1)).reshape(L, D),
        _naive_token_derivative(S_B, S_C, S_d, b_d, A, x),
        atol=1e-12,
    )


def _one_dim(mu, L=4):
    return ssm.SelectiveTokenDynamics(
        jnp.asarray([[1.0], [0.5]]),
        jnp.asarray([[mu], [0.0]]),
        jnp.zeros((1, 1)),
        jnp.zeros(1),
        -jnp.ones((1, 2)),
        L,
    )


def _solve(dyn, y0, t1):
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(dyn.vector_field),
        diffrax.Tsit5(),
        0.0,
        t1,
        0.01,
        y0,
        stepsize_controller=diffrax.PIDController(rtol=1e-9, atol=1e-9),
        max_steps=100_000,
        saveat=diffrax.SaveAt(t1=True),
    )
    return sol.ys[-1]


@pytest.mark.parametrize("mu", [-1.0, 0.6])
def test_one_dimensional_scenarios(mu, x64):
    dyn = _one_dim(mu)
    y0 = jnp.asarray([0.8, -0.5, 0.3, 1.1])
    verdict = ssm.token_dynamics_criterion(dyn.S_B, dyn.S_C)
    assert verdict["scenario"] == ("convergent" if mu < 0 else "divergent")
    t1 = 0.3 if mu > 0 else 50.0  # mu > 0 blows up in finite time
    y1 = _solve(dyn, y0, t1)
    # the first token: dx/dt = mu softplus(0) x^3, x(t) = x0 / sqrt(1 - 2 mu log(2) x0^2 t)
    closed = 0.8 / np.sqrt(1 - 2 * mu * np.log(2) * 0.8**2 * t1)
    np.testing.assert_allclose(y1[0], closed, rtol=1e-6)
    if mu < 0:
        assert np.all(np.abs(y1) < 0.25 * np.abs(y0))
    else:
        assert np.all(np.abs(y1) > np.abs(y0))


def test_criterion_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(3, 2\) and \(2, 2\)"):
        ssm.token_dynamics_criterion(np.ones((3, 2)), np.ones((2, 2)))

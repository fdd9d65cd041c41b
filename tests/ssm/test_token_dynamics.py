"""Token dynamics of deep selective SSMs: the flow against a plain loop, the criterion against
integrated token trajectories and, for one token with a constant step, the closed form."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn.ssm import SelectiveTokenDynamics, token_dynamics_criterion

pytestmark = pytest.mark.usefixtures("x64")


def _random_dynamics(rng, L, D, N, sign=None, delta_scale=0.5):
    S_B = rng.standard_normal((N, D))
    S_C = rng.standard_normal((N, D))
    if sign is not None:
        S_C = sign * S_B @ np.diag(rng.uniform(0.5, 1.5, D)) if D == 1 else S_C
    return SelectiveTokenDynamics(
        jnp.asarray(S_B),
        jnp.asarray(S_C),
        jnp.asarray(delta_scale * rng.standard_normal((D, D))),
        jnp.asarray(0.3 * rng.standard_normal(D)),
        jnp.asarray(-rng.uniform(0.2, 2.0, (D, N))),
        num_tokens=L,
    )


def _loop_derivative(dyn, x):
    """dx_l/dt = sum_{j<=l} (S_C x_l)^T [prod_{k=j+1}^{l} exp(Delta_k A)] (S_B x_j) Delta_j x_j,
    per channel d (Delta_k and A of channel d), written as a plain triple loop."""
    S_B, S_C = np.asarray(dyn.S_B), np.asarray(dyn.S_C)
    S_d, b_d, A = np.asarray(dyn.S_delta), np.asarray(dyn.b_delta), np.asarray(dyn.A)
    L, D = x.shape
    delta = np.log1p(np.exp(x @ S_d.T + b_d))  # softplus, (L, D)
    out = np.zeros((L, D))
    for l in range(L):
        c = S_C @ x[l]
        for d in range(D):
            for j in range(l + 1):
                decay = np.ones(A.shape[1])
                for k in range(j + 1, l + 1):
                    decay = decay * np.exp(delta[k, d] * A[d])
                out[l, d] += np.sum(c * decay * (S_B @ x[j])) * delta[j, d] * x[j, d]
    return out


@pytest.mark.parametrize("L, D, N", [(1, 1, 3), (5, 1, 4), (4, 3, 5)])
def test_flow_matches_the_plain_loop(L, D, N):
    rng = np.random.default_rng(L + D + N)
    dyn = _random_dynamics(rng, L, D, N)
    x = rng.standard_normal((L, D))
    np.testing.assert_allclose(
        np.asarray(dyn.tokens_derivative(jnp.asarray(x))), _loop_derivative(dyn, x), rtol=1e-10,
        atol=1e-12,
    )  # fmt: skip
    y = dyn.vector_field(0.0, jnp.asarray(x.reshape(-1)))
    np.testing.assert_allclose(np.asarray(y).reshape(L, D), _loop_derivative(dyn, x), rtol=1e-10)


def _rk4(f, x0, dt, steps):
    """Fixed-step RK4 in NumPy, stopping (with inf) once the tokens blow up."""
    xs = [x0]
    x = x0
    for _ in range(steps):
        k1 = f(x)
        k2 = f(x + dt / 2 * k1)
        k3 = f(x + dt / 2 * k2)
        k4 = f(x + dt * k3)
        x = x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        if not np.all(np.isfinite(x)) or np.max(np.abs(x)) > 1e6:
            xs.append(np.full_like(x, np.inf))
            break
        xs.append(x)
    return np.array(xs)


def test_one_token_with_constant_step_follows_the_closed_form():
    # S_delta = 0: Delta = softplus(b) constant, and dx/dt = mu Delta x^3 with mu = S_C^T S_B,
    # so x(t) = x0 / sqrt(1 - 2 mu Delta x0^2 t) (decay like t^(-1/2) for mu < 0).
    rng = np.random.default_rng(0)
    for sign in (-1.0, 1.0):
        S_B = rng.standard_normal((4, 1))
        S_C = sign * np.abs(rng.standard_normal()) * S_B
        dyn = SelectiveTokenDynamics(
            jnp.asarray(S_B), jnp.asarray(S_C), jnp.zeros((1, 1)), jnp.asarray([0.2]),
            -jnp.ones((1, 4)), num_tokens=1,
        )  # fmt: skip
        mu = float(S_C[:, 0] @ S_B[:, 0])
        delta = np.log1p(np.exp(0.2))
        x0 = 0.7
        t_end = 2.0 if sign < 0 else 0.5 / (2 * mu * delta * x0**2)  # half the blow-up time
        steps = 400
        deriv = eqx.filter_jit(dyn.tokens_derivative)
        traj = _rk4(lambda x, f=deriv: np.asarray(f(jnp.asarray(x))), np.array([[x0]]),
                    t_end / steps, steps)  # fmt: skip
        t = np.linspace(0, t_end, steps + 1)
        exact = x0 / np.sqrt(1 - 2 * mu * delta * x0**2 * t)
        np.testing.assert_allclose(traj[:, 0, 0], exact, rtol=1e-6)


def _fate(dyn, x0, t_end=40.0, steps=2000):
    deriv = eqx.filter_jit(dyn.tokens_derivative)
    f = lambda x: np.asarray(deriv(jnp.asarray(x)))  # noqa: E731
    traj = _rk4(f, x0, t_end / steps, steps)
    norms = np.linalg.norm(traj.reshape(len(traj), -1), axis=1)
    # divergence may be as slow as (ln t)^l and may start after a dip: 20% above the run's
    # minimum and growing over its second half is enough; convergence must have lost half the
    # norm and still be falling
    mid = norms[len(norms) // 2]
    if not np.isfinite(norms[-1]) or (norms[-1] > 1.2 * norms.min() and norms[-1] > mid):
        return "divergent", traj
    if norms[-1] < 0.5 * norms[0] and norms[-1] < mid:
        return "convergent", traj
    return "undecided", traj


def test_criterion_matches_trajectories_in_one_dimension():
    # the theorem of Vo et al.: in 1D the sign of mu = S_C^T S_B decides for all tokens at once
    rng = np.random.default_rng(1)
    for trial in range(12):
        sign = -1.0 if trial % 2 else 1.0
        dyn = _random_dynamics(rng, 4, 1, 3, sign=sign)
        predicted = token_dynamics_criterion(dyn.S_B, dyn.S_C)["scenario"]
        assert predicted == ("convergent" if sign < 0 else "divergent")
        fate, traj = _fate(dyn, rng.uniform(0.3, 1.0, (4, 1)) * rng.choice([-1, 1], (4, 1)))
        assert fate == predicted, (trial, fate, predicted)
        if fate == "convergent":
            # every token goes to zero, the first one like t^(-1/2) (log-log slope over the
            # last half of the run)
            assert np.all(np.abs(traj[-1]) < np.abs(traj[0]))
            t = np.linspace(0, 40.0, len(traj))[len(traj) // 2 :]
            x1 = np.abs(traj[len(traj) // 2 :, 0, 0])
            slope = np.polyfit(np.log(t), np.log(x1), 1)[0]
            assert -0.6 < slope < -0.4, slope


@pytest.mark.parametrize("signs", [(1.0, 1.0), (1.0, -1.0), (-1.0, -1.0)])
def test_criterion_matches_trajectories_in_two_dimensions(signs):
    # the paper's two-dimensional cases: S_C^T S_B with two positive, one positive or two
    # negative eigenvalues (S_C = S_B Q diag(signs) Q^T makes S_C^T S_B = S_B^T S_B Q diag Q^T...
    # built symmetric here: S_C^T S_B = R^T diag(signs * lam) R for a random rotation R)
    rng = np.random.default_rng(int(10 * sum(signs)) + 30)
    N = 2
    R = np.linalg.qr(rng.standard_normal((2, 2)))[0]
    lam = rng.uniform(0.5, 1.5, 2) * np.array(signs)
    S_B = R  # (N, D) orthogonal
    S_C = R @ (R.T @ np.diag(lam) @ R)  # S_C^T S_B = R^T diag(lam) R
    dyn = SelectiveTokenDynamics(
        jnp.asarray(S_B), jnp.asarray(S_C), jnp.asarray(0.3 * rng.standard_normal((2, 2))),
        jnp.zeros(2), -jnp.ones((2, N)), num_tokens=3,
    )  # fmt: skip
    crit = token_dynamics_criterion(S_B, S_C)
    np.testing.assert_allclose(np.sort(crit["eigenvalues"]), np.sort(lam), atol=1e-12)
    fates = {_fate(dyn, rng.standard_normal((3, 2)))[0] for _ in range(4)}
    assert fates == {crit["scenario"]}, (signs, fates)


def test_criterion_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="S_B and S_C must both be"):
        token_dynamics_criterion(np.ones((3, 2)), np.ones((2, 2)))

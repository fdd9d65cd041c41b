"""HiPPO matrices against their closed forms, the NPLR identity, discretization and online
function approximation against direct references."""

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
import scipy.special

import dynlearn.ssm as ssm

N = 7


def _closed_form(kind, N):
    A = np.zeros((N, N))
    B = np.zeros(N)
    for n in range(N):
        for k in range(N):
            if kind == "legs":
                A[n, k] = (
                    -np.sqrt(2 * n + 1) * np.sqrt(2 * k + 1)
                    if n > k
                    else (-(n + 1) if n == k else 0)
                )
            elif kind == "legt":
                sign = 1.0 if n >= k else (-1.0) ** (n - k)
                A[n, k] = -0.5 * np.sqrt(2 * n + 1) * np.sqrt(2 * k + 1) * sign
            elif kind == "lagt":
                A[n, k] = -1.0 if n > k else (-0.5 if n == k else 0.0)
        B[n] = {"legs": np.sqrt(2 * n + 1), "legt": 0.5 * np.sqrt(2 * n + 1), "lagt": 1.0}.get(
            kind, 0
        )
    return A, B


@pytest.mark.parametrize("kind", ["legs", "legt", "lagt"])
def test_hippo_closed_forms(kind, x64):
    A, B = ssm.hippo(kind, N)
    A_ref, B_ref = _closed_form(kind, N)
    np.testing.assert_allclose(A, A_ref, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(B, B_ref, rtol=1e-14, atol=1e-14)


def test_fout_closed_form(x64):
    A, B = ssm.hippo("fout", 8)
    B_ref = np.array([1, 0, np.sqrt(2), 0, np.sqrt(2), 0, np.sqrt(2), 0])
    skew = np.zeros((8, 8))
    for k in range(1, 4):
        skew[2 * k + 1, 2 * k] = np.pi * k
        skew[2 * k, 2 * k + 1] = -np.pi * k
    np.testing.assert_allclose(B, B_ref, atol=1e-14)
    np.testing.assert_allclose(A, skew - np.outer(B_ref, B_ref), atol=1e-13)


def test_legs_normal_plus_low_rank(x64):
    A, _ = ssm.hippo("legs", N)
    P = np.sqrt(np.arange(N) + 0.5)
    np.testing.assert_allclose(ssm.hippo_low_rank("legs", N)[0], P, atol=1e-14)
    S = np.asarray(A) + np.outer(P, P)
    skew = S + 0.5 * np.eye(N)
    np.testing.assert_allclose(skew, -skew.T, atol=1e-13)


@pytest.mark.parametrize("kind", ["legs", "legt", "lagt", "fout"])
def test_nplr_reconstructs_hippo(kind, x64):
    n = 8
    A, B = ssm.hippo(kind, n)
    P = ssm.hippo_low_rank(kind, n)
    S = np.asarray(A) + np.asarray(P).T @ np.asarray(P)
    c = np.mean(np.diag(S))
    np.testing.assert_allclose(S - c * np.eye(n), -(S - c * np.eye(n)).T, atol=1e-12)
    Lam, Pt, Bt, V = (np.asarray(v) for v in ssm.hippo_nplr(kind, n))
    np.testing.assert_allclose(V.conj().T @ V, np.eye(n), atol=1e-12)
    rebuilt = V @ (np.diag(Lam) - Pt.T @ Pt.conj()) @ V.conj().T
    np.testing.assert_allclose(rebuilt, A, atol=1e-11)
    np.testing.assert_allclose(V @ Bt, B, atol=1e-12)


def test_hippo_bad_arguments():
    with pytest.raises(ValueError, match="kind"):
        ssm.hippo("legx", 4)
    with pytest.raises(ValueError, match="even"):
        ssm.hippo("fout", 5)


@pytest.mark.parametrize("dense", [True, False])
def test_zoh_equals_matrix_exponential(dense, x64):
    rng = np.random.default_rng(0)
    if dense:
        A = np.asarray(ssm.hippo("legs", 5)[0])
    else:
        A = -rng.uniform(0.1, 2, 5) + 1j * rng.normal(size=5)
    B = rng.normal(size=(5, 2))
    dt = 0.07
    A_bar, B_bar = ssm.discretize(jnp.asarray(A), jnp.asarray(B), dt, "zoh")
    Am = A if dense else np.diag(A)
    E = scipy.linalg.expm(dt * Am)
    np.testing.assert_allclose(A_bar if dense else np.diag(A_bar), E, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        B_bar, np.linalg.solve(Am, (E - np.eye(5)) @ B), rtol=1e-10, atol=1e-12
    )


@pytest.mark.parametrize("method", ["bilinear", "forward_euler", "backward_euler"])
def test_other_discretizations(method, x64):
    A = np.asarray(ssm.hippo("legt", 4)[0])
    B = np.arange(1.0, 5.0)
    dt = 0.1
    I = np.eye(4)
    ref = {
        "bilinear": (
            np.linalg.solve(I - dt / 2 * A, I + dt / 2 * A),
            np.linalg.solve(I - dt / 2 * A, dt * B),
        ),
        "forward_euler": (I + dt * A, dt * B),
        "backward_euler": (np.linalg.inv(I - dt * A), np.linalg.solve(I - dt * A, dt * B)),
    }[method]
    A_bar, B_bar = ssm.discretize(jnp.asarray(A), jnp.asarray(B), dt, method)
    np.testing.assert_allclose(A_bar, ref[0], atol=1e-13)
    np.testing.assert_allclose(B_bar, ref[1], atol=1e-13)
    # the diagonal path agrees with the dense one on a diagonal matrix
    d = np.array([-1.0, -0.5, 0.0, -3.0])
    Ad, Bd = ssm.discretize(jnp.asarray(d), jnp.asarray(B), dt, method)
    Af, Bf = ssm.discretize(jnp.asarray(np.diag(d)), jnp.asarray(B), dt, method)
    np.testing.assert_allclose(np.diag(Ad), Af, atol=1e-13)
    np.testing.assert_allclose(Bd, Bf, atol=1e-13)


def test_discretize_bad_shapes():
    with pytest.raises(ValueError, match=r"\(3,\)"):
        ssm.discretize(jnp.zeros((4, 4)), jnp.zeros(3), 0.1)
    with pytest.raises(ValueError, match="method"):
        ssm.discretize(jnp.zeros(4), jnp.zeros(4), 0.1, "rk4")


def test_legs_online_coefficients_match_quadrature(x64):
    """The streamed LegS state equals the projection of the history onto scaled Legendre."""
    L, n = 4000, 12
    t = np.arange(1, L + 1) / L
    f = np.sin(5 * t) + t**2
    coefs = ssm.hippo_project(jnp.asarray(f), "legs", n)
    # c_n(1) = int_0^1 f(x) sqrt(2n+1) P_n(2x - 1) dx (Gauss-Legendre quadrature)
    x, w = np.polynomial.legendre.leggauss(60)
    xs = (x + 1) / 2
    fx = np.sin(5 * xs) + xs**2
    ref = [
        np.sum(w / 2 * fx * np.sqrt(2 * k + 1) * scipy.special.eval_legendre(k, 2 * xs - 1))
        for k in range(n)
    ]
    np.testing.assert_allclose(coefs[-1], ref, atol=2e-3)


@pytest.mark.parametrize("kind", ["legs", "legt", "fout"])
def test_online_reconstruction_error_falls_with_state_size(kind, x64):
    L, dt, window = 2000, 1e-3, 0.5
    t = np.arange(1, L + 1) * dt
    f = np.sin(13 * t) + 0.5 * np.cos(37 * t) + t
    s = np.linspace(0.1, 0.9, 100)
    if kind == "legs":
        truth = np.interp(s * t[-1], t, f)
    else:
        truth = np.interp(t[-1] - window + s * window, t, f)
    errs = []
    for n in (8, 64):
        c = ssm.hippo_project(jnp.asarray(f), kind, n, dt=dt, window=window)
        errs.append(
            np.max(np.abs(np.asarray(ssm.hippo_reconstruct(c[-1], kind, jnp.asarray(s))) - truth))
        )
    assert errs[1] < 0.05
    assert errs[1] < errs[0] / 3


def test_online_bad_signal():
    with pytest.raises(ValueError, match=r"\(L,\)"):
        ssm.hippo_project(jnp.zeros((3, 2)), "legs", 4)

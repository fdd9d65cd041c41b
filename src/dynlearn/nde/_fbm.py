"""Markov-approximate fractional Brownian motion (MA-fBM) with a learnable Hurst index.

Follows Daems, Opper, Crevecoeur, Birdal (ICLR 2024), "Variational Inference for SDEs Driven by
Fractional Noise", after Harms & Stefanovits: the Riemann–Liouville (type II) fBM
`B_H(t) = Γ(H+1/2)^-1 ∫_0^t (t-s)^(H-1/2) dW_s` is approximated by `Σ_k ω_k Y_k(t)` with K
Ornstein–Uhlenbeck processes `dY_k = -γ_k Y_k dt + dW` driven by one Brownian motion, geometric
speeds `γ_k = r^(k-n)`, `n = (K+1)/2`, and the closed-form weights `ω = A^-1 b` that minimise
`∫_0^T E[(B_H - Σ ω_k Y_k)^2] dt` (formulas in REFERENCES.md). The state `(X, Y_1..Y_K)` of an SDE
driven by this noise is Markov, so latent-SDE variational inference applies and `H` can be learned.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammainc, gammaln

from .._types import Array, Float, Key
from .._validation import check_dtype, check_int, check_positive, check_shape


def _concrete(x) -> bool:
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(x))


def _check_hurst(where: str, hurst) -> None:
    """Refuse a concrete Hurst index outside (0, 1) (a traced one, e.g. learned, passes)."""
    if hurst is None or isinstance(hurst, bool | str):
        raise TypeError(f"{where}: hurst must be a number in (0, 1), got hurst={hurst!r}.")
    if _concrete(hurst):
        h = np.asarray(hurst)
        if h.shape != () or not np.isfinite(h) or not 0 < float(h) < 1:
            raise ValueError(f"{where}: hurst must lie in (0, 1), got hurst={hurst!r}.")


def _check_gammas(where: str, gammas):
    """`gammas` as a 1-D floating array; concrete ones must be finite and positive."""
    gammas = check_dtype(where, "gammas", gammas, cast_integers=True)
    gammas = check_shape(where, "gammas", gammas, ndim=1, meaning="(K,)")
    if _concrete(gammas):
        g = np.asarray(gammas)
        if g.size == 0 or not np.all(np.isfinite(g) & (g > 0)):
            raise ValueError(
                f"{where}: gammas (OU speeds) must be finite and positive, got gammas={g}."
            )
    return gammas


def ma_fbm_gammas(n_processes: int, ratio: float = 10.0) -> Float[Array, " K"]:
    """Geometric OU speeds `γ_k = ratio^(k - n)`, `k = 1..K`, `n = (K+1)/2`.

    **Arguments:** `n_processes` (K >= 1) and `ratio` (r > 1).

    **Returns:** shape `(K,)`.
    """
    n_processes = check_int("ma_fbm_gammas", "n_processes", n_processes)
    check_positive("ma_fbm_gammas", "ratio", ratio)
    if float(ratio) <= 1:
        raise ValueError(f"ma_fbm_gammas: ratio must be > 1, got ratio={ratio!r}.")
    r = jnp.asarray(ratio, dtype=float)
    k = jnp.arange(1, n_processes + 1, dtype=r.dtype)
    return r ** (k - (n_processes + 1) / 2)


def _gram(gammas, horizon):
    s = gammas[:, None] + gammas[None, :]
    return (horizon + jnp.expm1(-s * horizon) / s) / s


def _cross(hurst, gammas, horizon):
    a = hurst + 0.5
    return horizon * gammas ** (-a) * gammainc(a, gammas * horizon) - a * gammas ** (
        -(a + 1)
    ) * gammainc(a + 1, gammas * horizon)


def ma_fbm_weights(
    hurst: Float[Array, ""] | float, gammas: Float[Array, " K"], horizon: float = 1.0
) -> Float[Array, " K"]:
    """Closed-form optimal weights `ω = A^-1 b` of the Markov approximation on `[0, horizon]`.

    `A` is badly conditioned for many processes; the solve is diagonally scaled
    (use float64 for K > 5). Differentiable in `hurst` (for a learnable Hurst index).

    **Arguments:**

    - `hurst`: the Hurst index `H` in (0, 1).
    - `gammas`: OU speeds, e.g. `ma_fbm_gammas(K)`.
    - `horizon`: the time horizon `T` the approximation is optimised over.

    **Returns:** the weights, shape `(K,)`.
    """
    _check_hurst("ma_fbm_weights", hurst)
    gammas = _check_gammas("ma_fbm_weights", gammas)
    check_positive("ma_fbm_weights", "horizon", horizon)
    a = _gram(gammas, horizon)
    b = _cross(jnp.asarray(hurst, gammas.dtype), gammas, horizon)
    d = 1 / jnp.sqrt(jnp.diag(a))
    scaled = a * d[:, None] * d[None, :]
    return d * jnp.linalg.solve(scaled, b * d)


def ou_covariance(
    gammas: Float[Array, " K"], s: Float[Array, ""] | float, t: Float[Array, ""] | float
) -> Float[Array, "K K"]:
    """`Cov(Y_i(s), Y_j(t))` of OU processes started at 0 and driven by one Brownian motion.

    **Arguments:** the speeds `gammas` (positive, shape `(K,)`) and two times `s, t >= 0`.

    **Returns:** shape `(K, K)`.
    """
    gammas = _check_gammas("ou_covariance", gammas)
    check_positive("ou_covariance", "s", s, allow_zero=True)
    check_positive("ou_covariance", "t", t, allow_zero=True)
    m = jnp.minimum(s, t)
    g = gammas[:, None] + gammas[None, :]
    return (
        jnp.exp(-gammas[:, None] * (s - m) - gammas[None, :] * (t - m)) * (-jnp.expm1(-g * m)) / g
    )


def riemann_liouville_variance(hurst, t):
    """`Var B_H(t) = t^(2H) / (2H Γ(H+1/2)^2)` of Riemann–Liouville (type II) fBM.

    **Arguments:** `hurst` in (0, 1) and times `t >= 0` (any shape).

    **Returns:** the variance, shape of `t`.
    """
    _check_hurst("riemann_liouville_variance", hurst)
    t = check_dtype("riemann_liouville_variance", "t", t, cast_integers=True)
    if _concrete(t) and not np.all(np.asarray(t) >= 0):
        raise ValueError(f"riemann_liouville_variance: t must be >= 0, got t={np.asarray(t)}.")
    return t ** (2 * hurst) / (2 * hurst) * jnp.exp(-2 * gammaln(hurst + 0.5))


def riemann_liouville_covariance(hurst: float, ts) -> np.ndarray:
    """The exact covariance matrix `Cov(B_H(s), B_H(t))` of Riemann–Liouville (type II) fBM.

    `Γ(H+1/2)^-2 ∫_0^min(s,t) (s-u)^(H-1/2) (t-u)^(H-1/2) du` for every pair of `ts`, by
    adaptive quadrature (scipy's QUADPACK, which handles the integrable endpoint singularity
    for `H < 1/2`). For generating exact fBM data (Cholesky factor times white noise) to test
    the Markov approximation against; not differentiable.

    **Arguments:** `hurst` in (0, 1) and the times `ts` (shape `(T,)`, positive).

    **Returns:** a symmetric `(T, T)` float64 numpy array.

    **Raises:** `ValueError` for `hurst` outside (0, 1) or times that are not positive.
    """
    from scipy.integrate import quad
    from scipy.special import gamma

    _check_hurst("riemann_liouville_covariance", hurst)
    hurst = float(hurst)
    ts = np.asarray(check_dtype("riemann_liouville_covariance", "ts", ts, cast_integers=True))
    ts = ts.astype(np.float64)
    if ts.ndim != 1 or not np.all(np.isfinite(ts) & (ts > 0)):
        raise ValueError(
            f"riemann_liouville_covariance: ts must be a 1-D array of positive times, got ts={ts}."
        )
    a = hurst - 0.5
    cov = np.empty((ts.size, ts.size))
    for i, s in enumerate(ts):
        for j in range(i, ts.size):
            t = ts[j]
            kernel = lambda u, s=s, t=t: (s - u) ** a * (t - u) ** a  # noqa: E731
            value = quad(kernel, 0.0, min(s, t), limit=200)[0]
            cov[i, j] = cov[j, i] = value / gamma(hurst + 0.5) ** 2
    return cov


def ma_fbm_error(hurst, gammas, horizon: float = 1.0, weights=None) -> Float[Array, ""]:
    """The approximation error `∫_0^T E[(B_H(t) - Σ ω_k Y_k(t))^2] dt` in closed form.

    **Arguments:** as in `ma_fbm_weights`; `weights` defaults to the optimal ones.

    **Returns:** a scalar (at the optimum: `∫ Var B_H - b·ω`).
    """
    _check_hurst("ma_fbm_error", hurst)
    gammas = _check_gammas("ma_fbm_error", gammas)
    check_positive("ma_fbm_error", "horizon", horizon)
    hurst = jnp.asarray(hurst, gammas.dtype)
    if weights is not None:
        weights = check_dtype("ma_fbm_error", "weights", weights, cast_integers=True)
        weights = check_shape("ma_fbm_error", "weights", weights, shape=gammas.shape)
    w = ma_fbm_weights(hurst, gammas, horizon) if weights is None else weights
    total = (
        horizon ** (2 * hurst + 1)
        / ((2 * hurst) * (2 * hurst + 1))
        * jnp.exp(-2 * gammaln(hurst + 0.5))
    )
    return total - 2 * _cross(hurst, gammas, horizon) @ w + w @ _gram(gammas, horizon) @ w


class MarkovFBM(eqx.Module):
    """Markov-approximate fractional Brownian motion with a learnable Hurst index.

    **Arguments:**

    - `hurst`: initial Hurst index in (0, 1); stored through a logit so it stays there.
    - `n_processes`: K, the number of OU processes.
    - `ratio`: the geometric ratio r of the speeds `γ_k`.
    - `horizon`: T, the interval the weights are optimised over.

    `weights()` gives `ω(H)`; `sample(ts, key=...)` draws `B_H` at `ts` exactly (up to the
    approximation); `augment(drift, diffusion)` turns an SDE driven by `dB_H` into a Markov SDE
    driven by `dW` on the state `(x, Y)`.
    """

    hurst_logit: Float[Array, ""]
    gammas: Float[Array, " K"]
    horizon: float = eqx.field(static=True)

    def __init__(
        self,
        hurst: float = 0.5,
        *,
        n_processes: int = 5,
        ratio: float = 10.0,
        horizon: float = 1.0,
    ):
        _check_hurst("MarkovFBM", hurst)
        check_positive("MarkovFBM", "horizon", horizon)
        self.hurst_logit = jnp.log(jnp.asarray(hurst) / (1 - jnp.asarray(hurst)))
        self.gammas = ma_fbm_gammas(n_processes, ratio)
        self.horizon = float(horizon)

    @property
    def n_processes(self) -> int:
        """K, the number of OU processes (the length of `gammas`)."""
        return self.gammas.shape[0]

    @property
    def hurst(self) -> Float[Array, ""]:
        """The Hurst index `H = sigmoid(hurst_logit)`."""
        return jax.nn.sigmoid(self.hurst_logit)

    def weights(self) -> Float[Array, " K"]:
        """The optimal weights `ω(H)`, differentiable in `H`."""
        return ma_fbm_weights(self.hurst, jax.lax.stop_gradient(self.gammas), self.horizon)

    def covariance(self, s: Float[Array, ""], t: Float[Array, ""]) -> Float[Array, ""]:
        """`Cov(B̂_H(s), B̂_H(t)) = ω^T Cov(Y(s), Y(t)) ω` of the approximation, differentiable
        in `H` (the speeds `γ_k` are fixed)."""
        w = self.weights()
        return w @ ou_covariance(jax.lax.stop_gradient(self.gammas), s, t) @ w

    def sample(self, ts: Float[Array, " time"], *, key: Key) -> Float[Array, " time"]:
        """Exact Gaussian sample of `Σ_k ω_k Y_k` at increasing `ts` (starting from `Y(0) = 0`).

        **Returns:** shape `(time,)`.
        """
        ts = check_dtype("MarkovFBM.sample", "ts", ts, cast_integers=True)
        ts = check_shape("MarkovFBM.sample", "ts", ts, ndim=1, meaning="(time,)")
        if _concrete(ts):
            t = np.asarray(ts)
            if not (np.all(np.isfinite(t)) and np.all(np.diff(np.concatenate([[0.0], t])) >= 0)):
                raise ValueError(
                    "MarkovFBM.sample: ts must be finite, non-negative and increasing (the "
                    f"process starts at Y(0) = 0), got ts={t}."
                )
        gammas = jax.lax.stop_gradient(self.gammas)
        dts = jnp.diff(jnp.concatenate([jnp.zeros((1,), ts.dtype), ts]))
        keys = jax.random.split(key, ts.shape[0])

        def step(y, inp):
            dt, k = inp
            cov = ou_covariance(gammas, dt, dt)
            chol = jnp.linalg.cholesky(cov + 1e-12 * jnp.eye(gammas.shape[0], dtype=cov.dtype))
            y = jnp.exp(-gammas * dt) * y + chol @ jax.random.normal(k, gammas.shape, ts.dtype)
            return y, y

        _, ys = jax.lax.scan(step, jnp.zeros_like(gammas), (dts, keys))
        return ys @ self.weights()

    def augment(self, drift: Callable, diffusion: Callable) -> tuple[Callable, Callable]:
        """Markov SDE on `(x, Y)` for `dx = drift(t, x, args) dt + diffusion(t, x, args) dB_H`.

        With `dB_H ≈ Σ ω_k dY_k = -(Σ ω_k γ_k Y_k) dt + (Σ ω_k) dW`, the augmented drift is
        `(drift - diffusion * Σ ω_k γ_k Y_k, -γ Y)` and the diffusion (one Brownian motion) is
        `(diffusion * Σ ω_k, 1)`. `x` has shape `(d,)`; `diffusion` returns shape `(d,)` (one
        fractional noise shared by all components, scaled per component).

        **Returns:** `(aug_drift, aug_diffusion)` acting on `z = concat(x, Y)`, with
        `aug_diffusion(t, z, args)` of shape `(d + K, 1)` (a `diffrax.ControlTerm` with a scalar
        Brownian motion). The weights `ω(H)` are evaluated once, here: call `augment` inside the
        loss so that a learned `H` is current (the gradient reaches `H` through the returned
        `eqx.Partial`s).
        """
        for name, fn in (("drift", drift), ("diffusion", diffusion)):
            if not callable(fn):
                raise TypeError(f"MarkovFBM.augment: {name} must be callable, got {fn!r}.")
        gammas = jax.lax.stop_gradient(self.gammas)
        # the weights are computed once per call, not at every solver step; `eqx.Partial` keeps
        # them (and through them H) visible to diffrax's adjoints as pytree leaves
        w = self.weights()
        aug_drift = eqx.Partial(_augmented_drift, w, gammas, drift, diffusion)
        aug_diffusion = eqx.Partial(_augmented_diffusion, w, gammas, diffusion)
        return aug_drift, aug_diffusion


def _augmented_drift(w, gammas, drift, diffusion, t, z, args):
    k = gammas.shape[0]
    x, y = z[:-k], z[-k:]
    return jnp.concatenate(
        [drift(t, x, args) - diffusion(t, x, args) * (w @ (gammas * y)), -gammas * y]
    )


def _augmented_diffusion(w, gammas, diffusion, t, z, args):
    x = z[: -gammas.shape[0]]
    col = jnp.concatenate([diffusion(t, x, args) * jnp.sum(w), jnp.ones_like(gammas)])
    return col[:, None]

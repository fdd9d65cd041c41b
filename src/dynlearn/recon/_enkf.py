"""The stochastic ensemble Kalman filter (EnKF) with perturbed observations.

Evensen (1994); Burgers, van Leeuwen & Evensen, "Analysis scheme in the ensemble Kalman filter"
(Mon. Weather Rev. 1998), which showed that the observations must be perturbed for the analysis
ensemble to have the Kalman covariance. For a linear Gaussian system the EnKF converges to the
Kalman filter as the ensemble grows.

Each cycle: forecast every member with the (possibly imperfect) model, add process noise,
inflate the anomalies, then update with the Kalman gain estimated from the ensemble:
`x_i^a = x_i^f + K (y + ε_i - h(x_i^f))`, `K = P_xh (P_hh + R)⁻¹`, `ε_i ~ N(0, R)`.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array, ArrayLike, Float, Key
from .._validation import check_callable, check_dtype, check_finite, check_positive, check_shape


class EnKFResult(eqx.Module):
    """Output of `ensemble_kalman_filter`.

    **Fields:**

    - `mean`: analysis means, `(time, state)`.
    - `spread`: analysis standard deviations per component, `(time, state)`.
    - `forecast_mean`: forecast (prior) means before each analysis, `(time, state)`.
    - `ensembles`: all analysis ensembles `(time, members, state)`, or `None`.
    """

    mean: Float[Array, "time state"]
    spread: Float[Array, "time state"]
    forecast_mean: Float[Array, "time state"]
    ensembles: Float[Array, "time members state"] | None


def enkf_analysis(
    ensemble: Float[Array, "members state"],
    observation: Float[Array, " obs"],
    observe: Callable[[Array], Array],
    obs_cov: Float[Array, "obs obs"],
    *,
    key: Key,
) -> Float[Array, "members state"]:
    """One stochastic EnKF analysis step with perturbed observations.

    **Arguments:**

    - `ensemble`: forecast members `(members, state)`.
    - `observation`: the observation `y`, `(obs,)`.
    - `observe`: the observation operator `h(x) -> (obs,)` for one state.
    - `obs_cov`: observation-noise covariance `R`, `(obs, obs)`.
    - `key`: PRNG key for the observation perturbations.

    **Returns:** the analysis ensemble, same shape as `ensemble`.

    **Raises:** `ValueError` for fewer than 2 members, shapes that do not match, NaN or inf in
    the data, or an `obs_cov` that is not a symmetric positive-definite `(obs, obs)` matrix;
    `TypeError` for complex data or a non-callable `observe`.
    """
    where = "enkf_analysis"
    _check_key(where, key)
    ens = check_dtype(where, "ensemble", ensemble, cast_integers=True)
    if ens.ndim != 2 or ens.shape[0] < 2:
        raise ValueError(
            f"{where}: ensemble must have shape (members >= 2, state), got {tuple(ens.shape)}"
        )
    check_finite(where, "ensemble", ens)
    check_callable(where, "observe", observe)
    out = jax.eval_shape(observe, ens[0])
    n_obs = out.shape[0] if out.ndim == 1 else None
    y = check_dtype(where, "observation", observation, cast_integers=True).astype(ens.dtype)
    check_shape(where, "observation", y, shape=(n_obs,) if n_obs else None, ndim=1)
    if out.shape != y.shape:
        raise ValueError(
            f"{where}: observe(x) returns shape {tuple(out.shape)}, but observation has shape "
            f"{tuple(y.shape)}"
        )
    check_finite(where, "observation", y)
    r = _as_cov(obs_cov, y.shape[0], ens.dtype, "obs_cov", where, positive=True)
    return _analysis(ens, y, observe, r, key=key)


def _analysis(ensemble, observation, observe, obs_cov, *, key):
    """`enkf_analysis` without the checks (the filter's compiled loop)."""
    n_members = ensemble.shape[0]
    hx = jax.vmap(observe)(ensemble)
    anomalies = ensemble - jnp.mean(ensemble, axis=0, keepdims=True)
    h_anomalies = hx - jnp.mean(hx, axis=0, keepdims=True)
    p_xh = anomalies.T @ h_anomalies / (n_members - 1)
    p_hh = h_anomalies.T @ h_anomalies / (n_members - 1) + obs_cov
    chol = jnp.linalg.cholesky(obs_cov)
    eps = jax.random.normal(key, hx.shape, ensemble.dtype) @ chol.T
    innovations = observation[None, :] + eps - hx
    gain_t = jnp.linalg.solve(p_hh, p_xh.T)  # K^T, since P_hh is symmetric
    return ensemble + innovations @ gain_t


def ensemble_kalman_filter(
    step: Callable[[Array], Array],
    initial_ensemble: Float[ArrayLike, "..."],
    observations: Float[ArrayLike, "..."],
    *,
    observe: Callable[[Array], Array] | Float[ArrayLike, "..."],
    obs_cov: Float[ArrayLike, "..."] | float,
    key: Key,
    process_cov: Float[ArrayLike, "..."] | float | None = None,
    inflation: float = 1.0,
    return_ensembles: bool = False,
) -> EnKFResult:
    """Filter a sequence of observations with the stochastic EnKF.

    The ensemble starts at time 0; observation `t` (row `t` of `observations`) is of the state
    `t + 1` model steps later. Each cycle forecasts with `step`, adds process noise with
    covariance `process_cov`, multiplies the anomalies by `inflation`, then runs
    `enkf_analysis`. The loop is one compiled `lax.scan`.

    **Arguments:**

    - `step`: the model's one-step map `x -> x_next` for one state (`Map` protocol).
    - `initial_ensemble`: prior members at time 0, `(members, state)`, `members >= 2`.
    - `observations`: `(time, obs)`; a NaN-free array.
    - `observe`: the observation operator: a callable `h(x)` or a matrix `H` of shape
      `(obs, state)`.
    - `obs_cov`: `R`, a matrix `(obs, obs)`, a vector of variances, or a scalar variance.
    - `key`: PRNG key.
    - `process_cov`: model-noise covariance `Q` (matrix, vector of variances, scalar) or `None`.
    - `inflation`: multiplicative anomaly inflation (>= 1 counters sampling error).
    - `return_ensembles`: also return every analysis ensemble.

    **Returns:** an `EnKFResult`.

    **Raises:** `ValueError` for fewer than 2 members, mismatched shapes, NaN or inf in the
    ensemble or the observations, an `obs_cov` that is not positive definite (negative or zero
    variances), a `process_cov` that is not positive semi-definite, or a non-positive
    `inflation`; `TypeError` for complex data or a non-callable `step`.
    """
    where = "ensemble_kalman_filter"
    check_callable(where, "step", step)
    _check_key(where, key)
    ens = check_dtype(where, "initial_ensemble", initial_ensemble, cast_integers=True)
    obs = check_dtype(where, "observations", observations, cast_integers=True).astype(ens.dtype)
    if ens.ndim != 2 or ens.shape[0] < 2:
        raise ValueError(
            f"ensemble_kalman_filter: initial_ensemble must have shape (members >= 2, state), "
            f"got {tuple(ens.shape)}"
        )
    if obs.ndim != 2:
        raise ValueError(
            f"ensemble_kalman_filter: observations must have shape (time, obs), got "
            f"{tuple(obs.shape)}"
        )
    check_finite(where, "initial_ensemble", ens)
    check_finite(where, "observations", obs)
    n_state, n_obs = ens.shape[1], obs.shape[1]
    stepped = jax.eval_shape(step, ens[0])
    if getattr(stepped, "shape", None) != (n_state,):
        raise ValueError(
            f"{where}: step(x) must return a state of shape ({n_state},) (a row of "
            f"initial_ensemble), got {getattr(stepped, 'shape', stepped)}"
        )
    if not callable(observe):
        h = check_dtype(where, "observe", observe, cast_integers=True).astype(ens.dtype)
        if h.shape != (n_obs, n_state):
            raise ValueError(
                f"ensemble_kalman_filter: observe, an observation matrix, must have shape "
                f"({n_obs}, {n_state}) (obs, state), got {tuple(h.shape)}"
            )
        observe = lambda x: h @ x
    out = jax.eval_shape(observe, ens[0])
    if out.shape != (n_obs,):
        raise ValueError(
            f"ensemble_kalman_filter: observe(x) returns shape {tuple(out.shape)}, but the "
            f"observations have {n_obs} components"
        )
    r = _as_cov(obs_cov, n_obs, ens.dtype, "obs_cov", where, positive=True)
    q_chol = None
    if process_cov is not None:
        q = _as_cov(process_cov, n_state, ens.dtype, "process_cov", where, positive=False)
        q_chol = jnp.linalg.cholesky(q)
        if not isinstance(q, jax.core.Tracer) and not bool(jnp.all(jnp.isfinite(q_chol))):
            # a singular Q (some zero variances): any square root L with L Lᵀ = Q will do
            w, v = jnp.linalg.eigh(q)
            q_chol = v * jnp.sqrt(jnp.maximum(w, 0))[None, :]
    check_positive(where, "inflation", inflation)
    return _run(step, observe, ens, obs, r, q_chol, float(inflation), key, return_ensembles)


def _check_key(where: str, key) -> None:
    if key is None:
        raise TypeError(f"{where}: key must be a PRNG key (jax.random.key(seed)), got key=None")


def _as_cov(cov, n, dtype, name, where="ensemble_kalman_filter", *, positive=True):
    """A covariance `(n, n)` from a scalar, a vector of variances or a matrix; checked to be
    finite, symmetric and positive definite (`positive`) or semi-definite."""
    c = check_dtype(where, name, cov, cast_integers=True).astype(dtype)
    check_finite(where, name, c)
    concrete = not isinstance(c, jax.core.Tracer)
    if c.ndim == 0:
        c = c * jnp.ones(n, dtype)
    if c.ndim == 1 and c.shape[0] == n:
        low = jnp.min(c) if concrete else 1.0
        if not (low > 0 if positive else low >= 0):
            sign = "positive" if positive else "non-negative"
            raise ValueError(f"{where}: {name} variances must be {sign}, got {name}={cov!r}")
        return jnp.diag(c)
    if c.shape != (n, n):
        raise ValueError(
            f"{where}: {name} must be a scalar, ({n},) or ({n}, {n}), got shape {tuple(c.shape)}"
        )
    if not concrete:
        return c
    if not bool(jnp.allclose(c, c.T, rtol=1e-5, atol=1e-6 * float(jnp.max(jnp.abs(c))))):
        raise ValueError(f"{where}: {name} must be a symmetric matrix, got {name}={c}")
    low = float(jnp.min(jnp.linalg.eigvalsh(c)))
    scale = float(jnp.max(jnp.abs(c)))
    if not (low > 0 if positive else low >= -1e-6 * scale):
        what = "positive definite" if positive else "positive semi-definite"
        raise ValueError(
            f"{where}: {name} must be {what}, got smallest eigenvalue {low:.3g} for {name}={c}"
        )
    return c


@eqx.filter_jit
def _run(step, observe, ens, obs, r, q_chol, inflation, key, return_ensembles):
    def cycle(members, inputs):
        y, k = inputs
        k_q, k_a = jax.random.split(k)
        members = jax.vmap(step)(members)
        if q_chol is not None:
            noise = jax.random.normal(k_q, members.shape, members.dtype) @ q_chol.T
            members = members + noise
        mean = jnp.mean(members, axis=0, keepdims=True)
        members = mean + inflation * (members - mean)
        analysis = _analysis(members, y, observe, r, key=k_a)
        out = (jnp.mean(analysis, axis=0), jnp.std(analysis, axis=0, ddof=1), mean[0])
        if return_ensembles:
            out = out + (analysis,)
        return analysis, out

    keys = jax.random.split(key, obs.shape[0])
    _, outs = jax.lax.scan(cycle, ens, (obs, keys))
    return EnKFResult(outs[0], outs[1], outs[2], outs[3] if return_ensembles else None)

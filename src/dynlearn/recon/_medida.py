"""Model-error discovery from data-assimilated states (MEDIDA).

Mojgani, Chattopadhyay & Hassanzadeh, "Discovery of interpretable structural model errors by
combining Bayesian sparse regression and data assimilation" (Chaos 2022). Given noisy, sparse
observations of a system and an imperfect model of it:

1. run an ensemble Kalman filter with the imperfect model to get analysis states `û_k`;
2. form the one-step model error `e_k = (û_{k+1} - M(û_k)) / Δt`, with `M` the imperfect model
   advanced over one observation interval;
3. regress `e_k` on a library of candidate terms evaluated at `û_k` with a sparse regression.

The paper uses a relevance vector machine for step 3 (`RVM`, the default here); any other
`AbstractSparseOptimizer` (STLSQ, SR3) works too. For fields on a periodic grid,
`spectral_derivative_library` builds the usual PDE library (`u`, its derivatives and products).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array, ArrayLike, Float
from .._validation import check_callable, check_dtype, check_finite, check_int, check_positive
from ._sindy_optimizers import RVM, AbstractSparseOptimizer


class ModelErrorResult(eqx.Module):
    """Output of `discover_model_error`.

    **Fields:**

    - `coefficients`: sparse coefficients of the library terms, `(features,)`.
    - `model_error`: the one-step errors `e_k`, `(time - 1, points)`.
    - `names`: the library term names (or `None`).
    """

    coefficients: Float[Array, " features"]
    model_error: Float[Array, "time points"]
    names: tuple[str, ...] | None = eqx.field(static=True)

    def terms(self, *, precision: int = 3) -> str:
        """The discovered error as a readable sum, e.g. `"-0.5 u_xx"`."""
        names = self.names or tuple(f"f{i}" for i in range(self.coefficients.shape[0]))
        parts = [
            f"{float(c):.{precision}g} {n}" for c, n in zip(self.coefficients, names) if c != 0
        ]
        return " + ".join(parts).replace("+ -", "- ") if parts else "0"


def spectral_derivative_library(
    length: float,
    *,
    max_order: int = 4,
    products: bool = True,
) -> tuple[Callable[[Array], Array], tuple[str, ...]]:
    """A PDE candidate library on a periodic 1-D grid, with spectral derivatives.

    Terms: `u, u_x, u_xx, ..., ∂^max_order u`, and with `products` also `u²` and `u ∂^j u` for
    `j = 1..max_order`.

    **Arguments:**

    - `length`: the spatial period of the grid.
    - `max_order`: the highest derivative.
    - `products`: include the quadratic terms.

    **Returns:** `(features, names)`: `features(u)` maps a field `(points,)` to
    `(points, n_terms)`; `names` labels the columns.

    **Raises:** `ValueError` for a `length` that is not finite and positive or `max_order < 1`.
    """
    check_positive("spectral_derivative_library", "length", length)
    check_int("spectral_derivative_library", "max_order", max_order)
    names = ["u"] + ["u_" + "x" * j for j in range(1, max_order + 1)]
    if products:
        names += ["u^2"] + ["u u_" + "x" * j for j in range(1, max_order + 1)]

    def features(u: Float[Array, " points"]) -> Float[Array, "points terms"]:
        n = u.shape[0]
        k = 2 * jnp.pi * jnp.fft.rfftfreq(n, d=length / n).astype(u.dtype)
        u_hat = jnp.fft.rfft(u)
        ik = jax.lax.complex(jnp.zeros_like(k), k)
        derivs = [jnp.fft.irfft(ik**j * u_hat, n=n) for j in range(1, max_order + 1)]
        cols = [u] + derivs
        if products:
            cols += [u * u] + [u * d for d in derivs]
        return jnp.stack(cols, axis=1)

    return features, tuple(names)


def discover_model_error(
    states: Float[ArrayLike, "..."],
    model_step: Callable[[Array], Array],
    dt: float,
    features: Callable[[Array], Array],
    *,
    optimizer: AbstractSparseOptimizer | None = None,
    names: Sequence[str] | None = None,
    propagate_library: bool = False,
) -> ModelErrorResult:
    """Sparse regression of the one-step model error on a candidate library (MEDIDA step 2-3).

    `e_k = (states[k+1] - model_step(states[k])) / dt` is regressed, point by point, on
    `features(states[k])`; the coefficients are shared by all points and times. The columns are
    scaled to unit root-mean-square before the regression, so the optimizer's threshold applies
    to the contribution of each term, and the coefficients are mapped back to the raw terms.

    The plain regression (MEDIDA's) attributes to the missing term `g` what is really its effect
    after one interval of the model's own dynamics, a bias of order `dt ||∂M/∂u||` that is large
    for stiff models (Kuramoto–Sivashinsky observed every 0.1: `-0.47 u_xx` plus spurious small
    terms instead of `-0.5 u_xx`). With `propagate_library=True` the variation-of-constants
    integral `states[k+1] - M(states[k]) ≈ ∫ Φ(dt - s) g(u(s)) ds` is approximated by the
    trapezoid rule, i.e. the regressors are `½ [J_M(states[k]) Θ(states[k]) + Θ(states[k+1])]`
    with `J_M` the model step's Jacobian (one `jax.jvp` per library column), which removes the
    first-order bias for accurate states (noise-free KS every 0.1: `-0.498 u_xx` alone). It is
    not suited to EnKF analysis states: `states[k+1]` then carries the analysis increment that
    makes up most of the regressed error, and the regressors built from it are biased (measured
    in `examples/recon_medida_ks.py`: several spurious terms); use the plain regression there.

    **Arguments:**

    - `states`: analysis states (e.g. `EnKFResult.mean`), `(time, points)`, one observation
      interval `dt` apart.
    - `model_step`: the imperfect model over one interval, `(points,) -> (points,)`.
    - `dt`: the interval.
    - `features`: `(points,) -> (points, n_terms)`, e.g. from `spectral_derivative_library`.
    - `optimizer`: the sparse regression (default `RVM()`, as in the paper).
    - `names`: term names for `ModelErrorResult.terms`.
    - `propagate_library`: use the trapezoid-rule regressors above (`model_step` must be
      differentiable by `jax.jvp`).

    **Returns:** a `ModelErrorResult`.

    **Raises:** `ValueError` for fewer than 2 states, NaN or inf in `states`, a `dt` that is not
    finite and positive, a `model_step` or `features` output of the wrong shape, or `names` of
    the wrong length; `TypeError` for complex states or non-callable functions.
    """
    where = "discover_model_error"
    u = check_dtype(where, "states", states, cast_integers=True)
    check_callable(where, "model_step", model_step)
    check_callable(where, "features", features)
    if u.ndim != 2 or u.shape[0] < 2:
        raise ValueError(
            f"discover_model_error: states must have shape (time >= 2, points), got "
            f"{tuple(u.shape)}"
        )
    check_finite(where, "states", u)
    check_positive(where, "dt", dt)
    optimizer = RVM() if optimizer is None else optimizer
    if not isinstance(optimizer, AbstractSparseOptimizer):
        raise TypeError(
            f"{where}: optimizer must be a dynlearn.recon.AbstractSparseOptimizer (or None), "
            f"got optimizer={optimizer!r}"
        )
    stepped = jax.eval_shape(model_step, u[0])
    if getattr(stepped, "shape", None) != u.shape[1:]:
        raise ValueError(
            f"{where}: model_step(u) must return a state of shape {u.shape[1:]} (a row of "
            f"states), got {getattr(stepped, 'shape', stepped)}"
        )
    out = jax.eval_shape(features, u[0])
    if out.ndim != 2 or out.shape[0] != u.shape[1]:
        raise ValueError(
            f"discover_model_error: features(u) must return (points={u.shape[1]}, terms), got "
            f"{tuple(out.shape)}"
        )
    if names is not None and len(names) != out.shape[1]:
        raise ValueError(
            f"discover_model_error: {len(names)} names for {out.shape[1]} library terms"
        )
    coef, error = _regress(u, model_step, dt, features, optimizer, propagate_library)
    return ModelErrorResult(coef, error, None if names is None else tuple(names))


@eqx.filter_jit
def _regress(u, model_step, dt, features, optimizer, propagate):
    feats = jax.vmap(features)(u)  # each state's library once (the propagated form uses both ends)
    theta = feats[:-1]
    if propagate:

        def step_and_push(uk, cols):
            # M(u_k) and J_M(u_k) applied to every library column, from one linearization
            predicted, push = jax.linearize(model_step, uk)
            return predicted, jax.vmap(push, in_axes=1, out_axes=1)(cols)

        predicted, pushed = jax.vmap(step_and_push)(u[:-1], theta)
        theta = 0.5 * (pushed + feats[1:])
    else:
        predicted = jax.vmap(model_step)(u[:-1])
    error = (u[1:] - predicted) / dt
    theta = theta.reshape(-1, theta.shape[-1])
    # Terms differ in scale by orders of magnitude (u vs u_xxxx): regress on unit-RMS columns
    # so that one sparsity threshold suits all, then map the coefficients back.
    scale = jnp.sqrt(jnp.mean(theta**2, axis=0))
    scale = jnp.where(scale > 0, scale, 1)
    coef = optimizer.fit(theta / scale[None, :], error.reshape(-1, 1))[0] / scale
    return coef, error

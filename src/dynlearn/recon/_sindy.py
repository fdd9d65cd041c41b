"""Sparse identification of nonlinear dynamics (SINDy; Brunton, Proctor & Kutz, PNAS 2016).

`fit_sindy` estimates derivatives, evaluates a candidate library and solves a sparse regression;
the result is a `SINDy` module with a `vector_field(t, y, args)` (the flow interface every
dynlearn analysis tool accepts) that simulates with dynlearn's fixed-step integrators.
"""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array, ArrayLike, Float, Key
from .._validation import check_dtype, check_finite, check_int, check_positive, check_shape
from ..kernels import odeint_fixed
from ._derivatives import AbstractDerivative, FiniteDifference
from ._sindy_library import AbstractLibrary, PolynomialLibrary
from ._sindy_optimizers import STLSQ, AbstractSparseOptimizer, Ensemble


class SINDy(eqx.Module):
    """A sparse model `dx/dt = Ξ Θ(x)` found by SINDy.

    **Arguments:**

    - `library`: the candidate library `Θ`.
    - `coefficients`: `Ξ`, of shape `(dim, features)`.
    - `coefficient_samples`: the bootstrap coefficients of an ensemble fit, or `None`.
    - `dt`: the sampling step of the data it was fitted to (`fit_sindy` records it), or `None`;
      the default step of `dynlearn.forecast`.
    """

    library: AbstractLibrary
    coefficients: Float[Array, "dim features"]
    coefficient_samples: Float[Array, "models dim features"] | None = None
    dt: float | None = eqx.field(static=True, default=None)

    def vector_field(self, t, y: Float[Array, " dim"], args=None) -> Float[Array, " dim"]:
        """`dx/dt` at state `y` (autonomous: `t` and `args` are ignored)."""
        del t, args
        return self.coefficients @ self.library(y)

    def __call__(self, t, y: Float[Array, " dim"], args=None) -> Float[Array, " dim"]:
        """Same as `vector_field`."""
        return self.vector_field(t, y, args)

    def init_state(self, context: Float[ArrayLike, "time dim"]) -> Float[Array, " dim"]:
        """The state at the end of an observed `context`: its last row (the dynamical-model
        contract).

        **Arguments:**

        - `context`: observed states, shape `(time, dim)`.

        **Returns:** `context[-1]`.
        """
        context = jnp.asarray(context, self.coefficients.dtype)
        dim = self.coefficients.shape[0]
        if context.ndim != 2 or context.shape[0] < 1 or context.shape[1] != dim:
            raise ValueError(
                f"SINDy: context must have shape (time >= 1, {dim}), got {tuple(context.shape)}"
            )
        return context[-1]

    def observe(self, y: Float[Array, " dim"]) -> Float[Array, " dim"]:
        """The observation of a state: the state itself."""
        return y

    def simulate(
        self,
        ts: Float[ArrayLike, " time"],
        y0: Float[ArrayLike, " dim"],
        *,
        steps_per_interval: int = 1,
    ) -> Float[Array, "time dim"]:
        """Integrate the model with fixed RK4 steps and return the states at `ts`.

        **Arguments:**

        - `ts`: increasing output times (before `y0`, as in `NeuralODE(ts, y0)`).
        - `y0`: the initial state at `ts[0]`.
        - `steps_per_interval`: RK4 substeps between consecutive output times.

        **Returns:** the states, shape `(len(ts), dim)`, first row `y0`.
        """
        where = "SINDy.simulate"
        dim = self.coefficients.shape[0]
        y0 = check_dtype(where, "y0", y0, cast_integers=True).astype(self.coefficients.dtype)
        check_shape(where, "y0", y0, shape=(dim,))
        check_finite(where, "y0", y0)
        ts = check_dtype(where, "ts", ts, cast_integers=True).astype(self.coefficients.dtype)
        check_shape(where, "ts", ts, ndim=1, meaning="(time,)")
        if not isinstance(ts, jax.core.Tracer) and ts.shape[0] > 1:
            if not bool(jnp.all(jnp.diff(ts) > 0)):
                raise ValueError(f"{where}: ts must be strictly increasing, got ts={ts}")
        steps_per_interval = check_int(where, "steps_per_interval", steps_per_interval)
        return _simulate(self, y0, ts, steps_per_interval)

    def inclusion_probability(self) -> Float[Array, "dim features"]:
        """Fraction of ensemble members in which each term is non-zero (ensemble fits only)."""
        if self.coefficient_samples is None:
            raise ValueError("SINDy.inclusion_probability: the model was not fitted as an ensemble")
        return jnp.mean((self.coefficient_samples != 0).astype(self.coefficients.dtype), axis=0)

    def equations(self, names: Sequence[str] | None = None, *, precision: int = 3) -> list[str]:
        """Human-readable right-hand sides, one string per state variable.

        **Arguments:**

        - `names`: variable names (default `x0, x1, ...`).
        - `precision`: significant digits of the coefficients.

        **Returns:** a list like `["-10 x + 10 y", ...]`.
        """
        dim = self.coefficients.shape[0]
        names = [f"x{i}" for i in range(dim)] if names is None else list(names)
        if len(names) != dim:
            raise ValueError(
                f"SINDy.equations: names must have one name per state variable ({dim}), got "
                f"{len(names)}: {names!r}"
            )
        features = self.library.feature_names(names)
        out = []
        for row in jax.device_get(self.coefficients):
            terms = [
                f"{c:.{precision}g}" + ("" if f == "1" else f" {f}")
                for c, f in zip(row, features)
                if c != 0
            ]
            out.append(" + ".join(terms).replace("+ -", "- ") if terms else "0")
        return out


@eqx.filter_jit
def _simulate(model, y0, ts, steps_per_interval):
    return odeint_fixed(
        model.vector_field, ts, y0, None, method="rk4", steps_per_interval=steps_per_interval
    )


def fit_sindy(
    x: Float[ArrayLike, "..."],
    *,
    dt: float | None = None,
    x_dot: Float[ArrayLike, "..."] | None = None,
    library: AbstractLibrary | None = None,
    optimizer: AbstractSparseOptimizer | None = None,
    derivative: AbstractDerivative | None = None,
    ensemble: Ensemble | None = None,
    key: Key | None = None,
) -> SINDy:
    """Fit a SINDy model `dx/dt = Ξ Θ(x)` to one trajectory (or stacked trajectories).

    **Arguments:**

    - `x`: states, shape `(time, dim)`.
    - `dt`: sampling step, used to estimate derivatives when `x_dot` is not given.
    - `x_dot`: known derivatives (e.g. exact ones), shape `(time, dim)`.
    - `library`: candidate functions (default `PolynomialLibrary(2)`).
    - `optimizer`: sparse regression (default `STLSQ(0.1)`).
    - `derivative`: derivative estimator (default `FiniteDifference()`).
    - `ensemble`: bag the regression over row subsets (needs `key`).
    - `key`: PRNG key for the ensemble.

    **Returns:** the fitted `SINDy` module.

    **Raises:** `ValueError` for a non-2-D `x`, NaN or inf in `x` or `x_dot` (the message gives
    the first position), mismatched `x_dot`, neither `dt` nor `x_dot`, a `dt` that is not
    finite and positive, fewer samples than needed, or an ensemble without `key`; `TypeError`
    for complex or non-numeric data (pass real and imaginary parts as separate variables) and
    for a `library`, `optimizer`, `derivative` or `ensemble` of the wrong type.
    """
    where = "fit_sindy"
    x = check_dtype(where, "x", x, cast_integers=True)
    check_shape(where, "x", x, ndim=2, meaning="(time, dim)")
    check_finite(where, "x", x)
    library = PolynomialLibrary(2) if library is None else library
    optimizer = STLSQ() if optimizer is None else optimizer
    for name, value, cls in (
        ("library", library, AbstractLibrary),
        ("optimizer", optimizer, AbstractSparseOptimizer),
        ("derivative", derivative, AbstractDerivative),
        ("ensemble", ensemble, Ensemble),
    ):
        if value is not None and not isinstance(value, cls):
            raise TypeError(
                f"{where}: {name} must be a dynlearn.recon.{cls.__name__} (or None), got "
                f"{name}={value!r}"
            )
    if x_dot is None:
        if dt is None:
            raise ValueError("fit_sindy: pass dt (to estimate derivatives) or x_dot")
        check_positive(where, "dt", dt)
        derivative = FiniteDifference() if derivative is None else derivative
        x_dot = derivative(x, dt)
    else:
        if dt is not None:
            check_positive(where, "dt", dt)
        x_dot = check_dtype(where, "x_dot", x_dot, cast_integers=True).astype(x.dtype)
        if x_dot.shape != x.shape:
            raise ValueError(
                f"fit_sindy: x_dot must have the shape of x {tuple(x.shape)}, got "
                f"{tuple(x_dot.shape)}"
            )
        check_finite(where, "x_dot", x_dot)
    n_features = library.n_features(x.shape[1])
    if x.shape[0] < n_features:
        raise ValueError(
            f"fit_sindy: x has {x.shape[0]} samples for {n_features} library features; "
            "need at least as many samples as features"
        )
    if ensemble is not None and key is None:
        raise ValueError("fit_sindy: an ensemble fit needs key= (a PRNG key), got key=None")
    coef, samples = _fit(library, optimizer, ensemble, x, x_dot, key)
    return SINDy(library, coef, samples, dt=None if dt is None else float(dt))


@eqx.filter_jit
def _fit(library, optimizer, ensemble, x, x_dot, key):
    theta = jax.vmap(library)(x)
    if ensemble is None:
        return optimizer.fit(theta, x_dot), None
    return ensemble.fit(optimizer, theta, x_dot, key=key)

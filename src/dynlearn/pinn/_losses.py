"""Loss terms of physics-informed training and the composable `PINNLoss`.

Follows Raissi, Perdikaris & Karniadakis, "Physics-informed neural networks" (J. Comput. Phys.,
2019): the loss is a weighted sum of mean squared PDE residuals, initial and boundary mismatches
and data mismatches over collocation points. Each term maps a field and its points to residual
values of shape `(n, k)`; `PINNLoss` squares, reduces and weights them, and is a plain
`loss(model, batch, *, key)` for `dynlearn.train.fit`, whose `batch` is a dict with one entry per
term name.
"""

from __future__ import annotations

import abc
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._validation import check_callable, check_dtype, check_int, check_positive, refuse_if
from ._derivatives import check_points, directional_derivatives, gradient
from ._weighting import AbstractWeighting, CausalWeights, FixedWeights


def _as_columns(v: Array, n: int) -> Array:
    return jnp.reshape(v, (n, -1))


class AbstractTerm(eqx.Module):
    """A loss term: `term(field, points) -> residual values (n, k)`."""

    @abc.abstractmethod
    def __call__(self, field: Callable, points) -> Float[Array, "n k"]:
        """Residual values at the term's points."""


class Residual(AbstractTerm):
    """The PDE residual `equation(field, x)` at interior collocation points.

    **Arguments:**

    - `equation`: `equation(field, x) -> residual` for ONE point `x` of shape `(d,)`; write it
      with the operators of `dynlearn.pinn` (e.g. `partial_derivative(field, x, (2, 0))`).
    """

    equation: Callable

    def __check_init__(self):
        check_callable("Residual", "equation", self.equation)

    def __call__(self, field, points):
        x = check_points("Residual", field, points, arg="points")
        x = x if x.ndim == 2 else x[None]
        return _as_columns(jax.vmap(lambda p: self.equation(field, p))(x), x.shape[0])


class _ValueTerm(AbstractTerm):
    value: eqx.AbstractVar[Callable]

    def __check_init__(self):
        check_callable(type(self).__name__, "value", self.value)

    def __call__(self, field, points):
        name = type(self).__name__
        x = check_points(name, field, points, arg="points")
        x = x if x.ndim == 2 else x[None]
        got = jax.eval_shape(field, x[0]).shape
        want = jax.eval_shape(self.value, x[0]).shape
        if got != want and want != ():
            raise ValueError(
                f"{name}: value returns shape {want} at one point but the field returns shape "
                f"{got}; they must match (or value may return a scalar)"
            )
        diff = jax.vmap(lambda p: field(p) - self.value(p))(x)
        return _as_columns(diff, x.shape[0])


class InitialCondition(_ValueTerm):
    """`u(x, t0) = value(x, t0)` at points on the initial time slice.

    **Arguments:**

    - `value`: `value(point) -> target` for one point (all coordinates, time included).
    """

    value: Callable


class Dirichlet(_ValueTerm):
    """`u = value` at boundary points.

    **Arguments:**

    - `value`: `value(point) -> target` for one point.
    """

    value: Callable


class Neumann(AbstractTerm):
    """`grad u . n = value` at boundary points (scalar fields).

    **Arguments:**

    - `normal`: `normal(point) -> (d,)` outward normal (time component 0 for space-time fields).
    - `value`: `value(point) -> scalar` target flux (default 0).
    """

    normal: Callable
    value: Callable = lambda p: jnp.zeros((), p.dtype)

    def __check_init__(self):
        check_callable("Neumann", "normal", self.normal)
        check_callable("Neumann", "value", self.value)

    def __call__(self, field, points):
        x = check_points("Neumann", field, points, arg="points")
        x = x if x.ndim == 2 else x[None]

        def one(p):
            return jnp.dot(gradient(field, p), self.normal(p)) - self.value(p)

        return _as_columns(jax.vmap(one)(x), x.shape[0])


class Periodic(AbstractTerm):
    """`d^k u(x + P e_c) = d^k u(x)` along coordinate `c`, for `k = 0..derivatives`.

    The points lie on the lower side of the periodic coordinate.

    **Arguments:**

    - `coordinate`: the periodic coordinate's index.
    - `period`: the period `P`.
    - `derivatives`: highest derivative order matched (0 matches values only).
    """

    coordinate: int = eqx.field(static=True)
    period: float
    derivatives: int = eqx.field(default=1, static=True)

    def __check_init__(self):
        check_int("Periodic", "coordinate", self.coordinate, minimum=0)
        check_positive("Periodic", "period", self.period)
        check_int("Periodic", "derivatives", self.derivatives, minimum=0)

    def __call__(self, field, points):
        x = check_points("Periodic", field, points, arg="points")
        x = x if x.ndim == 2 else x[None]
        if self.coordinate >= x.shape[-1]:
            raise ValueError(
                f"Periodic: coordinate must be an index in [0, {x.shape[-1]}) for points of "
                f"dimension {x.shape[-1]}, got coordinate={self.coordinate}"
            )
        e = jnp.zeros(x.shape[-1], x.dtype).at[self.coordinate].set(1)
        shift = jnp.asarray(self.period, x.dtype) * e

        def one(p):
            lo = directional_derivatives(field, p, e, self.derivatives)
            hi = directional_derivatives(field, p + shift, e, self.derivatives)
            return hi - lo

        return _as_columns(jax.vmap(one)(x), x.shape[0])


class Observations(AbstractTerm):
    """Data misfit `u(x_j) - u_j`; its batch entry is a pair `(points, values)`.

    Used for inverse problems and for data-assisted training.
    """

    def __call__(self, field, points):
        if not (isinstance(points, tuple | list) and len(points) == 2):
            raise ValueError("Observations: the batch entry must be a pair (points, values)")
        x, values = points
        x = check_points("Observations", field, x, arg="points")
        values = check_dtype("Observations", "values", values, cast_integers=True)
        if not isinstance(values, jax.core.Tracer) and not np.all(np.isfinite(np.asarray(values))):
            raise ValueError(
                f"Observations: data contain {int(np.sum(~np.isfinite(np.asarray(values))))} "
                "non-finite values"
            )
        x = x if x.ndim == 2 else x[None]
        pred = jax.vmap(field)(x)
        if pred.shape != values.shape:
            raise ValueError(
                f"Observations: the field gives shape {pred.shape} but the values have shape "
                f"{values.shape}"
            )
        return _as_columns(pred - values, x.shape[0])


class PINNLoss(eqx.Module):
    """A weighted sum of loss terms: `sum_i lambda_i mean_j |r_i(x_j)|^2`.

    Call it as `loss(field, batch, *, key=None) -> (total, aux)`, where `batch` maps each term's
    name to its points (or `(points, values)` for `Observations`), so it plugs straight into
    `dynlearn.train.fit`. `aux` holds `loss_<name>` and `weight_<name>` for every term, and
    `causal_min_weight` with causal training.

    **Arguments:**

    - `terms`: a dict from names to terms (`Residual`, `InitialCondition`, ...).
    - `weighting`: an `AbstractWeighting` (default: all weights 1).
    - `causal`: optional `CausalWeights` applied to one time-dependent term.
    """

    terms: dict[str, AbstractTerm]
    weighting: AbstractWeighting
    causal: CausalWeights | None

    def __init__(
        self,
        terms: dict[str, AbstractTerm],
        *,
        weighting: AbstractWeighting | None = None,
        causal: CausalWeights | None = None,
    ):
        if not isinstance(terms, dict):
            raise TypeError(
                f"PINNLoss: terms must be a dict from names to terms, got {type(terms).__name__}"
            )
        if not terms:
            raise ValueError("PINNLoss: terms is empty; give at least one term")
        if weighting is not None and not isinstance(weighting, AbstractWeighting):
            raise TypeError(
                f"PINNLoss: weighting must be an AbstractWeighting (FixedWeights, "
                f"GradNormWeights, NTKWeights) or None, got weighting={weighting!r}"
            )
        if causal is not None and not isinstance(causal, CausalWeights):
            raise TypeError(
                f"PINNLoss: causal must be a CausalWeights or None, got causal={causal!r}"
            )
        for name, term in terms.items():
            if not isinstance(term, AbstractTerm):
                raise TypeError(f"PINNLoss: term {name!r} is a {type(term).__name__}, not a term")
        if causal is not None:
            for name in (causal.term, causal.initial_term):
                if name is not None and name not in terms:
                    raise ValueError(
                        f"PINNLoss: causal weighting names term {name!r}, not among {sorted(terms)}"
                    )
        self.terms = dict(terms)
        self.weighting = FixedWeights() if weighting is None else weighting
        self.causal = causal

    def _items(self, batch):
        if not isinstance(batch, dict) or set(batch) != set(self.terms):
            got = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
            raise ValueError(
                f"PINNLoss: batch must be a dict with keys {sorted(self.terms)}, got {got}"
            )
        return batch

    def term_losses(self, field, batch) -> tuple[dict[str, Array], dict[str, Array]]:
        """Per-term (unweighted) losses, and extra auxiliary values."""
        batch = self._items(batch)
        losses, extra = {}, {}
        for name, term in self.terms.items():
            if self.causal is not None and name == self.causal.term:
                continue
            losses[name] = jnp.mean(jnp.sum(jnp.square(term(field, batch[name])), axis=-1))
        if self.causal is not None:
            name = self.causal.term
            sq = jnp.sum(jnp.square(self.terms[name](field, batch[name])), axis=-1)
            initial = None if self.causal.initial_term is None else losses[self.causal.initial_term]
            losses[name], w = self.causal(sq, jnp.asarray(batch[name]), initial)
            extra["causal_min_weight"] = jnp.min(w)
            extra["causal_weights"] = w
        return losses, extra

    def __call__(self, field, batch, *, key=None) -> tuple[Array, dict[str, Array]]:
        losses, extra = self.term_losses(field, batch)
        weights = self.weighting(self, field, batch, losses)
        weights = {k: jax.lax.stop_gradient(v) for k, v in weights.items()}
        total = sum(weights[k] * losses[k] for k in losses)
        aux = {f"loss_{k}": v for k, v in losses.items()}
        aux.update({f"weight_{k}": v for k, v in weights.items()})
        aux.update(extra)
        return total, aux


def relative_l2(prediction: ArrayLike, reference: ArrayLike) -> Array:
    """Relative L2 error `||prediction - reference|| / ||reference||` over all entries.

    **Arguments:**

    - `prediction`, `reference`: arrays of the same shape.

    **Returns:** a scalar.
    """
    p = check_dtype("relative_l2", "prediction", prediction, cast_integers=True)
    r = check_dtype("relative_l2", "reference", reference, cast_integers=True)
    if p.shape != r.shape:
        raise ValueError(
            f"relative_l2: prediction and reference must have the same shape, got prediction "
            f"{p.shape} and reference {r.shape}"
        )
    if r.size == 0:
        raise ValueError(f"relative_l2: reference is empty (shape {r.shape})")
    norm = jnp.linalg.norm(r.ravel())
    norm = refuse_if(
        norm,
        norm == 0,
        "relative_l2: reference is all zeros, so the relative error is undefined; use an "
        "absolute error",
    )
    return jnp.linalg.norm((p - r).ravel()) / norm

"""Inverse problems: a field together with unknown PDE coefficients, trained jointly.

Follows the data-driven discovery setting of Raissi, Perdikaris & Karniadakis,
"Physics-informed neural networks" (J. Comput. Phys., 2019), part II: observations of the
solution plus the PDE residual with unknown coefficients; gradient descent learns the field and
the coefficients together.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float

from .._validation import check_callable, check_dtype, check_finite


class FieldWithCoefficients(eqx.Module):
    """A field `u(x)` bundled with trainable PDE coefficients.

    Calling it evaluates the field, so derivative operators apply unchanged; residual equations
    read the coefficients from `model.coefficients[name]`. Train it with a `PINNLoss` combining
    a `Residual` and an `Observations` term. Store a positive coefficient by its logarithm and
    exponentiate it in the equation.

    **Arguments:**

    - `field`: the field network.
    - `coefficients`: name -> initial guess (floats or arrays).
    """

    field: Callable
    coefficients: dict[str, Float[Array, "..."]]

    def __init__(self, field: Callable, coefficients: dict[str, float | Array]):
        check_callable("FieldWithCoefficients", "field", field)
        if not isinstance(coefficients, dict):
            raise TypeError(
                f"FieldWithCoefficients: coefficients must be a dict from names to initial "
                f"values, got {type(coefficients).__name__}"
            )
        if not coefficients:
            raise ValueError("FieldWithCoefficients: give at least one coefficient")
        values = {}
        for k, v in coefficients.items():
            name = f"coefficients[{k!r}]"
            v = check_dtype("FieldWithCoefficients", name, v, cast_integers=True)
            check_finite("FieldWithCoefficients", name, v)
            values[k] = v.astype(jnp.result_type(float))
        self.field = field
        self.coefficients = values

    @property
    def in_size(self):
        return getattr(self.field, "in_size", None)

    def __call__(self, x: Float[Array, " d"]) -> Array:
        return self.field(x)


def coefficient_optimizer(
    field_optimizer: optax.GradientTransformation,
    coefficient_optimizer: optax.GradientTransformation,
) -> optax.GradientTransformation:
    """One optimizer for a `FieldWithCoefficients`: separate transforms for the two parts.

    PDE coefficients usually need a larger step than the network: with Adam, a coefficient
    stored by its logarithm moves by about one learning rate per step, so identifying `nu =
    0.003` from a guess of `0.1` (a change of 3.5 in `log nu`) takes thousands of steps at the
    network's `1e-3`. Give the coefficients e.g. `optax.adam(1e-2)`.

    **Arguments:**

    - `field_optimizer`: the transform for the field's parameters.
    - `coefficient_optimizer`: the transform for `model.coefficients`.

    **Returns:** an `optax.multi_transform` usable with `dynlearn.train.fit` and the model (or
    its trainable partition) as parameters.
    """

    for name, opt in (
        ("field_optimizer", field_optimizer),
        ("coefficient_optimizer", coefficient_optimizer),
    ):
        if not (callable(getattr(opt, "init", None)) and callable(getattr(opt, "update", None))):
            raise TypeError(
                f"coefficient_optimizer: {name} must be an optax.GradientTransformation, got "
                f"{name}={opt!r}"
            )

    def labels(params):
        if not isinstance(params, FieldWithCoefficients):
            raise TypeError(
                "coefficient_optimizer: the parameters must be a FieldWithCoefficients, got "
                f"{type(params).__name__}"
            )
        tree = jax.tree_util.tree_map(lambda _: "field", params)
        coefs = jax.tree_util.tree_map(lambda _: "coefficients", params.coefficients)
        return eqx.tree_at(lambda m: m.coefficients, tree, coefs)

    return optax.multi_transform(
        {"field": field_optimizer, "coefficients": coefficient_optimizer}, labels
    )

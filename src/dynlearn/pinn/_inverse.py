"""Inverse problems: a field together with unknown PDE coefficients, trained jointly.

Follows the data-driven discovery setting of Raissi, Perdikaris & Karniadakis,
"Physics-informed neural networks" (J. Comput. Phys., 2019), part II: observations of the
solution plus the PDE residual with unknown coefficients; gradient descent learns the field and
the coefficients together.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float


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
        if not coefficients:
            raise ValueError("FieldWithCoefficients: give at least one coefficient")
        self.field = field
        self.coefficients = {
            k: jnp.asarray(v, dtype=jnp.result_type(float)) for k, v in coefficients.items()
        }

    @property
    def in_size(self):
        return getattr(self.field, "in_size", None)

    def __call__(self, x: Float[Array, " d"]) -> Array:
        return self.field(x)

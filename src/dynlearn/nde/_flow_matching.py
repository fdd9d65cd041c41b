"""Continuous normalizing flows trained by conditional flow matching.

Follows Lipman et al. (2023), "Flow Matching for Generative Modeling", with the optimal-transport
conditional path `x_t = (1 - (1 - σ_min) t) x_0 + t x_1`, `x_0 ~ N(0, I)`, whose conditional
velocity is `x_1 - (1 - σ_min) x_0`; regressing a vector field on it learns the marginal field
that transports the base density to the data (the building block of Meta Flow Matching, Atanackovic
et al. 2024). Log-densities use the instantaneous change of variables of Chen et al. (2018):
`d log p / dt = -tr(∂v/∂x)`, with the exact trace.
"""

from __future__ import annotations

from collections.abc import Callable

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array, Float, Key
from .._validation import check_dtype, check_finite, check_int, check_shape
from ._ode import NeuralODE


def conditional_flow_matching_loss(
    vector_field: Callable, x1: Float[Array, " dim"], *, key: Key, sigma_min: float = 0.0
) -> Float[Array, ""]:
    """Conditional flow-matching loss of one data point `x1` (one `t` and one `x0`).

    **Arguments:**

    - `vector_field`: `v(t, x, args) -> (dim,)`.
    - `x1`: a data sample, shape `(dim,)`.
    - `key`: PRNG key for `t ~ U(0, 1)` and `x0 ~ N(0, I)`.
    - `sigma_min`: width of the conditional path at `t = 1`.

    **Returns:** `|v(t, x_t) - (x1 - (1 - σ_min) x0)|^2`, a scalar.
    """
    if not callable(vector_field):
        raise TypeError(
            f"conditional_flow_matching_loss: vector_field must be callable, got {vector_field!r}."
        )
    x1 = check_dtype("conditional_flow_matching_loss", "x1", x1, cast_integers=True)
    x1 = check_shape("conditional_flow_matching_loss", "x1", x1, ndim=1, meaning="(dim,)")
    _check_sigma_min("conditional_flow_matching_loss", sigma_min)
    kt, k0 = jax.random.split(key)
    t = jax.random.uniform(kt, (), x1.dtype)
    x0 = jax.random.normal(k0, x1.shape, x1.dtype)
    xt = (1 - (1 - sigma_min) * t) * x0 + t * x1
    target = x1 - (1 - sigma_min) * x0
    return jnp.sum((vector_field(t, xt, None) - target) ** 2)


def _check_sigma_min(where, sigma_min) -> None:
    if isinstance(sigma_min, jax.core.Tracer):
        return
    if sigma_min is None or isinstance(sigma_min, bool | str) or not 0 <= float(sigma_min) < 1:
        raise ValueError(f"{where}: sigma_min must lie in [0, 1), got sigma_min={sigma_min!r}.")


class CNF(eqx.Module):
    """A continuous normalizing flow from `N(0, I)` at `t = 0` to the data at `t = 1`.

    **Arguments:**

    - `vector_field`: `v(t, x, args) -> (dim,)`, any `eqx.Module`.
    - `data_size`: data dimension.
    - `solver`, `stepsize_controller`, `dt0`: as in `NeuralODE` (default Tsit5, rtol 1e-5,
      atol 1e-5).

    Train with `flow_matching_loss`; `sample(key=...)` draws from the model and `log_prob(x)`
    evaluates its log-density.
    """

    vector_field: Callable
    ode: NeuralODE
    data_size: int = eqx.field(static=True)

    def __init__(
        self,
        vector_field: Callable,
        data_size: int,
        *,
        solver=None,
        stepsize_controller=None,
        dt0: float | None = None,
    ):
        data_size = check_int("CNF", "data_size", data_size)
        if not callable(vector_field):
            raise TypeError(f"CNF: vector_field must be callable, got {vector_field!r}.")
        if stepsize_controller is None:
            stepsize_controller = dfx.PIDController(rtol=1e-5, atol=1e-5)
        self.vector_field = vector_field
        self.ode = NeuralODE(
            vector_field, solver=solver, stepsize_controller=stepsize_controller, dt0=dt0
        )
        self.data_size = data_size

    def _ode(self, field):
        return NeuralODE(
            field,
            solver=self.ode.solver,
            stepsize_controller=self.ode.stepsize_controller,
            dt0=self.ode.dt0,
            max_steps=self.ode.max_steps,
        )

    def sample(self, *, key: Key, dtype=None) -> Float[Array, " dim"]:
        """One sample: `x0 ~ N(0, I)` transported from `t = 0` to `t = 1`."""
        x0 = jax.random.normal(key, (self.data_size,), dtype or jnp.zeros(()).dtype)
        ts = jnp.array([0.0, 1.0], x0.dtype)
        return self._ode(self.vector_field)(ts, x0)[-1]

    def log_prob(self, x: Float[Array, " dim"]) -> Float[Array, ""]:
        """`log p_1(x) = log N(x_0; 0, I) - ∫_0^1 tr ∂v/∂x dt`, solving backwards from `x`."""
        d = self.data_size
        v = self.vector_field
        x = check_dtype("CNF.log_prob", "x", x, cast_integers=True)
        x = check_shape("CNF.log_prob", "x", x, shape=(d,), meaning="(data_size,)")

        def backward(s, z, args):
            t = 1 - s
            y = z[:d]
            dy, jac = v(t, y, args), jax.jacfwd(lambda yy: v(t, yy, args))(y)
            return jnp.concatenate([-dy, jnp.trace(jac)[None]])

        ts = jnp.array([0.0, 1.0], x.dtype)
        end = self._ode(backward)(ts, jnp.concatenate([x, jnp.zeros((1,), x.dtype)]))[-1]
        x0, integral = end[:d], end[d]
        base = -0.5 * jnp.sum(x0**2) - 0.5 * d * jnp.log(2 * jnp.pi)
        return base - integral


def flow_matching_loss(
    model: CNF, batch: Float[Array, "batch dim"], *, key: Key, sigma_min: float = 0.0
) -> Float[Array, ""]:
    """Mean conditional flow-matching loss over a batch of data points, for `train.fit`."""
    batch = check_dtype("flow_matching_loss", "batch", batch, cast_integers=True)
    batch = check_shape(
        "flow_matching_loss", "batch", batch, shape=(None, model.data_size), meaning="(batch, dim)"
    )
    if batch.shape[0] == 0:
        raise ValueError("flow_matching_loss: batch must hold at least one sample, got 0 rows.")
    check_finite("flow_matching_loss", "batch", batch)
    _check_sigma_min("flow_matching_loss", sigma_min)
    keys = jax.random.split(key, batch.shape[0])
    return jnp.mean(
        jax.vmap(
            lambda x, k: conditional_flow_matching_loss(
                model.vector_field, x, key=k, sigma_min=sigma_min
            )
        )(batch, keys)
    )

"""Lagrangian PINNs for convection–diffusion.

Follows Mojgani, Balajewicz & Hassanzadeh, "Lagrangian PINNs: a causality-conforming solution to
failure modes of physics-informed neural networks" (Comput. Methods Appl. Mech. Eng., 2023).
For `u_t + c u_x = nu u_xx` the solution is carried along characteristics `dx/dt = c`; in the
Lagrangian frame `(xi, t)` (`xi` the foot of the characteristic) the PDE becomes
`dx/dt = c` and `du/dt = nu u_xx`, which no longer contains the convective term that makes the
Eulerian PINN fail at large `c`. A two-branch network predicts the characteristic curves
`x(xi, t) = xi + t g(xi, t)` (so `x(xi, 0) = xi` exactly) and the state `u(xi, t)` on them; `u_x`
and `u_xx` follow from the chain rule with `x_xi`.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._validation import check_callable, check_dtype, check_finite, check_positive, check_shape
from ._derivatives import check_points


class LagrangianPINN(eqx.Module):
    """Two branches over Lagrangian coordinates `(xi, t)`: the state and the characteristics.

    **Arguments:**

    - `state`: a scalar field `u(xi, t)` (make it periodic in `xi` for periodic problems).
    - `characteristic`: a scalar field `g(xi, t)`; the characteristic through `xi` is
      `x(xi, t) = xi + speed_scale * t * g(xi, t)`.
    - `speed_scale`: a typical convection speed, so that `g` is O(1) (networks learn O(1)
      outputs far faster than O(30) ones).
    """

    state: Callable
    characteristic: Callable
    speed_scale: float = eqx.field(default=1.0, static=True)
    in_size: int = eqx.field(default=2, static=True)

    def __check_init__(self):
        check_callable("LagrangianPINN", "state", self.state)
        check_callable("LagrangianPINN", "characteristic", self.characteristic)
        check_positive("LagrangianPINN", "speed_scale", self.speed_scale)
        if self.in_size != 2:
            raise ValueError(
                f"LagrangianPINN: in_size must be 2 (coordinates (xi, t)), got "
                f"in_size={self.in_size!r}"
            )

    def position(self, p: Float[Array, " 2"]) -> Array:
        """`x(xi, t)` for `p = (xi, t)`."""
        return p[0] + self.speed_scale * p[1] * self.characteristic(p)

    def __call__(self, p: Float[Array, " 2"]) -> Array:
        """The state `u(xi, t)` on the characteristic through `xi`."""
        return self.state(p)


def lagrangian_convection_diffusion(
    model: LagrangianPINN, p: Float[Array, " 2"], velocity: float, diffusion: float
) -> Float[Array, " 2"]:
    """The two Lagrangian residuals `(dx/dt - c, du/dt - nu u_xx)` at `p = (xi, t)`.

    With `x_xi = dx/dxi`: `u_x = u_xi / x_xi` and `u_xx = (u_x)_xi / x_xi`.

    **Arguments:**

    - `model`: the `LagrangianPINN`.
    - `p`: one point `(xi, t)`.
    - `velocity`: the convection speed `c`.
    - `diffusion`: the diffusion coefficient `nu`.

    **Returns:** both residuals, shape `(2,)`.
    """
    if not isinstance(model, LagrangianPINN):
        raise TypeError(
            f"lagrangian_convection_diffusion: model must be a LagrangianPINN, got "
            f"{type(model).__name__}"
        )
    p = check_shape(
        "lagrangian_convection_diffusion",
        "p",
        check_dtype("lagrangian_convection_diffusion", "p", p),
        shape=(2,),
        meaning="(xi, t)",
    )
    if not isinstance(velocity, jax.core.Tracer) and not np.all(np.isfinite(velocity)):
        raise ValueError(
            f"lagrangian_convection_diffusion: velocity must be finite, got velocity={velocity!r}"
        )
    check_positive("lagrangian_convection_diffusion", "diffusion", diffusion, allow_zero=True)
    e_xi = jnp.zeros_like(p).at[0].set(1)
    e_t = jnp.zeros_like(p).at[1].set(1)
    x_t = jax.jvp(model.position, (p,), (e_t,))[1]
    u_t = jax.jvp(model.state, (p,), (e_t,))[1]

    def u_x(q):
        x_xi = jax.jvp(model.position, (q,), (e_xi,))[1]
        return jax.jvp(model.state, (q,), (e_xi,))[1] / x_xi

    x_xi = jax.jvp(model.position, (p,), (e_xi,))[1]
    u_xx = jax.jvp(u_x, (p,), (e_xi,))[1] / x_xi
    return jnp.stack([x_t - velocity, u_t - diffusion * u_xx])


def lagrangian_to_eulerian(
    model: LagrangianPINN,
    x: Float[ArrayLike, " n"],
    t: float,
    xi_grid: Float[ArrayLike, " m"],
    *,
    period: float | None = None,
) -> Float[Array, " n"]:
    """Evaluate the state at Eulerian points `x` at time `t` by inverting `x(xi, t)`.

    The characteristics through `xi_grid` are traced to time `t` and `u` is interpolated
    linearly in `x` (with wrap-around for a periodic domain).

    **Arguments:**

    - `model`: the `LagrangianPINN`.
    - `x`: query positions.
    - `t`: the time.
    - `xi_grid`: a fine increasing grid of characteristic feet covering one period/the domain.
    - `period`: the spatial period, or `None`.

    **Returns:** `u(x, t)`, shape `(n,)`.
    """
    where = "lagrangian_to_eulerian"
    xi = check_shape(where, "xi_grid", check_dtype(where, "xi_grid", xi_grid), ndim=1)
    check_finite(where, "xi_grid", xi)
    if xi.shape[0] < 2 or not bool(jnp.all(jnp.diff(xi) > 0)):
        raise ValueError(
            f"{where}: xi_grid must be at least 2 strictly increasing values, got shape "
            f"{xi.shape}" + ("" if xi.shape[0] < 2 else " with a non-increasing step")
        )
    if isinstance(t, bool) or not np.isfinite(t):
        raise ValueError(f"{where}: t must be a finite time, got t={t!r}")
    if period is not None:
        check_positive(where, "period", period)
    x = check_dtype(where, "x", x, cast_integers=True)
    check_finite(where, "x", x)
    pts = jnp.stack([xi, jnp.full_like(xi, t)], axis=-1)
    check_points("lagrangian_to_eulerian", model, pts, arg="(xi_grid, t)")
    xs = jax.vmap(model.position)(pts)
    us = jax.vmap(model.state)(pts)
    x = jnp.asarray(x)
    if period is None:
        order = jnp.argsort(xs)
        return jnp.interp(x, xs[order], us[order])
    start = xi[0]
    xs = jnp.mod(xs - start, period) + start
    order = jnp.argsort(xs)
    return jnp.interp(jnp.mod(x - start, period) + start, xs[order], us[order], period=period)

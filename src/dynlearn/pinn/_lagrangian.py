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
from jaxtyping import Array, ArrayLike, Float

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
    xi = jnp.asarray(xi_grid)
    pts = jnp.stack([xi, jnp.full_like(xi, t)], axis=-1)
    check_points("lagrangian_to_eulerian", model, pts)
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

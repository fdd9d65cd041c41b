"""Fourier pseudo-spectral reference solvers with ETDRK4.

Follows Cox & Matthews, "Exponential time differencing for stiff systems" (J. Comput. Phys.,
2002) for the fourth-order exponential Runge–Kutta scheme, and Kassam & Trefethen, "Fourth-order
time-stepping for stiff PDEs" (SIAM J. Sci. Comput., 2005) for evaluating its coefficients stably
by contour integrals in the complex plane. The semilinear problem is written in Fourier space as
`v' = L v + N(v)` with a diagonal linear part `L`.

Three PDEs on periodic domains are provided on top of the generic `etdrk4`:
Kuramoto–Sivashinsky, Allen–Cahn (the setting of the causal-PINN paper) and viscous Burgers.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Complex, Float, Inexact


def _check_steps(name: str, dt, n_steps, save_every) -> None:
    if not (isinstance(n_steps, int | np.integer) and n_steps > 0):
        raise ValueError(f"{name}: n_steps must be a positive integer, got {n_steps!r}")
    if not (isinstance(save_every, int | np.integer) and save_every > 0):
        raise ValueError(f"{name}: save_every must be a positive integer, got {save_every!r}")
    if n_steps % save_every:
        raise ValueError(f"{name}: n_steps={n_steps} must be a multiple of save_every={save_every}")
    if not float(dt) > 0:
        raise ValueError(f"{name}: dt must be positive, got {dt!r}")


def _complex_dtype(*dtypes) -> np.dtype:
    wide = any(
        np.dtype(d).itemsize >= (16 if np.issubdtype(d, np.complexfloating) else 8) for d in dtypes
    )
    return np.dtype(np.complex128 if wide else np.complex64)


def etdrk4_coefficients(
    linear: Inexact[ArrayLike, " modes"], dt: float, *, contour_points: int = 32
) -> tuple[Array, Array, Array, Array, Array, Array]:
    """The ETDRK4 coefficients `(E, E2, Q, f1, f2, f3)` for a diagonal linear operator.

    The phi-functions are averaged over `contour_points` points on a circle of radius 1 around
    each `dt * L`, which avoids the cancellation of the direct formulas near `L = 0`
    (Kassam & Trefethen 2005).

    **Arguments:**

    - `linear`: the diagonal of `L` (real or complex), one value per mode.
    - `dt`: the time step.
    - `contour_points`: number of points on the contour.

    **Returns:** six complex arrays of the shape of `linear`.
    """
    lin = jnp.asarray(linear)
    cdtype = _complex_dtype(lin.dtype)
    lin = lin.astype(cdtype)
    hl = dt * lin
    m = np.arange(1, contour_points + 1)
    roots = jnp.asarray(np.exp(2j * np.pi * (m - 0.5) / contour_points), dtype=cdtype)
    lr = hl[..., None] + roots.reshape((1,) * hl.ndim + roots.shape)
    e = jnp.exp(lr)
    q = dt * jnp.mean((jnp.exp(lr / 2) - 1) / lr, axis=-1)
    f1 = dt * jnp.mean((-4 - lr + e * (4 - 3 * lr + lr**2)) / lr**3, axis=-1)
    f2 = dt * jnp.mean((2 + lr + e * (-2 + lr)) / lr**3, axis=-1)
    f3 = dt * jnp.mean((-4 - 3 * lr - lr**2 + e * (4 - lr)) / lr**3, axis=-1)
    if not jnp.iscomplexobj(jnp.asarray(linear)):
        # for real L the imaginary parts are contour round-off; drop them
        q, f1, f2, f3 = (jnp.real(c).astype(cdtype) for c in (q, f1, f2, f3))
    return jnp.exp(hl), jnp.exp(hl / 2), q, f1, f2, f3


def etdrk4(
    linear: Inexact[ArrayLike, " modes"],
    nonlinear: Callable[[Array], Array],
    v0: Inexact[ArrayLike, " modes"],
    dt: float,
    n_steps: int,
    *,
    save_every: int = 1,
    contour_points: int = 32,
) -> Complex[Array, "saves modes"]:
    """Integrate `v' = L v + N(v)` (diagonal `L`) with the ETDRK4 scheme of Cox & Matthews.

    **Arguments:**

    - `linear`: the diagonal of `L`, one value per mode (usually Fourier wavenumber symbols).
    - `nonlinear`: `N(v) -> array` like `v` (in the same, usually spectral, space).
    - `v0`: the initial state (cast to complex).
    - `dt`: the time step.
    - `n_steps`: number of steps, a multiple of `save_every`.
    - `save_every`: keep every `save_every`-th state.
    - `contour_points`: contour points for the coefficients (see `etdrk4_coefficients`).

    **Returns:** the states at steps `0, save_every, 2 save_every, ..., n_steps`, shape
    `(n_steps // save_every + 1, modes)`, the initial state first.
    """
    _check_steps("etdrk4", dt, n_steps, save_every)
    lin = jnp.asarray(linear)
    v0 = jnp.asarray(v0)
    if lin.shape != v0.shape:
        raise ValueError(f"etdrk4: linear has shape {lin.shape} but v0 has shape {v0.shape}")
    cdtype = _complex_dtype(lin.dtype, v0.dtype)
    e, e2, q, f1, f2, f3 = etdrk4_coefficients(lin, dt, contour_points=contour_points)

    def step(v, _):
        nv = nonlinear(v).astype(cdtype)
        a = e2 * v + q * nv
        na = nonlinear(a).astype(cdtype)
        b = e2 * v + q * na
        nb = nonlinear(b).astype(cdtype)
        c = e2 * a + q * (2 * nb - nv)
        nc = nonlinear(c).astype(cdtype)
        return e * v + nv * f1 + 2 * (na + nb) * f2 + nc * f3, None

    def save(v, _):
        v, _ = jax.lax.scan(step, v, None, length=save_every)
        return v, v

    v0 = v0.astype(cdtype)
    _, saved = jax.lax.scan(save, v0, None, length=n_steps // save_every)
    return jnp.concatenate([v0[None], saved], axis=0)


def _wavenumbers(n: int, length: float, dtype) -> Array:
    return jnp.asarray(2 * np.pi / length * np.fft.rfftfreq(n, 1.0 / n), dtype=dtype)


def _check_u0(name: str, u0) -> Array:
    u0 = jnp.asarray(u0)
    if u0.ndim != 1 or u0.shape[0] < 4:
        raise ValueError(
            f"{name}: u0 must be a 1-D grid of at least 4 values, got shape {u0.shape}"
        )
    if not jnp.issubdtype(u0.dtype, jnp.floating):
        u0 = u0.astype(jnp.result_type(float))
    if not bool(jnp.all(jnp.isfinite(u0))):
        raise ValueError(f"{name}: u0 contains non-finite values")
    return u0


def _run_real(name, u0, length, lin_fn, nonlin_fn, dt, n_steps, save_every, dealias):
    _check_steps(name, dt, n_steps, save_every)
    if not float(length) > 0:
        raise ValueError(f"{name}: length must be positive, got {length!r}")
    n = u0.shape[0]
    k = _wavenumbers(n, float(length), u0.dtype)
    mask = None
    if dealias:
        mask = (jnp.abs(jnp.fft.rfftfreq(n, 1.0 / n)) < n / 3).astype(u0.dtype)

    def nonlinear(v):
        out = nonlin_fn(v, k, n)
        return out * mask.astype(out.dtype) if mask is not None else out

    v = etdrk4(lin_fn(k), nonlinear, jnp.fft.rfft(u0), dt, n_steps, save_every=save_every)
    u = jnp.fft.irfft(v, n=n, axis=-1).astype(u0.dtype)
    t = jnp.arange(u.shape[0], dtype=u0.dtype) * (dt * save_every)
    return t, u


def periodic_grid(n_points: int, length: float, *, start: float = 0.0) -> Float[Array, " n"]:
    """The `n_points` equispaced points `start + length * j / n_points`, `j = 0..n_points-1`
    (right end excluded).

    **Arguments:**

    - `n_points`: number of grid points.
    - `length`: the period.
    - `start`: the left end of the domain.

    **Returns:** the grid, shape `(n_points,)`.
    """
    return start + length * jnp.arange(n_points, dtype=jnp.result_type(float)) / n_points


def kuramoto_sivashinsky(
    u0: ArrayLike,
    *,
    length: float,
    dt: float,
    n_steps: int,
    save_every: int = 1,
    dealias: bool = False,
) -> tuple[Float[Array, " saves"], Float[Array, "saves n"]]:
    """Solve `u_t + u u_x + u_xx + u_xxxx = 0` on a periodic domain of size `length`.

    Fourier pseudo-spectral in space, ETDRK4 in time (Kassam & Trefethen's KS example uses
    `length = 32 pi`, `u0 = cos(x/16)(1 + sin(x/16))`, `dt = 1/4`).

    **Arguments:**

    - `u0`: the initial condition on the periodic grid of `len(u0)` points (see
      `periodic_grid`).
    - `length`: the spatial period.
    - `dt`: the time step.
    - `n_steps`: number of steps (a multiple of `save_every`).
    - `save_every`: keep every `save_every`-th state.
    - `dealias`: apply the 2/3 rule to the nonlinear term.

    **Returns:** `(t, u)`: times of shape `(saves,)` starting at 0 and states of shape
    `(saves, n)`, with `saves = n_steps // save_every + 1`.
    """
    u0 = _check_u0("kuramoto_sivashinsky", u0)

    def nonlin(v, k, n):
        u = jnp.fft.irfft(v, n=n)
        uu = jnp.fft.rfft(u * u)
        return -0.5j * k.astype(uu.dtype) * uu

    return _run_real(
        "kuramoto_sivashinsky",
        u0,
        length,
        lambda k: k**2 - k**4,
        nonlin,
        dt,
        n_steps,
        save_every,
        dealias,
    )


def allen_cahn(
    u0: ArrayLike,
    *,
    dt: float,
    n_steps: int,
    length: float = 2.0,
    diffusion: float = 1e-4,
    reaction: float = 5.0,
    save_every: int = 1,
) -> tuple[Float[Array, " saves"], Float[Array, "saves n"]]:
    """Solve `u_t - diffusion u_xx + reaction (u^3 - u) = 0` on a periodic domain.

    The defaults are the causal-PINN benchmark (Wang, Sankaran & Perdikaris): domain `[-1, 1]`
    (`length = 2`), `diffusion = 1e-4`, `reaction = 5`, `u0 = x^2 cos(pi x)`.

    **Arguments:**

    - `u0`: the initial condition on the periodic grid of `len(u0)` points.
    - `dt`: the time step.
    - `n_steps`: number of steps (a multiple of `save_every`).
    - `length`: the spatial period.
    - `diffusion`: the diffusion coefficient.
    - `reaction`: the reaction coefficient.
    - `save_every`: keep every `save_every`-th state.

    **Returns:** `(t, u)` as in `kuramoto_sivashinsky`.
    """
    u0 = _check_u0("allen_cahn", u0)

    def nonlin(v, k, n):
        u = jnp.fft.irfft(v, n=n)
        return jnp.fft.rfft(-reaction * u**3)

    return _run_real(
        "allen_cahn",
        u0,
        length,
        lambda k: reaction - diffusion * k**2,
        nonlin,
        dt,
        n_steps,
        save_every,
        False,
    )


def burgers(
    u0: ArrayLike,
    *,
    dt: float,
    n_steps: int,
    length: float = 2.0,
    viscosity: float = 0.01 / np.pi,
    save_every: int = 1,
    dealias: bool = True,
) -> tuple[Float[Array, " saves"], Float[Array, "saves n"]]:
    """Solve viscous Burgers `u_t + u u_x = viscosity u_xx` on a periodic domain.

    The default viscosity `0.01/pi` is that of the classic PINN Burgers benchmark (on `[-1, 1]`
    with `u0 = -sin(pi x)`; the solution stays away from the boundary for `t <= 1`, so the periodic
    solve matches the Dirichlet problem there). Resolving its shock needs a fine grid (`n >= 1024`).

    **Arguments:**

    - `u0`: the initial condition on the periodic grid of `len(u0)` points.
    - `dt`: the time step.
    - `n_steps`: number of steps (a multiple of `save_every`).
    - `length`: the spatial period.
    - `viscosity`: the viscosity.
    - `save_every`: keep every `save_every`-th state.
    - `dealias`: apply the 2/3 rule to the nonlinear term.

    **Returns:** `(t, u)` as in `kuramoto_sivashinsky`.
    """
    u0 = _check_u0("burgers", u0)

    def nonlin(v, k, n):
        u = jnp.fft.irfft(v, n=n)
        uu = jnp.fft.rfft(u * u)
        return -0.5j * k.astype(uu.dtype) * uu

    return _run_real(
        "burgers",
        u0,
        length,
        lambda k: -viscosity * k**2,
        nonlin,
        dt,
        n_steps,
        save_every,
        dealias,
    )

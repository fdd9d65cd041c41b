"""Online function approximation with HiPPO: stream a signal into basis coefficients and
reconstruct its past from them.

"HiPPO: Recurrent Memory with Optimal Polynomial Projections" (Gu et al., 2020). The state after
`k` samples holds the coefficients of the projection of the signal's history onto the basis of the
measure: LegS the whole history `[0, t]` (scaled Legendre), LegT and FouT a sliding window of
length `window` (Legendre, truncated Fourier), LagT an exponentially decaying past (Laguerre).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

from .._types import Array, ArrayLike, Float
from .._validation import check_dtype, check_option, check_positive, check_shape
from ._discretize import _METHODS, discretize
from ._hippo import _check, hippo


def _legendre(N: int, x):
    out = [jnp.ones_like(x), x]
    for n in range(1, N - 1):
        out.append(((2 * n + 1) * x * out[n] - n * out[n - 1]) / (n + 1))
    return jnp.stack(out[:N], axis=-1)


def _laguerre(N: int, x):
    out = [jnp.ones_like(x), 1 - x]
    for n in range(1, N - 1):
        out.append(((2 * n + 1 - x) * out[n] - n * out[n - 1]) / (n + 1))
    return jnp.stack(out[:N], axis=-1)


def hippo_basis(kind: str, state_size: int, s: Float[ArrayLike, "..."]) -> Float[Array, "M N"]:
    """Evaluate the reconstruction basis of a HiPPO measure.

    The reconstruction is `f(s) ~ basis(s) @ c` for coefficients `c` from
    [`dynlearn.ssm.hippo_project`][].

    **Arguments:**

    - `kind`: `"legs"`, `"legt"`, `"lagt"` or `"fout"`.
    - `state_size` (`N`): the state size.
    - `s`: where to evaluate. For LegS, LegT and FouT the relative position in the memory
      window, `0` the oldest point and `1` the present; for LagT the lag into the past in units
      of the time scale (`0` the present).

    **Returns:**

    The basis matrix of shape `(M, N)`.
    """
    N = state_size
    _check(kind, N, "hippo_basis")
    s = check_dtype("hippo_basis", "s", s, cast_integers=True)
    s = check_shape("hippo_basis", "s", s, ndim=1)
    if kind in ("legs", "legt"):
        scale = jnp.sqrt(2.0 * jnp.arange(N, dtype=s.dtype) + 1.0)
        return _legendre(N, 2 * s - 1) * scale[None, :]
    if kind == "lagt":
        return _laguerre(N, s) * jnp.exp(-s / 2)[:, None]
    if kind == "fout":
        if N % 2:
            raise ValueError(f"hippo_basis: 'fout' needs an even N, got N={N}")
        k = jnp.arange(N // 2).astype(s.dtype)
        angle = 2 * jnp.pi * s[:, None] * k[None, :]
        cos = jnp.sqrt(2.0) * jnp.cos(angle)
        cos = cos.at[:, 0].set(1.0)
        sin = -jnp.sqrt(2.0) * jnp.sin(angle)
        return jnp.stack([cos, sin], axis=-1).reshape(s.shape[0], N)
    raise ValueError(f"hippo_basis: unknown kind {kind!r}")


def hippo_project(
    signal: Float[ArrayLike, "..."],
    kind: str,
    state_size: int,
    *,
    dt: float = 1.0,
    window: float | None = None,
    method: str = "bilinear",
) -> Float[Array, "L N"]:
    """Stream a signal through the HiPPO ODE and return the coefficients after each sample.

    LegS integrates `c' = (A c + B f) / t` (one step of size `1/k` in scaled time at sample
    `k`), so it needs no time scale. The windowed measures integrate
    `c' = (2 / window) (A c + B f)` for LegT and FouT (their matrices describe a window of length
    2) and `c' = (A c + B f) / window` for LagT, with the sample spacing `dt`.

    **Arguments:**

    - `signal`: samples `f_1 .. f_L`, spaced `dt` apart.
    - `kind`, `state_size`: the measure and state size, as in [`dynlearn.ssm.hippo`][].
    - `dt`: time between samples (ignored by LegS).
    - `window`: window length (LegT, FouT) or time scale (LagT); default `L * dt / 4`.
    - `method`: discretization, as in [`dynlearn.ssm.discretize`][].

    **Returns:**

    Coefficients of shape `(L, N)`; row `k` describes the signal up to sample `k`.
    """
    N = state_size
    where = "hippo_project"
    _check(kind, N, where)
    signal = check_dtype(where, "signal", signal, cast_integers=True)
    signal = check_shape(where, "signal", signal, ndim=1, meaning="(L,)")
    if signal.shape[0] == 0:
        raise ValueError(f"{where}: signal must have at least one sample, got shape (0,).")
    check_positive(where, "dt", dt)
    if window is not None:
        check_positive(where, "window", window)
    check_option(where, "method", method, _METHODS)
    if kind == "legs":
        rate = 1.0
    else:
        window = signal.shape[0] * dt / 4 if window is None else window
        rate = 2.0 / window if kind in ("legt", "fout") else 1.0 / window
    return _project(signal, kind, N, float(dt), float(rate), method)


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4, 5))
def _project(signal, kind, N, dt, rate, method):
    L = signal.shape[0]
    A, B = hippo(kind, N, dtype=signal.dtype)
    if kind == "legs":
        # LegS is c' = (A c + B f) / t: step 1/k in scaled time at sample k.
        eye = jnp.eye(N, dtype=signal.dtype)

        def body(c, inputs):
            k, f_k = inputs
            h = 1.0 / k
            if method in ("bilinear", "backward_euler"):
                # A is lower triangular: a triangular solve instead of an LU per step.
                theta = 0.5 if method == "bilinear" else 1.0
                rhs = c + (1 - theta) * h * (A @ c) + h * B * f_k
                c = jax.scipy.linalg.solve_triangular(eye - theta * h * A, rhs, lower=True)
            else:
                A_k, B_k = discretize(A, B, h, method)
                c = A_k @ c + B_k * f_k
            return c, c

        xs = (jnp.arange(1, L + 1, dtype=signal.dtype), signal)
    else:
        A_bar, B_bar = discretize(A * rate, B * rate, dt, method)

        def body(c, f_k):
            c = A_bar @ c + B_bar * f_k
            return c, c

        xs = signal
    _, coefs = lax.scan(body, jnp.zeros(N, signal.dtype), xs)
    return coefs


def hippo_reconstruct(
    coefficients: Float[ArrayLike, "..."], kind: str, s: Float[ArrayLike, "..."]
) -> Float[Array, " M"]:
    """Reconstruct the remembered signal from one row of HiPPO coefficients.

    **Arguments:**

    - `coefficients`: one state `c` of shape `(N,)` from [`dynlearn.ssm.hippo_project`][].
    - `kind`: the measure it was computed with.
    - `s`: positions, as in [`dynlearn.ssm.hippo_basis`][].

    **Returns:**

    The reconstruction `f(s)` of shape `(M,)`.
    """
    c = check_dtype("hippo_reconstruct", "coefficients", coefficients)
    c = check_shape("hippo_reconstruct", "coefficients", c, ndim=1, meaning="(N,)")
    _check(kind, c.shape[0], "hippo_reconstruct")
    return hippo_basis(kind, c.shape[0], s) @ c

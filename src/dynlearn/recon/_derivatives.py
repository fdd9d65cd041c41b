"""Time derivatives of sampled trajectories for SINDy: finite differences, smoothed or not.

- `FiniteDifference`: second-order central differences inside, second-order one-sided
  differences at both ends (as commonly used with SINDy).
- `SmoothedFiniteDifference`: Savitzky–Golay smoothing (local least-squares polynomials,
  Savitzky & Golay 1964) before the finite differences, for noisy data.
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._types import Array, Float
from .._validation import check_int, check_positive


class AbstractDerivative(eqx.Module):
    """Estimates `dx/dt` from samples `x` of shape `(time, dim)` taken every `dt`."""

    @abc.abstractmethod
    def __call__(self, x: Float[Array, "time dim"], dt: float) -> Float[Array, "time dim"]:
        """Return the derivative estimate, same shape as `x`."""


def _central(x, dt):
    inner = (x[2:] - x[:-2]) / (2 * dt)
    first = (-3 * x[0] + 4 * x[1] - x[2]) / (2 * dt)
    last = (3 * x[-1] - 4 * x[-2] + x[-3]) / (2 * dt)
    return jnp.concatenate([first[None], inner, last[None]], axis=0)


class FiniteDifference(AbstractDerivative):
    """Second-order finite differences (central inside, one-sided at the two ends)."""

    def __call__(self, x: Float[Array, "time dim"], dt: float) -> Float[Array, "time dim"]:
        if x.shape[0] < 3:
            raise ValueError(
                f"FiniteDifference: x needs at least 3 time points, got x.shape={tuple(x.shape)}"
            )
        check_positive("FiniteDifference", "dt", dt)
        return _central(x, dt)


def _savgol_matrices(window: int, order: int):
    """Smoothing weights: centre row, and full fitted windows for the two ends."""
    half = window // 2
    t = np.arange(-half, half + 1, dtype=np.float64)
    vander = np.vander(t, order + 1, increasing=True)
    proj = vander @ np.linalg.pinv(vander)  # (window, window): fitted values from samples
    return proj[half], proj


class SmoothedFiniteDifference(AbstractDerivative):
    """Savitzky–Golay smoothing, then second-order finite differences.

    **Arguments:**

    - `window_length`: odd number of samples in each local polynomial fit.
    - `polyorder`: degree of the local polynomials (`< window_length`).
    """

    window_length: int = eqx.field(static=True)
    polyorder: int = eqx.field(static=True)

    def __init__(self, window_length: int = 9, polyorder: int = 3):
        check_int("SmoothedFiniteDifference", "window_length", window_length, minimum=3)
        check_int("SmoothedFiniteDifference", "polyorder", polyorder, minimum=0)
        if window_length % 2 == 0 or window_length < 3 or not 0 <= polyorder < window_length:
            raise ValueError(
                f"SmoothedFiniteDifference: window_length must be odd and >= 3 and "
                f"0 <= polyorder < window_length; got window_length={window_length}, "
                f"polyorder={polyorder}"
            )
        self.window_length = window_length
        self.polyorder = polyorder

    def smooth(self, x: Float[Array, "time dim"]) -> Float[Array, "time dim"]:
        """The Savitzky–Golay smoothed series (end windows use their fitted polynomials)."""
        w = self.window_length
        if x.shape[0] < w:
            raise ValueError(
                f"SmoothedFiniteDifference: x of length {x.shape[0]} is shorter than "
                f"window_length={w}"
            )
        centre, proj = _savgol_matrices(w, self.polyorder)
        half = w // 2
        centre = jnp.asarray(centre, x.dtype)
        proj = jnp.asarray(proj, x.dtype)
        n = x.shape[0]
        idx = jnp.arange(n - 2 * half)[:, None] + jnp.arange(w)[None, :]
        inner = jnp.einsum("w,twd->td", centre, x[idx])
        head = (proj @ x[:w])[:half]
        tail = (proj @ x[-w:])[-half:]
        return jnp.concatenate([head, inner, tail], axis=0)

    def __call__(self, x: Float[Array, "time dim"], dt: float) -> Float[Array, "time dim"]:
        check_positive("SmoothedFiniteDifference", "dt", dt)
        return _central(self.smooth(x), dt)

"""Fixed-step integration for learned vector fields (SINDy, MEDIDA).

Uses `dynlearn.kernels.odeint_fixed` when the kernels layer provides it; otherwise a plain
`lax.scan` over classical RK4 steps with the same signature and semantics.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _rk4_step(f, t, y, h, args):
    k1 = f(t, y, args)
    k2 = f(t + h / 2, y + (h / 2) * k1, args)
    k3 = f(t + h / 2, y + (h / 2) * k2, args)
    k4 = f(t + h, y + h * k3, args)
    return y + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)


def _scan_rk4(vector_field, y0, ts, args, steps_per_interval):
    def interval(y, t_pair):
        t0, t1 = t_pair
        h = (t1 - t0) / steps_per_interval

        def sub(i, y):
            return _rk4_step(vector_field, t0 + i * h, y, h, args)

        y = jax.lax.fori_loop(0, steps_per_interval, sub, y)
        return y, y

    _, ys = jax.lax.scan(interval, y0, (ts[:-1], ts[1:]))
    return jnp.concatenate([y0[None], ys], axis=0)


def odeint_rk4(vector_field, y0, ts, args=None, *, steps_per_interval: int = 1):
    """States at `ts` (first row `y0`) of `dy/dt = vector_field(t, y, args)` with RK4 steps."""
    try:
        from ..kernels import odeint_fixed
    except ImportError:
        odeint_fixed = None
    if odeint_fixed is not None:
        return odeint_fixed(
            vector_field, y0, ts, args, method="rk4", steps_per_interval=steps_per_interval
        )
    return _scan_rk4(vector_field, y0, ts, args, steps_per_interval)

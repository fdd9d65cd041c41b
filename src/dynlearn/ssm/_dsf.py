"""The dynamical-systems framework (DSF): one linear time-varying representation of sequence
blocks.

"Understanding the differences in Foundation Models: Attention, State Space Models, and Recurrent
Neural Networks" (Sieber et al., 2024). A block applied to a given input acts on a signal `u` as

    h_t = A_t h_{t-1} + B_t u_t,    y_t = C_t h_t + D_t u_t,

with input-dependent matrices for selective SSMs, linear attention and gated RNNs, and a growing
(here: length-`L`) state for softmax attention. Every block's `dynamical_system(xs)` returns this
system together with the signal `u` it acts on.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jax import lax

from .._types import Array, Inexact
from .._validation import check_dtype
from ._common import promote


class LinearSystem(eqx.Module):
    """A discrete linear time-varying system in state-space form.

    `h_t = A_t h_{t-1} + B_t u_t`, `y_t = C_t h_t + D_t u_t`.

    **Arguments:**

    - `A`: state transitions, `(L, n)` for diagonal ones or `(L, n, n)` for dense ones.
    - `B`: input matrices `(L, n, d_in)`.
    - `C`: output matrices `(L, d_out, n)`.
    - `D`: feedthrough matrices `(L, d_out, d_in)`.
    - `real_output`: take the real part of `y` (complex-diagonal SSMs such as S4, S4D, S5).
    """

    A: Inexact[Array, "L ..."]
    B: Inexact[Array, "L n d_in"]
    C: Inexact[Array, "L d_out n"]
    D: Inexact[Array, "L d_out d_in"]
    real_output: bool = eqx.field(static=True, default=False)

    def __check_init__(self):
        if self.B.ndim != 3 or self.C.ndim != 3 or self.D.ndim != 3 or self.A.ndim not in (2, 3):
            raise ValueError(
                "LinearSystem: expected A (L, n) or (L, n, n), B (L, n, d_in), C (L, d_out, n), "
                f"D (L, d_out, d_in); got A {self.A.shape}, B {self.B.shape}, C {self.C.shape}, "
                f"D {self.D.shape}."
            )
        L, n, _ = self.B.shape
        ok_a = self.A.shape in ((L, n), (L, n, n))
        if not ok_a or self.C.shape[0] != L or self.C.shape[2] != n or self.D.shape[0] != L:
            raise ValueError(
                "LinearSystem: inconsistent shapes A "
                f"{self.A.shape}, B {self.B.shape}, C {self.C.shape}, D {self.D.shape}; expected "
                "A (L, n) or (L, n, n), B (L, n, d_in), C (L, d_out, n), D (L, d_out, d_in)"
            )

    def _dtype(self, other):
        dtype = other
        for x in (self.A, self.B, self.C, self.D):
            dtype = promote(dtype, x.dtype)
        return dtype

    @property
    def diagonal(self) -> bool:
        """Whether the transitions are diagonal."""
        return self.A.ndim == 2

    def __call__(self, us: Inexact[Array, "L d_in"], h0: Inexact[Array, " n"] | None = None):
        """Run the recurrence over the input `us` of shape `(L, d_in)`.

        **Arguments:**

        - `us`: the input signal.
        - `h0`: initial state (default zeros).

        **Returns:**

        Outputs `(L, d_out)`.
        """
        L, n, d_in = self.B.shape
        us = check_dtype("LinearSystem", "us", us, complex_ok=True, cast_integers=True)
        if us.shape != (L, d_in):
            raise ValueError(
                f"LinearSystem: us must have shape {(L, d_in)}, got shape {tuple(us.shape)}."
            )
        if h0 is not None:
            h0 = check_dtype("LinearSystem", "h0", h0, complex_ok=True, cast_integers=True)
            if h0.shape != (n,):
                raise ValueError(
                    f"LinearSystem: h0 must have shape ({n},), got shape {tuple(h0.shape)}."
                )
        dtype = self._dtype(us.dtype)
        h = jnp.zeros(n, dtype) if h0 is None else h0.astype(dtype)

        def body(h, inputs):
            A_t, B_t, C_t, D_t, u_t = inputs
            h = (A_t * h if self.diagonal else A_t @ h) + B_t @ u_t
            y = C_t @ h + D_t @ u_t
            return h, y

        cast = lambda x: x.astype(dtype)
        _, ys = lax.scan(
            body, h, (cast(self.A), cast(self.B), cast(self.C), cast(self.D), cast(us))
        )
        return jnp.real(ys) if self.real_output else ys

    def materialize(self) -> Inexact[Array, "L L d_out d_in"]:
        """The lower-triangular operator `Phi` with `y_i = sum_{j <= i} Phi[i, j] @ u_j`.

        `Phi[i, j] = C_i A_i ... A_{j+1} B_j` for `j < i` and `C_i B_i + D_i` on the diagonal:
        the attention-like matrix by which Sieber et al. compare architectures.

        **Returns:**

        `Phi` of shape `(L, L, d_out, d_in)`.
        """
        L, n, d_in = self.B.shape

        # prop[j] = propagated B_j (zero before j); computed by a scan over time with an (L, n, d)
        # buffer in which row j is injected at time j.
        def step(buf, inputs):
            t, A_t, B_t = inputs
            buf = A_t[None, :, None] * buf if self.diagonal else jnp.einsum("nm,jmd->jnd", A_t, buf)
            buf = buf.at[t].set(B_t)
            return buf, buf

        dtype = self._dtype(self.A.dtype)
        buf0 = jnp.zeros((L, n, d_in), dtype)
        _, bufs = lax.scan(
            step, buf0, (jnp.arange(L), self.A.astype(dtype), self.B.astype(dtype))
        )  # bufs[i, j]
        phi = jnp.einsum("ion,ijnd->ijod", self.C.astype(bufs.dtype), bufs)
        phi = phi + jnp.eye(L, dtype=phi.dtype)[:, :, None, None] * self.D[:, None].astype(
            phi.dtype
        )
        return jnp.real(phi) if self.real_output else phi

"""S5: a multi-input multi-output diagonal state-space layer run by a parallel scan.

"Simplified State Space Layers for Sequence Modeling" (Smith, Warrington, Linderman, ICLR
2023). One state of size `P` is shared by all `d_model` channels: `x_k = Lambda_bar x_{k-1} +
B_bar u_k`, `y_k = Re(C x_k) + D u_k`, with `Lambda` diagonal (initialized from the eigenvalues of
the normal part of HiPPO-LegS, `B` and `C` expressed in its eigenbasis) and a step size per state.
The recurrence runs on `dynlearn.kernels.linear_scan` (a parallel scan).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from .._types import Array, Complex, Float, Key
from .._validation import check_int, check_option
from ._block import AbstractSequenceBlock
from ._common import (
    check_dt_range,
    check_sequence,
    check_state,
    check_token,
    complex_from_pair,
    log_dt_init,
)
from ._discretize import discretize
from ._dsf import LinearSystem
from ._hippo import hippo_nplr
from ._scan import linear_scan


class S5(AbstractSequenceBlock):
    """An S5 layer mapping `(L, d_model)` to `(L, d_model)` through one MIMO state of size `P`.

    **Arguments:**

    - `d_model`: input and output width `H`.
    - `state_size`: state size `P` (complex modes; the output takes the real part).
    - `discretization`: `"zoh"` or `"bilinear"`.
    - `dt_min`, `dt_max`: range of the log-uniform initial step sizes (one per state).
    - `key`: PRNG key (keyword-only).
    """

    log_dt: Float[Array, " P"]
    log_neg_Lambda_real: Float[Array, " P"]
    Lambda_imag: Float[Array, " P"]
    B: Float[Array, "P d_model 2"]
    C: Float[Array, "d_model P 2"]
    D: Float[Array, " d_model"]
    d_model: int = eqx.field(static=True)
    state_size: int = eqx.field(static=True)
    discretization: str = eqx.field(static=True)

    def __init__(
        self,
        d_model: int,
        state_size: int = 64,
        *,
        discretization: str = "zoh",
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        key: Key,
    ):
        d_model = check_int("S5", "d_model", d_model)
        state_size = check_int("S5", "state_size", state_size)
        check_option("S5", "discretization", discretization, ("zoh", "bilinear"))
        check_dt_range("S5", dt_min, dt_max)
        dtype = jnp.zeros(()).dtype
        Lam, _, _, V = hippo_nplr("legs", state_size, dtype=dtype)
        k_dt, k_b, k_c, k_d = jax.random.split(key, 4)
        B = jax.random.normal(k_b, (state_size, d_model), dtype) / math.sqrt(d_model)
        C = complex_from_pair(jax.random.normal(k_c, (d_model, state_size, 2), dtype)) / math.sqrt(
            2 * state_size
        )
        Bt = jnp.conj(V).T @ B.astype(V.dtype)
        Ct = C @ V
        self.log_dt = log_dt_init(k_dt, (state_size,), dt_min, dt_max, dtype)
        self.log_neg_Lambda_real = jnp.log(-jnp.real(Lam))
        self.Lambda_imag = jnp.imag(Lam)
        self.B = jnp.stack([jnp.real(Bt), jnp.imag(Bt)], axis=-1)
        self.C = jnp.stack([jnp.real(Ct), jnp.imag(Ct)], axis=-1)
        self.D = jax.random.normal(k_d, (d_model,), dtype)
        self.d_model = d_model
        self.state_size = state_size
        self.discretization = discretization

    def discrete(
        self,
    ) -> tuple[Complex[Array, " P"], Complex[Array, "P d_model"], Complex[Array, "d_model P"]]:
        """The discretized system `(Lambda_bar, B_bar, C)`.

        **Returns:**

        `Lambda_bar` `(P,)`, `B_bar` `(P, d_model)` and `C` `(d_model, P)`, complex.
        """
        Lam = lax.complex(-jnp.exp(self.log_neg_Lambda_real), self.Lambda_imag)
        Lam_bar, B_bar = discretize(
            Lam, complex_from_pair(self.B), jnp.exp(self.log_dt), self.discretization
        )
        return Lam_bar, B_bar, complex_from_pair(self.C)

    def __call__(
        self, xs: Float[Array, "..."], *, key: Key | None = None
    ) -> Float[Array, "L d_model"]:
        """Run the layer over one sequence with a parallel scan.

        **Arguments:**

        - `xs`: input of shape `(L, d_model)`.
        - `key`: unused (accepted for a uniform block interface).

        **Returns:**

        Outputs of shape `(L, d_model)`.
        """
        xs = check_sequence("S5", xs, self.d_model)
        Lam_bar, B_bar, C = self.discrete()
        Bu = xs.astype(B_bar.dtype) @ B_bar.T  # (L, P)
        hs = linear_scan(jnp.broadcast_to(Lam_bar, Bu.shape), Bu)
        return jnp.real(hs @ C.T) + xs * self.D[None, :]

    def init_state(self) -> Complex[Array, " P"]:
        """Zero state for [`dynlearn.ssm.S5.step`][].

        **Returns:**

        A complex array of shape `(P,)`.
        """
        cdt = jnp.complex128 if self.D.dtype == jnp.float64 else jnp.complex64
        return jnp.zeros(self.state_size, cdt)

    def step(self, state: Complex[Array, " P"], x: Float[Array, "..."]):
        """Advance one token.

        **Arguments:**

        - `state`: the state from `init_state()` or a previous step.
        - `x`: one token of shape `(d_model,)`.

        **Returns:**

        `(new_state, y)` with `y` of shape `(d_model,)`.
        """
        x = check_token("S5", x, self.d_model)
        check_state("S5", state, (self.state_size,))
        Lam_bar, B_bar, C = self.discrete()
        state = Lam_bar * state + B_bar @ x.astype(B_bar.dtype)
        return state, jnp.real(C @ state) + self.D * x

    def dynamical_system(
        self, xs: Float[Array, "..."]
    ) -> tuple[LinearSystem, Float[Array, "L d_model"]]:
        """The linear time-invariant system of this layer in DSF form (diagonal `A`).

        **Arguments:**

        - `xs`: input of shape `(L, d_model)`.

        **Returns:**

        `(system, u)` with `u = xs` and `system(u)` equal to the layer's output.
        """
        xs = check_sequence("S5", xs, self.d_model)
        Lam_bar, B_bar, C = self.discrete()
        L, P, H = xs.shape[0], self.state_size, self.d_model
        system = LinearSystem(
            jnp.broadcast_to(Lam_bar, (L, P)),
            jnp.broadcast_to(B_bar, (L, P, H)),
            jnp.broadcast_to(C, (L, H, P)),
            jnp.broadcast_to(jnp.diag(self.D), (L, H, H)),
            real_output=True,
        )
        return system, xs

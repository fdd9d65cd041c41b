"""S4: the structured state-space layer with a diagonal-plus-low-rank (DPLR) state matrix.

"Efficiently Modeling Long Sequences with Structured State Spaces" (Gu, Goel, Re, ICLR 2022).
Each channel is a SISO SSM with `A = diag(Lambda) - P^T conj(P)` initialized from the NPLR form
of HiPPO-LegS and discretized with the bilinear transform. The length-`L` convolution kernel is
evaluated at the `L` roots of unity through its generating function: a Cauchy kernel
`sum_n v_n / (g(z) - Lambda_n)` plus a Woodbury correction for the low-rank term, followed by
one inverse FFT; the recurrent and step modes run the dense discrete recurrence. All agree.

Here the full set of `N` complex modes is kept (no conjugate-symmetry halving) and the output is
`Re(C h)`, which keeps the algebra exact for any complex parameters.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from .._types import Array, Complex, Float, Key
from .._validation import check_int
from ._block import AbstractSequenceBlock
from ._common import (
    causal_fft_conv_finite,
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


def _pair(z):
    return jnp.stack([jnp.real(z), jnp.imag(z)], axis=-1)


class S4(AbstractSequenceBlock):
    """An S4 layer (DPLR state matrix) mapping `(L, d_model)` to `(L, d_model)`.

    **Arguments:**

    - `d_model`: number of channels (independent SISO SSMs).
    - `state_size`: state size `N` per channel (complex modes).
    - `dt_min`, `dt_max`: range of the log-uniform initial step sizes.
    - `key`: PRNG key (keyword-only).
    """

    log_dt: Float[Array, " d_model"]
    log_neg_Lambda_real: Float[Array, "d_model N"]
    Lambda_imag: Float[Array, "d_model N"]
    P: Float[Array, "d_model rank N 2"]
    B: Float[Array, "d_model N 2"]
    C: Float[Array, "d_model N 2"]
    D: Float[Array, " d_model"]
    d_model: int = eqx.field(static=True)
    state_size: int = eqx.field(static=True)

    def __init__(
        self,
        d_model: int,
        state_size: int = 64,
        *,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        key: Key,
    ):
        d_model = check_int("S4", "d_model", d_model)
        state_size = check_int("S4", "state_size", state_size)
        check_dt_range("S4", dt_min, dt_max)
        dtype = jnp.zeros(()).dtype
        Lam, Pt, Bt, _ = hippo_nplr("legs", state_size, dtype=dtype)
        k_dt, k_c = jax.random.split(key)
        H, N = d_model, state_size
        self.log_dt = log_dt_init(k_dt, (H,), dt_min, dt_max, dtype)
        self.log_neg_Lambda_real = jnp.broadcast_to(jnp.log(-jnp.real(Lam)), (H, N))
        self.Lambda_imag = jnp.broadcast_to(jnp.imag(Lam), (H, N))
        self.P = jnp.broadcast_to(_pair(Pt), (H, *Pt.shape, 2))
        self.B = jnp.broadcast_to(_pair(Bt), (H, N, 2))
        self.C = jax.random.normal(k_c, (H, N, 2), dtype) * math.sqrt(0.5)
        self.D = jnp.ones(H, dtype)
        self.d_model = d_model
        self.state_size = state_size

    def _continuous(self):
        Lam = lax.complex(-jnp.exp(self.log_neg_Lambda_real), self.Lambda_imag)
        return Lam, complex_from_pair(self.P), complex_from_pair(self.B), complex_from_pair(self.C)

    def dense_A(self) -> Complex[Array, "d_model N N"]:
        """The continuous state matrices `A = diag(Lambda) - P^T conj(P)`, one per channel.

        **Returns:**

        A complex array of shape `(d_model, N, N)`.
        """
        Lam, P, _, _ = self._continuous()
        low_rank = jnp.einsum("hri,hrj->hij", P, jnp.conj(P))
        return jax.vmap(jnp.diag)(Lam) - low_rank

    def discrete(
        self,
    ) -> tuple[
        Complex[Array, "d_model N N"], Complex[Array, "d_model N"], Complex[Array, "d_model N"]
    ]:
        """The bilinear discretization `(A_bar, B_bar, C)` per channel.

        **Returns:**

        `A_bar` of shape `(d_model, N, N)`, `B_bar` and `C` of shape `(d_model, N)`.
        """
        _, _, B, C = self._continuous()
        dt = jnp.exp(self.log_dt)
        A_bar, B_bar = jax.vmap(lambda a, b, h: discretize(a, b, h, "bilinear"))(
            self.dense_A(), B, dt
        )
        return A_bar, B_bar, C

    def kernel(self, L: int) -> Float[Array, "d_model L"]:
        """The convolution kernel via Cauchy kernels, Woodbury and an inverse FFT.

        **Arguments:**

        - `L`: kernel length.

        **Returns:**

        `K` of shape `(d_model, L)` with `y[l] = sum_j K[:, j] x[l - j] + D x[l]`.
        """
        L = check_int("S4.kernel", "L", L)
        Lam, P, B, C = self._continuous()
        A_bar, _, _ = self.discrete()
        dt = jnp.exp(self.log_dt).astype(Lam.dtype)
        # C~ = C (I - A_bar^L): the generating function truncated at length L (z^L = 1).
        power = jax.vmap(lambda a: jnp.linalg.matrix_power(a, L))(A_bar)
        C_tilde = C - jnp.einsum("hn,hnm->hm", C, power)
        k = jnp.arange(L).astype(Lam.real.dtype)
        z = jnp.exp(lax.complex(jnp.zeros_like(k), -2 * jnp.pi * k / L))  # (L,)
        # (I - A_bar z)^{-1} B_bar = 2 [(2/dt)(1-z) I - (1+z) A]^{-1} B, written without 1/(1+z)
        # so that z = -1 needs no special case. R_n = 1 / ((2/dt)(1-z) - (1+z) Lambda_n).
        R = 1.0 / (
            (2.0 / dt)[:, None, None] * (1 - z)[None, :, None]
            - (1 + z)[None, :, None] * Lam[:, None, :]
        )  # (H, L, N)
        Pc = jnp.conj(P)
        k00 = jnp.einsum("hn,hln->hl", C_tilde * B, R)
        k01 = (1 + z)[None, :, None] * jnp.einsum("hn,hrn,hln->hlr", C_tilde, P, R)
        k11 = (1 + z)[None, :, None, None] * jnp.einsum("hrn,hsn,hln->hlrs", Pc, P, R)
        k10 = jnp.einsum("hrn,hn,hln->hlr", Pc, B, R)
        rank = P.shape[1]
        eye = jnp.eye(rank, dtype=R.dtype)
        corr = jnp.linalg.solve(eye[None, None] + k11, k10[..., None])[..., 0]
        K_hat = 2 * (k00 - jnp.sum(k01 * corr, axis=-1))
        return jnp.real(jnp.fft.ifft(K_hat, axis=-1))

    def __call__(
        self, xs: Float[Array, "..."], *, key: Key | None = None
    ) -> Float[Array, "L d_model"]:
        """Convolution mode (Cauchy/Woodbury kernel, FFT convolution).

        **Arguments:**

        - `xs`: input of shape `(L, d_model)`.
        - `key`: unused (accepted for a uniform block interface).

        **Returns:**

        Outputs of shape `(L, d_model)`.
        """
        xs = check_sequence("S4", xs, self.d_model)
        K = self.kernel(xs.shape[0]).astype(xs.dtype)
        return causal_fft_conv_finite(xs, K) + xs * self.D[None, :]

    def recurrent(self, xs: Float[Array, "..."]) -> Float[Array, "L d_model"]:
        """Recurrent mode: the dense discrete recurrence, one token at a time.

        **Arguments:**

        - `xs`: input of shape `(L, d_model)`.

        **Returns:**

        Outputs of shape `(L, d_model)`, equal to `__call__`.
        """
        xs = check_sequence("S4", xs, self.d_model)
        _, ys = lax.scan(lambda s, x: self._step(s, x, self.discrete()), self.init_state(), xs)
        return ys

    def init_state(self) -> Complex[Array, "d_model N"]:
        """Zero state for [`dynlearn.ssm.S4.step`][].

        **Returns:**

        A complex array of shape `(d_model, N)`.
        """
        cdt = jnp.complex128 if self.D.dtype == jnp.float64 else jnp.complex64
        return jnp.zeros((self.d_model, self.state_size), cdt)

    def _step(self, state, x, disc):
        A_bar, B_bar, C = disc
        state = jnp.einsum("hnm,hm->hn", A_bar, state) + B_bar * x.astype(B_bar.dtype)[:, None]
        y = jnp.real(jnp.sum(C * state, axis=-1)) + self.D * x
        return state, y

    def step(self, state: Complex[Array, "d_model N"], x: Float[Array, "..."]):
        """Advance one token.

        **Arguments:**

        - `state`: the state from `init_state()` or a previous step.
        - `x`: one token of shape `(d_model,)`.

        **Returns:**

        `(new_state, y)` with `y` of shape `(d_model,)`.
        """
        x = check_token("S4", x, self.d_model)
        check_state("S4", state, (self.d_model, self.state_size))
        return self._step(state, x, self.discrete())

    def dynamical_system(
        self, xs: Float[Array, "..."]
    ) -> tuple[LinearSystem, Float[Array, "L d_model"]]:
        """The linear time-invariant system of this layer in DSF form (block-diagonal dense `A`).

        **Arguments:**

        - `xs`: input of shape `(L, d_model)`.

        **Returns:**

        `(system, u)` with `u = xs` and `system(u)` equal to the layer's output.
        """
        xs = check_sequence("S4", xs, self.d_model)
        A_bar, B_bar, C = self.discrete()
        H, N = B_bar.shape
        L = xs.shape[0]
        eye = jnp.eye(H, dtype=A_bar.dtype)
        A = jnp.einsum("hnm,hg->hngm", A_bar, eye).reshape(H * N, H * N)
        B = (B_bar[:, :, None] * eye[:, None, :]).reshape(H * N, H)
        Cm = (C[:, :, None] * eye[:, None, :]).reshape(H * N, H).T
        system = LinearSystem(
            jnp.broadcast_to(A, (L, H * N, H * N)),
            jnp.broadcast_to(B, (L, H * N, H)),
            jnp.broadcast_to(Cm, (L, H, H * N)),
            jnp.broadcast_to(jnp.diag(self.D), (L, H, H)),
            real_output=True,
        )
        return system, xs

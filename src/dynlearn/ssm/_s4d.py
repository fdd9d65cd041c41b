"""S4D: diagonal state-space layer with a Vandermonde convolution kernel.

"On the Parameterization and Initialization of Diagonal State Space Models" (Gu, Gupta, Goel,
Re, 2022). Each of the `d_model` channels is an independent single-input single-output SSM with
diagonal complex `A`; with conjugate symmetry only half of the modes are stored and the output is
`2 Re(C h)`. Convolution mode computes the kernel `K_l = c Re(sum_n C_n B_bar_n A_bar_n^l)` (a
Vandermonde product) and convolves through the FFT; recurrent and step modes run the
recurrence. All three agree.
"""

from __future__ import annotations

import math
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._types import Array, Complex, Float, Key
from .._validation import check_int, check_option
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
from ._scan import linear_scan

S4DInit = Literal["lin", "inv", "real", "legs"]


def s4d_init(init: str, state_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Diagonal `A` (and `B`) of an S4D initialization, as float64/complex128 NumPy arrays.

    **Arguments:**

    - `init`: `"lin"` (`A_n = -1/2 + i pi n`), `"inv"` (`A_n = -1/2 + i (N/pi)(N/(2n+1) - 1)`),
      `"real"` (`A_n = -(n+1)`, the init Mamba uses) or `"legs"` (the eigenvalues of the normal part
      of HiPPO-LegS, with `B` projected onto its eigenvectors).
    - `state_size` (`N`): state size. The conjugate-symmetric inits return `N // 2` modes,
      `"real"` returns `N`.

    **Returns:**

    `(A, B)`, both of shape `(modes,)`.
    """
    N = check_int("s4d_init", "state_size", state_size)
    check_option("s4d_init", "init", init, ("lin", "inv", "real", "legs"))
    if init == "real":
        return -(np.arange(N) + 1.0) + 0j, np.ones(N, np.complex128)
    if N % 2:
        raise ValueError(
            f"s4d_init: init {init!r} uses conjugate pairs and needs an even state_size, got "
            f"state_size={N}."
        )
    M = N // 2
    n = np.arange(M)
    if init == "lin":
        return -0.5 + 1j * np.pi * n, np.ones(M, np.complex128)
    if init == "inv":
        return -0.5 + 1j * (N / np.pi) * (N / (2 * n + 1) - 1), np.ones(M, np.complex128)
    if init == "legs":
        Lam, _, Bt, _ = (np.asarray(v) for v in hippo_nplr("legs", N, dtype=jnp.complex64))
        keep = np.argsort(-Lam.imag)[:M]  # one eigenvalue of each conjugate pair
        return Lam[keep].astype(np.complex128), Bt[keep].astype(np.complex128)
    raise ValueError(f"s4d_init: init must be 'lin', 'inv', 'real' or 'legs', got {init!r}")


def vandermonde(weights, log_base, L: int):
    """`K[h, l] = sum_m weights[h, m] exp(l log_base[h, m])` for `l < L`, without `L * M` exps.

    Splitting `l = q c + r` with `c ~ sqrt(L)` turns the Vandermonde product into one batched
    matrix product of two small power tables, `(Q, M) @ (M, c)` per channel.
    """
    c = max(1, math.isqrt(L - 1) + 1)
    Q = -(-L // c)
    r = jnp.arange(c).astype(log_base.dtype)
    q = jnp.arange(Q).astype(log_base.dtype)
    inner = jnp.exp(log_base[:, :, None] * r[None, None, :])  # (H, M, c)
    outer = jnp.exp((c * log_base)[:, None, :] * q[None, :, None]) * weights[:, None, :]
    return jnp.matmul(outer, inner).reshape(weights.shape[0], Q * c)[:, :L]


class S4D(AbstractSequenceBlock):
    """A diagonal state-space layer (S4D) mapping `(L, d_model)` to `(L, d_model)`.

    **Arguments:**

    - `d_model`: number of channels (independent SISO SSMs).
    - `state_size`: state size `N` per channel.
    - `init`: `"lin"`, `"inv"`, `"real"` or `"legs"` (see [`dynlearn.ssm.s4d_init`][]).
    - `discretization`: `"zoh"` or `"bilinear"`.
    - `dt_min`, `dt_max`: range of the log-uniform initial step sizes.
    - `key`: PRNG key (keyword-only).
    """

    log_dt: Float[Array, " d_model"]
    log_neg_A_real: Float[Array, "d_model modes"]
    A_imag: Float[Array, "d_model modes"]
    B: Float[Array, "d_model modes 2"]
    C: Float[Array, "d_model modes 2"]
    D: Float[Array, " d_model"]
    d_model: int = eqx.field(static=True)
    state_size: int = eqx.field(static=True)
    init: str = eqx.field(static=True)
    discretization: str = eqx.field(static=True)

    def __init__(
        self,
        d_model: int,
        state_size: int = 64,
        *,
        init: str = "lin",
        discretization: str = "zoh",
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        key: Key,
    ):
        d_model = check_int("S4D", "d_model", d_model)
        state_size = check_int("S4D", "state_size", state_size)
        check_option("S4D", "init", init, ("lin", "inv", "real", "legs"))
        check_option("S4D", "discretization", discretization, ("zoh", "bilinear"))
        check_dt_range("S4D", dt_min, dt_max)
        A, B = s4d_init(init, state_size)
        M = A.shape[0]
        dtype = jnp.zeros(()).dtype
        k_dt, k_c = jax.random.split(key)
        self.log_dt = log_dt_init(k_dt, (d_model,), dt_min, dt_max, dtype)
        self.log_neg_A_real = jnp.broadcast_to(jnp.asarray(np.log(-A.real), dtype), (d_model, M))
        self.A_imag = jnp.broadcast_to(jnp.asarray(A.imag, dtype), (d_model, M))
        self.B = jnp.broadcast_to(
            jnp.asarray(np.stack([B.real, B.imag], -1), dtype), (d_model, M, 2)
        )
        self.C = jax.random.normal(k_c, (d_model, M, 2), dtype) * math.sqrt(0.5)
        self.D = jnp.ones(d_model, dtype)
        self.d_model = d_model
        self.state_size = state_size
        self.init = init
        self.discretization = discretization

    @property
    def _output_scale(self) -> float:
        return 1.0 if self.init == "real" else 2.0

    def discrete(
        self,
    ) -> tuple[
        Complex[Array, "d_model modes"],
        Complex[Array, "d_model modes"],
        Complex[Array, "d_model modes"],
    ]:
        """The discretized diagonal system `(A_bar, B_bar, C)`, each `(d_model, modes)`.

        **Returns:**

        Complex arrays `A_bar`, `B_bar` and the output weights `C` (without the factor 2 of
        conjugate symmetry).
        """
        A = lax.complex(-jnp.exp(self.log_neg_A_real), self.A_imag)
        dt = jnp.exp(self.log_dt)[:, None]
        A_bar, B_bar = jax.vmap(lambda a, b, h: discretize(a, b, h, self.discretization))(
            A, complex_from_pair(self.B), dt
        )
        return A_bar, B_bar, complex_from_pair(self.C)

    def kernel(self, L: int) -> Float[Array, "d_model L"]:
        """The convolution kernel `K` of length `L` (Vandermonde product), shape `(d_model, L)`.

        **Arguments:**

        - `L`: kernel length.

        **Returns:**

        `K` with `y[l] = sum_j K[:, j] x[l - j] + D x[l]`.
        """
        L = check_int("S4D.kernel", "L", L)
        A_bar, B_bar, C = self.discrete()
        return self._output_scale * jnp.real(vandermonde(C * B_bar, jnp.log(A_bar), L))

    def __call__(
        self, xs: Float[Array, "..."], *, key: Key | None = None
    ) -> Float[Array, "L d_model"]:
        """Convolution mode (FFT) over one sequence.

        **Arguments:**

        - `xs`: input of shape `(L, d_model)`.
        - `key`: unused (accepted for a uniform block interface).

        **Returns:**

        Outputs of shape `(L, d_model)`.
        """
        xs = check_sequence("S4D", xs, self.d_model)
        K = self.kernel(xs.shape[0]).astype(xs.dtype)
        return causal_fft_conv_finite(xs, K) + xs * self.D[None, :]

    def recurrent(self, xs: Float[Array, "..."]) -> Float[Array, "L d_model"]:
        """Recurrent mode: the diagonal recurrence through a parallel linear scan.

        **Arguments:**

        - `xs`: input of shape `(L, d_model)`.

        **Returns:**

        Outputs of shape `(L, d_model)`, equal to `__call__`.
        """
        xs = check_sequence("S4D", xs, self.d_model)
        A_bar, B_bar, C = self.discrete()
        L = xs.shape[0]
        a = jnp.broadcast_to(A_bar, (L, *A_bar.shape))
        b = B_bar[None] * xs.astype(B_bar.dtype)[:, :, None]
        hs = linear_scan(a, b)
        return self._output_scale * jnp.real(jnp.einsum("hm,lhm->lh", C, hs)) + xs * self.D[None, :]

    def init_state(self) -> Complex[Array, "d_model modes"]:
        """Zero state for [`dynlearn.ssm.S4D.step`][].

        **Returns:**

        A complex array of shape `(d_model, modes)`.
        """
        modes = self.log_neg_A_real.shape[1]
        return jnp.zeros(
            (self.d_model, modes), jnp.complex128 if self.D.dtype == jnp.float64 else jnp.complex64
        )

    def step(self, state: Complex[Array, "d_model modes"], x: Float[Array, "..."]):
        """Advance one token.

        **Arguments:**

        - `state`: the state from `init_state()` or a previous step.
        - `x`: one token of shape `(d_model,)`.

        **Returns:**

        `(new_state, y)` with `y` of shape `(d_model,)`.
        """
        x = check_token("S4D", x, self.d_model)
        check_state("S4D", state, self.log_neg_A_real.shape)
        A_bar, B_bar, C = self.discrete()
        state = A_bar * state + B_bar * x.astype(B_bar.dtype)[:, None]
        y = self._output_scale * jnp.real(jnp.sum(C * state, axis=-1)) + self.D * x
        return state, y

    def dynamical_system(
        self, xs: Float[Array, "..."]
    ) -> tuple[LinearSystem, Float[Array, "L d_model"]]:
        """The linear (time-invariant) system this layer applies, in DSF form.

        **Arguments:**

        - `xs`: input of shape `(L, d_model)`.

        **Returns:**

        `(system, u)`: a [`dynlearn.ssm.LinearSystem`][] with diagonal `A` over the
        `d_model * modes` states, and the signal `u = xs` it acts on.
        """
        xs = check_sequence("S4D", xs, self.d_model)
        A_bar, B_bar, C = self.discrete()
        H, M = A_bar.shape
        L = xs.shape[0]
        eye = jnp.eye(H, dtype=B_bar.dtype)
        B = (B_bar[:, :, None] * eye[:, None, :]).reshape(H * M, H)
        Cm = (self._output_scale * C[:, :, None] * eye[:, None, :]).reshape(H * M, H).T
        D = jnp.diag(self.D)
        system = LinearSystem(
            jnp.broadcast_to(A_bar.reshape(H * M), (L, H * M)),
            jnp.broadcast_to(B, (L, H * M, H)),
            jnp.broadcast_to(Cm, (L, H, H * M)),
            jnp.broadcast_to(D, (L, H, H)),
            real_output=True,
        )
        return system, xs

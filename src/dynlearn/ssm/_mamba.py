"""The Mamba block: input projection, causal depthwise conv1d, selective scan, gating, output
projection.

"Mamba: Linear-Time Sequence Modeling with Selective State Spaces" (Gu and Dao, 2023). The
selective SSM (S6) makes `delta`, `B` and `C` functions of the token, so the block is a linear
time-varying system in its (post-convolution) input: `h_t = exp(delta_t A) h_{t-1} +
delta_t B_t u_t`, `y_t = C_t h_t + D u_t`, gated by `silu(z_t)`. The scan itself runs on
`dynlearn.kernels.selective_scan`.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array, Float, Key
from .._validation import check_int
from ._block import AbstractSequenceBlock
from ._common import check_dt_range, check_sequence, check_state, check_token
from ._dsf import LinearSystem
from ._scan import selective_scan


def _uniform(key, shape, bound, dtype):
    return jax.random.uniform(key, shape, dtype, -bound, bound)


class MambaState(eqx.Module):
    """Cached state of a [`dynlearn.ssm.Mamba`][] block for step-by-step inference.

    **Arguments:**

    - `conv`: the last `d_conv` (pre-convolution) inputs, shape `(d_conv, d_inner)`.
    - `ssm`: the selective-SSM state, shape `(d_inner, state_size)`.
    """

    conv: Float[Array, "d_conv d_inner"]
    ssm: Float[Array, "d_inner state"]


class Mamba(AbstractSequenceBlock):
    """A Mamba block mapping `(L, d_model)` to `(L, d_model)`.

    **Arguments:**

    - `d_model`: model (residual stream) width.
    - `state_size`: SSM state size `N` per channel (16 in the paper).
    - `d_conv`: width of the causal depthwise convolution (4).
    - `expand`: `d_inner = expand * d_model` (2).
    - `dt_rank`: rank of the `delta` projection (default `ceil(d_model / 16)`).
    - `dt_min`, `dt_max`: range of the log-uniform initial step sizes.
    - `key`: PRNG key (keyword-only).
    """

    in_proj: Float[Array, "two_inner d_model"]
    conv_weight: Float[Array, "d_inner d_conv"]
    conv_bias: Float[Array, " d_inner"]
    x_proj: Float[Array, "proj d_inner"]
    dt_proj: Float[Array, "d_inner dt_rank"]
    dt_bias: Float[Array, " d_inner"]
    A_log: Float[Array, "d_inner state"]
    D: Float[Array, " d_inner"]
    out_proj: Float[Array, "d_model d_inner"]
    d_model: int = eqx.field(static=True)
    d_inner: int = eqx.field(static=True)
    state_size: int = eqx.field(static=True)
    d_conv: int = eqx.field(static=True)
    dt_rank: int = eqx.field(static=True)

    def __init__(
        self,
        d_model: int,
        state_size: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        dt_rank: int | None = None,
        *,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        key: Key,
    ):
        d_model = check_int("Mamba", "d_model", d_model)
        state_size = check_int("Mamba", "state_size", state_size)
        d_conv = check_int("Mamba", "d_conv", d_conv)
        expand = check_int("Mamba", "expand", expand)
        if dt_rank is not None:
            dt_rank = check_int("Mamba", "dt_rank", dt_rank)
        check_dt_range("Mamba", dt_min, dt_max)
        d_inner = expand * d_model
        dt_rank = math.ceil(d_model / 16) if dt_rank is None else dt_rank
        dtype = jnp.zeros(()).dtype
        keys = jax.random.split(key, 6)
        self.in_proj = _uniform(keys[0], (2 * d_inner, d_model), d_model**-0.5, dtype)
        self.conv_weight = _uniform(keys[1], (d_inner, d_conv), d_conv**-0.5, dtype)
        self.conv_bias = _uniform(keys[2], (d_inner,), d_conv**-0.5, dtype)
        self.x_proj = _uniform(keys[3], (dt_rank + 2 * state_size, d_inner), d_inner**-0.5, dtype)
        self.dt_proj = _uniform(keys[4], (d_inner, dt_rank), dt_rank**-0.5, dtype)
        u = jax.random.uniform(keys[5], (d_inner,), dtype)
        dt = jnp.exp(u * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        dt = jnp.maximum(dt, 1e-4)
        self.dt_bias = dt + jnp.log(-jnp.expm1(-dt))  # inverse softplus
        self.A_log = jnp.log(
            jnp.broadcast_to(jnp.arange(1, state_size + 1, dtype=dtype), (d_inner, state_size))
        )
        self.D = jnp.ones(d_inner, dtype)
        self.out_proj = _uniform(
            jax.random.fold_in(key, 7), (d_model, d_inner), d_inner**-0.5, dtype
        )
        self.d_model = d_model
        self.d_inner = d_inner
        self.state_size = state_size
        self.d_conv = d_conv
        self.dt_rank = dt_rank

    @property
    def A(self) -> Float[Array, "d_inner state"]:
        """The continuous-time state matrix `A = -exp(A_log)` (diagonal per channel)."""
        return -jnp.exp(self.A_log)

    def _conv(self, x):
        L = x.shape[0]
        pad = jnp.concatenate([jnp.zeros((self.d_conv - 1, self.d_inner), x.dtype), x], axis=0)
        out = sum(self.conv_weight[None, :, k] * pad[k : k + L] for k in range(self.d_conv))
        return out + self.conv_bias[None, :]

    def _ssm_inputs(self, xs):
        """Everything up to the selective scan: (u, delta_raw, B, C, z)."""
        xs = check_sequence("Mamba", xs, self.d_model)
        xz = xs @ self.in_proj.T
        x, z = xz[:, : self.d_inner], xz[:, self.d_inner :]
        u = jax.nn.silu(self._conv(x))
        x_dbl = u @ self.x_proj.T
        dt_raw = x_dbl[:, : self.dt_rank]
        B = x_dbl[:, self.dt_rank : self.dt_rank + self.state_size]
        C = x_dbl[:, self.dt_rank + self.state_size :]
        return u, dt_raw @ self.dt_proj.T, B, C, z

    def __call__(
        self, xs: Float[Array, "..."], *, key: Key | None = None
    ) -> Float[Array, "L d_model"]:
        """Run the block over one sequence (parallel selective scan).

        **Arguments:**

        - `xs`: input of shape `(L, d_model)`.
        - `key`: unused (accepted for a uniform block interface).

        **Returns:**

        Outputs of shape `(L, d_model)`.
        """
        u, delta, B, C, z = self._ssm_inputs(xs)
        y = selective_scan(
            u, delta, self.A, B, C, self.D, z, delta_bias=self.dt_bias, delta_softplus=True
        )
        return y @ self.out_proj.T

    def init_state(self) -> MambaState:
        """Zero cache for [`dynlearn.ssm.Mamba.step`][].

        **Returns:**

        A [`dynlearn.ssm.MambaState`][].
        """
        dtype = self.D.dtype
        return MambaState(
            jnp.zeros((self.d_conv, self.d_inner), dtype),
            jnp.zeros((self.d_inner, self.state_size), dtype),
        )

    def step(
        self, state: MambaState, x: Float[Array, "..."]
    ) -> tuple[MambaState, Float[Array, " d_model"]]:
        """Advance one token with the cached convolution window and SSM state.

        **Arguments:**

        - `state`: a [`dynlearn.ssm.MambaState`][] (from `init_state()` or a previous step).
        - `x`: one token of shape `(d_model,)`.

        **Returns:**

        `(new_state, y)` with `y` of shape `(d_model,)`.
        """
        x = check_token("Mamba", x, self.d_model)
        check_state("Mamba", state, jax.eval_shape(self.init_state))
        xz = self.in_proj @ x
        xi, z = xz[: self.d_inner], xz[self.d_inner :]
        conv = jnp.concatenate([state.conv[1:], xi[None, :]], axis=0)
        u = jax.nn.silu(jnp.sum(conv.T * self.conv_weight, axis=1) + self.conv_bias)
        x_dbl = self.x_proj @ u
        dt_raw = x_dbl[: self.dt_rank]
        B = x_dbl[self.dt_rank : self.dt_rank + self.state_size]
        C = x_dbl[self.dt_rank + self.state_size :]
        delta = jax.nn.softplus(self.dt_proj @ dt_raw + self.dt_bias)
        h = jnp.exp(delta[:, None] * self.A) * state.ssm + (delta * u)[:, None] * B[None, :]
        y = (h @ C + self.D * u) * jax.nn.silu(z)
        return MambaState(conv, h), self.out_proj @ y

    def dynamical_system(
        self, xs: Float[Array, "..."]
    ) -> tuple[LinearSystem, Float[Array, "L d_inner"]]:
        """The linear time-varying system the block applies to its post-convolution signal.

        With `u_t = silu(conv(x_t))`: `A_t = exp(delta_t A)` (diagonal over the
        `d_inner * state_size` states), `B_t = delta_t B_t`, and the gate and output projection
        folded into `C_t = W_out diag(silu(z_t)) C_t` and `D_t = W_out diag(silu(z_t) D)`.

        **Arguments:**

        - `xs`: input of shape `(L, d_model)`.

        **Returns:**

        `(system, u)` with `system(u)` equal to the block's output.
        """
        u, delta_raw, B, C, z = self._ssm_inputs(xs)
        L, Di, N = xs.shape[0], self.d_inner, self.state_size
        delta = jax.nn.softplus(delta_raw + self.dt_bias[None, :])
        A_t = jnp.exp(delta[:, :, None] * self.A[None]).reshape(L, Di * N)
        eye = jnp.eye(Di, dtype=u.dtype)
        # state index (d, n): B_t[(d, n), d'] = delta_t[d] B_t[n] [d == d']
        B_t = (delta[:, :, None, None] * B[:, None, :, None] * eye[None, :, None, :]).reshape(
            L, Di * N, Di
        )
        gate = jax.nn.silu(z)
        # C_t[o, (d, n)] = W_out[o, d] gate_t[d] C_t[n]
        C_t = (
            self.out_proj[None, :, :, None] * gate[:, None, :, None] * C[:, None, None, :]
        ).reshape(L, self.d_model, Di * N)
        D_t = self.out_proj[None, :, :] * (gate * self.D[None, :])[:, None, :]
        return LinearSystem(A_t, B_t, C_t, D_t), u

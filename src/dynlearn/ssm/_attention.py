"""Causal softmax attention and causal linear attention as sequence blocks.

Softmax attention: "Attention Is All You Need" (Vaswani et al., 2017). Linear attention with the
`elu + 1` feature map: "Transformers are RNNs" (Katharopoulos et al., 2020), which runs as a
recurrence on a `(d_key, d_value)` matrix state. In the dynamical-systems framework of Sieber et
al. (2024) linear attention is a linear time-varying system with identity transitions and
input-dependent `B_t`, `C_t`; softmax attention needs a state that grows with the sequence (here:
one slot per past token, with the attention weights in `C_t`).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array, Float, Int, Key
from .._validation import check_int, check_positive
from ._block import AbstractSequenceBlock
from ._common import causal_rows_non_finite, check_sequence, check_state, check_token
from ._dsf import LinearSystem


def _init_projections(key, d_model, dtype):
    bound = d_model**-0.5
    return [
        jax.random.uniform(k, (d_model, d_model), dtype, -bound, bound)
        for k in jax.random.split(key, 4)
    ]


class AttentionState(eqx.Module):
    """Key/value cache of [`dynlearn.ssm.SoftmaxAttention`][] for step-by-step inference.

    **Arguments:**

    - `keys`, `values`: cached projections, shape `(max_len, d_model)`.
    - `position`: number of tokens seen so far.
    """

    keys: Float[Array, "max_len d_model"]
    values: Float[Array, "max_len d_model"]
    position: Int[Array, ""]


class SoftmaxAttention(AbstractSequenceBlock):
    """Causal multi-head softmax attention mapping `(L, d_model)` to `(L, d_model)`.

    **Arguments:**

    - `d_model`: model width (divisible by `num_heads`).
    - `num_heads`: number of heads.
    - `max_len`: length of the key/value cache that `init_state()` allocates for `step`: the
      most tokens a recurrent run can see (`__call__` has no limit).
    - `key`: PRNG key (keyword-only).
    """

    Wq: Float[Array, "d_model d_model"]
    Wk: Float[Array, "d_model d_model"]
    Wv: Float[Array, "d_model d_model"]
    Wo: Float[Array, "d_model d_model"]
    d_model: int = eqx.field(static=True)
    num_heads: int = eqx.field(static=True)
    max_len: int = eqx.field(static=True)

    def __init__(self, d_model: int, num_heads: int = 1, *, max_len: int = 2048, key: Key):
        d_model = check_int("SoftmaxAttention", "d_model", d_model)
        num_heads = check_int("SoftmaxAttention", "num_heads", num_heads)
        max_len = check_int("SoftmaxAttention", "max_len", max_len)
        if d_model % num_heads:
            raise ValueError(
                f"SoftmaxAttention: d_model={d_model} not divisible by num_heads={num_heads}"
            )
        self.Wq, self.Wk, self.Wv, self.Wo = _init_projections(key, d_model, jnp.zeros(()).dtype)
        self.d_model = d_model
        self.num_heads = num_heads
        self.max_len = max_len

    def _heads(self, x):
        return x.reshape(*x.shape[:-1], self.num_heads, self.d_model // self.num_heads)

    def attention_weights(self, xs: Float[Array, "..."]) -> Float[Array, "heads L L"]:
        """The causal attention matrices, one per head.

        **Arguments:**

        - `xs`: input of shape `(L, d_model)`.

        **Returns:**

        Row-stochastic lower-triangular weights of shape `(num_heads, L, L)`.
        """
        xs = check_sequence("SoftmaxAttention", xs, self.d_model)
        L = xs.shape[0]
        q = self._heads(xs @ self.Wq.T)
        k = self._heads(xs @ self.Wk.T)
        scores = jnp.einsum("ihd,jhd->hij", q, k) / jnp.sqrt(q.shape[-1]).astype(xs.dtype)
        mask = jnp.tril(jnp.ones((L, L), bool))
        scores = jnp.where(mask[None], scores, -jnp.inf)
        return jax.nn.softmax(scores, axis=-1)

    def __call__(
        self, xs: Float[Array, "..."], *, key: Key | None = None
    ) -> Float[Array, "L d_model"]:
        """Causal attention over one sequence.

        **Arguments:**

        - `xs`: input of shape `(L, d_model)`.
        - `key`: unused (accepted for a uniform block interface).

        **Returns:**

        Outputs of shape `(L, d_model)`.
        """
        xs = check_sequence("SoftmaxAttention", xs, self.d_model)

        def attend(xs):
            weights = self.attention_weights(xs)
            v = self._heads(xs @ self.Wv.T)
            return jnp.einsum("hij,jhd->ihd", weights, v).reshape(xs.shape) @ self.Wo.T

        # A masked weight times a NaN value is NaN: without this, one NaN token would spread to
        # every earlier output.
        return causal_rows_non_finite(attend, xs)

    def init_state(self, max_len: int | None = None) -> AttentionState:
        """An empty key/value cache for up to `max_len` tokens.

        **Arguments:**

        - `max_len`: cache length (default: the block's `max_len`). Stepping past it raises an
          error.

        **Returns:**

        An [`dynlearn.ssm.AttentionState`][].
        """
        n = self.max_len
        if max_len is not None:
            n = check_int(f"{type(self).__name__}.init_state", "max_len", max_len, minimum=0)
        z = jnp.zeros((n, self.d_model), self.Wq.dtype)
        return AttentionState(z, z, jnp.zeros((), jnp.int32))

    def step(
        self, state: AttentionState, x: Float[Array, "..."]
    ) -> tuple[AttentionState, Float[Array, " d_model"]]:
        """Attend from one new token to the cache (which it joins first).

        **Arguments:**

        - `state`: an [`dynlearn.ssm.AttentionState`][].
        - `x`: one token of shape `(d_model,)`.

        **Returns:**

        `(new_state, y)` with `y` of shape `(d_model,)`.
        """
        x = check_token("SoftmaxAttention", x, self.d_model)
        n = int(getattr(getattr(state, "keys", None), "shape", (0,))[0])
        expected = jax.eval_shape(lambda: self.init_state(n))
        check_state("SoftmaxAttention", state, expected)
        t = eqx.error_if(
            state.position,
            state.position >= state.keys.shape[0],
            "SoftmaxAttention.step: the key/value cache is full; pass a larger max_len to "
            "SoftmaxAttention (or to init_state)",
        )
        keys = state.keys.at[t].set(self.Wk @ x)
        values = state.values.at[t].set(self.Wv @ x)
        q = self._heads(self.Wq @ x)
        scores = jnp.einsum("hd,jhd->hj", q, self._heads(keys)) / jnp.sqrt(q.shape[-1]).astype(
            x.dtype
        )
        valid = jnp.arange(keys.shape[0], dtype=t.dtype) <= t
        scores = jnp.where(valid[None, :], scores, -jnp.inf)
        weights = jax.nn.softmax(scores, axis=-1)
        out = jnp.einsum("hj,jhd->hd", weights, self._heads(values)).reshape(self.d_model)
        return AttentionState(keys, values, t + 1), self.Wo @ out

    def dynamical_system(
        self, xs: Float[Array, "..."]
    ) -> tuple[LinearSystem, Float[Array, "L d_model"]]:
        """Softmax attention as a linear time-varying system with one state slot per token.

        The state stacks the inputs seen so far (`A_t = I`, `B_t` writes `u_t` into slot `t`)
        and `C_t` reads slot `j` with weight `W_o diag(a_tj) W_v`, where `a_tj` holds the
        attention weight of each head. The state size is `L * d_model`: it grows with the
        sequence, unlike an SSM's.

        **Arguments:**

        - `xs`: input of shape `(L, d_model)`.

        **Returns:**

        `(system, u)` with `u = xs` and `system(u)` equal to the block's output.
        """
        weights = self.attention_weights(xs)  # (heads, L, L)
        L, d = xs.shape
        head_of_row = jnp.repeat(jnp.arange(self.num_heads), d // self.num_heads)
        a_rows = weights[head_of_row]  # (d, L, L): weight per value row
        # M[t, j] = Wo @ (a_rows[:, t, j, None] * Wv)
        M = jnp.einsum("od,dtj,dk->tjok", self.Wo, a_rows, self.Wv)
        C = jnp.transpose(M, (0, 2, 1, 3)).reshape(L, d, L * d)
        eye_d = jnp.eye(d, dtype=xs.dtype)
        B = jnp.einsum("tj,dk->tjdk", jnp.eye(L, dtype=xs.dtype), eye_d).reshape(L, L * d, d)
        system = LinearSystem(jnp.ones((L, L * d), xs.dtype), B, C, jnp.zeros((L, d, d), xs.dtype))
        return system, xs


class LinearAttentionState(eqx.Module):
    """State of [`dynlearn.ssm.LinearAttention`][]: the running sums per head.

    **Arguments:**

    - `S`: sum of `phi(k_j) v_j^T`, shape `(heads, d_head, d_head)`.
    - `z`: sum of `phi(k_j)`, shape `(heads, d_head)`.
    """

    S: Float[Array, "heads d_head d_head"]
    z: Float[Array, "heads d_head"]


def _feature_map(x):
    return jax.nn.elu(x) + 1


class LinearAttention(AbstractSequenceBlock):
    """Causal multi-head linear attention (`elu + 1` features) mapping `(L, d_model)` to itself.

    `o_t = S_t^T phi(q_t) / (phi(q_t) . z_t + eps)` with `S_t = S_{t-1} + phi(k_t) v_t^T` and
    `z_t = z_{t-1} + phi(k_t)`.

    **Arguments:**

    - `d_model`: model width (divisible by `num_heads`).
    - `num_heads`: number of heads.
    - `eps`: added to the normalizer.
    - `key`: PRNG key (keyword-only).
    """

    Wq: Float[Array, "d_model d_model"]
    Wk: Float[Array, "d_model d_model"]
    Wv: Float[Array, "d_model d_model"]
    Wo: Float[Array, "d_model d_model"]
    d_model: int = eqx.field(static=True)
    num_heads: int = eqx.field(static=True)
    eps: float = eqx.field(static=True)

    def __init__(self, d_model: int, num_heads: int = 1, *, eps: float = 1e-6, key: Key):
        d_model = check_int("LinearAttention", "d_model", d_model)
        num_heads = check_int("LinearAttention", "num_heads", num_heads)
        check_positive("LinearAttention", "eps", eps)
        if d_model % num_heads:
            raise ValueError(
                f"LinearAttention: d_model={d_model} not divisible by num_heads={num_heads}"
            )
        self.Wq, self.Wk, self.Wv, self.Wo = _init_projections(key, d_model, jnp.zeros(()).dtype)
        self.d_model = d_model
        self.num_heads = num_heads
        self.eps = eps

    def _qkv(self, xs):
        H = self.num_heads
        dh = self.d_model // H
        q = _feature_map(xs @ self.Wq.T).reshape(*xs.shape[:-1], H, dh)
        k = _feature_map(xs @ self.Wk.T).reshape(*xs.shape[:-1], H, dh)
        v = (xs @ self.Wv.T).reshape(*xs.shape[:-1], H, dh)
        return q, k, v

    def __call__(
        self, xs: Float[Array, "..."], *, key: Key | None = None
    ) -> Float[Array, "L d_model"]:
        """Causal linear attention over one sequence (quadratic masked form).

        **Arguments:**

        - `xs`: input of shape `(L, d_model)`.
        - `key`: unused (accepted for a uniform block interface).

        **Returns:**

        Outputs of shape `(L, d_model)`.
        """
        xs = check_sequence("LinearAttention", xs, self.d_model)
        L = xs.shape[0]

        def attend(xs):
            q, k, v = self._qkv(xs)
            scores = jnp.einsum("ihd,jhd->hij", q, k) * jnp.tril(jnp.ones((L, L), xs.dtype))[None]
            norm = jnp.sum(scores, axis=-1) + self.eps  # (H, L) = phi(q_i) . z_i
            out = jnp.einsum("hij,jhd->ihd", scores / norm[:, :, None], v).reshape(xs.shape)
            return out @ self.Wo.T

        # The causal mask multiplies: 0 * NaN would spread one NaN token to earlier outputs.
        return causal_rows_non_finite(attend, xs)

    def init_state(self) -> LinearAttentionState:
        """Zero running sums for [`dynlearn.ssm.LinearAttention.step`][].

        **Returns:**

        A [`dynlearn.ssm.LinearAttentionState`][].
        """
        H = self.num_heads
        dh = self.d_model // H
        return LinearAttentionState(
            jnp.zeros((H, dh, dh), self.Wq.dtype), jnp.zeros((H, dh), self.Wq.dtype)
        )

    def step(
        self, state: LinearAttentionState, x: Float[Array, "..."]
    ) -> tuple[LinearAttentionState, Float[Array, " d_model"]]:
        """Advance one token (the RNN form of linear attention).

        **Arguments:**

        - `state`: a [`dynlearn.ssm.LinearAttentionState`][].
        - `x`: one token of shape `(d_model,)`.

        **Returns:**

        `(new_state, y)` with `y` of shape `(d_model,)`.
        """
        x = check_token("LinearAttention", x, self.d_model)
        check_state("LinearAttention", state, jax.eval_shape(self.init_state))
        q, k, v = self._qkv(x)
        S = state.S + k[:, :, None] * v[:, None, :]
        z = state.z + k
        norm = jnp.sum(q * z, axis=-1) + self.eps
        out = jnp.einsum("hc,hce->he", q, S) / norm[:, None]
        return LinearAttentionState(S, z), self.Wo @ out.reshape(self.d_model)

    def dynamical_system(
        self, xs: Float[Array, "..."]
    ) -> tuple[LinearSystem, Float[Array, "L d_model"]]:
        """Linear attention as a linear time-varying system over the `heads * d_head^2` state.

        `A_t = I`, `B_t = phi(k_t) (x) W_v` per head, and
        `C_t = W_o blockdiag(phi(q_t)^T (x) I / (phi(q_t) . z_t + eps))`.

        **Arguments:**

        - `xs`: input of shape `(L, d_model)`.

        **Returns:**

        `(system, u)` with `u = xs` and `system(u)` equal to the block's output.
        """
        xs = check_sequence("LinearAttention", xs, self.d_model)
        L, d = xs.shape
        H = self.num_heads
        dh = d // H
        q, k, _ = self._qkv(xs)
        z = jnp.cumsum(k, axis=0)
        norm = jnp.sum(q * z, axis=-1) + self.eps  # (L, H)
        Wv = self.Wv.reshape(H, dh, d)
        # state index (h, c, e); B_t[(h, c, e), :] = phi(k_t)[h, c] Wv[h, e, :]
        B = jnp.einsum("lhc,hed->lhced", k, Wv).reshape(L, H * dh * dh, d)
        eye = jnp.eye(dh, dtype=xs.dtype)
        # out[h, e] = sum_c q[h, c] S[h, c, e] / norm[h]
        readout = jnp.einsum("lhc,ef->lhfce", q / norm[:, :, None], eye)  # (L, H, dh_out, dh, dh)
        Wo = self.Wo.reshape(d, H, dh)
        C = jnp.einsum("ohf,lhfce->lohce", Wo, readout).reshape(L, d, H * dh * dh)
        system = LinearSystem(
            jnp.ones((L, H * dh * dh), xs.dtype), B, C, jnp.zeros((L, d, d), xs.dtype)
        )
        return system, xs

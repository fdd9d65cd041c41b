"""A residual stack of sequence blocks with token embedding and output head.

The pre-norm residual architecture of the Mamba paper ("Mamba: Linear-Time Sequence Modeling
with Selective State Spaces", Gu and Dao, 2023) and of Transformers: each layer is
`x + mixer(rmsnorm(x))`, optionally followed by `x + mlp(rmsnorm(x))`. Linear time-invariant
mixers (S4, S4D, S5) are followed by a GELU and a channel-mixing linear map, as in S4.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array, Float, Int, Key
from ._attention import LinearAttention, SoftmaxAttention
from ._mamba import Mamba
from ._rglru import RGLRU
from ._s4 import S4
from ._s4d import S4D
from ._s5 import S5

MIXERS = ("mamba", "s4d", "s4", "s5", "attention", "linear_attention", "rglru")


class _ChannelMix(eqx.Module):
    layer: eqx.Module
    W: Float[Array, "d d"]
    b: Float[Array, " d"]

    def __call__(self, xs):
        h = jax.nn.gelu(self.layer(xs))
        return h @ self.W.T + self.b[None, :]


def _rms_norm(x, weight, eps=1e-5):
    scale = jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + eps)
    return x * scale * weight[None, :]


def make_mixer(
    kind: str, d_model: int, *, state_size: int | None = None, num_heads: int = 1, key: Key
):
    """Build one sequence-mixing block by name.

    **Arguments:**

    - `kind`: one of `"mamba"`, `"s4d"`, `"s4"`, `"s5"`, `"attention"`, `"linear_attention"`,
      `"rglru"`.
    - `d_model`: model width.
    - `state_size`: state size of SSM mixers (their defaults when `None`).
    - `num_heads`: heads of the attention mixers.
    - `key`: PRNG key (keyword-only).

    **Returns:**

    An `eqx.Module` mapping `(L, d_model)` to `(L, d_model)`.
    """
    k1, k2 = jax.random.split(key)
    kw = {} if state_size is None else {"state_size": state_size}
    if kind == "mamba":
        return Mamba(d_model, key=key, **kw)
    if kind in ("s4d", "s4", "s5"):
        layer = {"s4d": S4D, "s4": S4, "s5": S5}[kind](d_model, key=k1, **kw)
        bound = d_model**-0.5
        W = jax.random.uniform(k2, (d_model, d_model), minval=-bound, maxval=bound)
        return _ChannelMix(layer, W, jnp.zeros(d_model))
    if kind == "attention":
        return SoftmaxAttention(d_model, num_heads, key=key)
    if kind == "linear_attention":
        return LinearAttention(d_model, num_heads, key=key)
    if kind == "rglru":
        return RGLRU(d_model, key=key)
    raise ValueError(f"make_mixer: kind must be one of {MIXERS}, got {kind!r}")


class SequenceModel(eqx.Module):
    """A pre-norm residual stack of sequence blocks over tokens or real-valued inputs.

    **Arguments:**

    - `mixer`: block kind (see [`dynlearn.ssm.make_mixer`][]).
    - `d_model`: model width.
    - `n_layers`: number of residual layers.
    - `d_out`: output width (vocabulary size for language-style tasks).
    - `vocab_size`: embed integer tokens from this vocabulary; or `None` for real inputs.
    - `d_in`: width of real-valued inputs (when `vocab_size` is `None`).
    - `mlp`: add a GELU MLP (width `4 d_model`) after each mixer, as in a Transformer.
    - `state_size`, `num_heads`: passed to [`dynlearn.ssm.make_mixer`][].
    - `key`: PRNG key (keyword-only).
    """

    embedding: Float[Array, "vocab d"] | None
    encoder: Float[Array, "d d_in"] | None
    mixers: tuple
    norms: tuple
    mlps: tuple
    mlp_norms: tuple
    final_norm: Float[Array, " d"]
    head: Float[Array, "d_out d"]
    d_model: int = eqx.field(static=True)

    def __init__(
        self,
        mixer: str,
        d_model: int,
        n_layers: int,
        d_out: int,
        *,
        vocab_size: int | None = None,
        d_in: int | None = None,
        mlp: bool = False,
        state_size: int | None = None,
        num_heads: int = 1,
        key: Key,
    ):
        if (vocab_size is None) == (d_in is None):
            raise ValueError(
                "SequenceModel: give exactly one of vocab_size (tokens) or d_in (real inputs)"
            )
        keys = jax.random.split(key, 2 * n_layers + 2)
        dtype = jnp.zeros(()).dtype
        if vocab_size is not None:
            self.embedding = jax.random.normal(keys[0], (vocab_size, d_model), dtype)
            self.encoder = None
        else:
            self.embedding = None
            self.encoder = jax.random.normal(keys[0], (d_model, d_in), dtype) / jnp.sqrt(
                d_in
            ).astype(dtype)
        self.mixers = tuple(
            make_mixer(mixer, d_model, state_size=state_size, num_heads=num_heads, key=keys[1 + i])
            for i in range(n_layers)
        )
        self.norms = tuple(jnp.ones(d_model, dtype) for _ in range(n_layers))
        if mlp:
            self.mlps = tuple(
                (
                    jax.random.normal(
                        jax.random.fold_in(keys[1 + n_layers + i], 0), (4 * d_model, d_model), dtype
                    )
                    / jnp.sqrt(d_model).astype(dtype),
                    jax.random.normal(
                        jax.random.fold_in(keys[1 + n_layers + i], 1), (d_model, 4 * d_model), dtype
                    )
                    / jnp.sqrt(4 * d_model).astype(dtype),
                )
                for i in range(n_layers)
            )
            self.mlp_norms = tuple(jnp.ones(d_model, dtype) for _ in range(n_layers))
        else:
            self.mlps = ()
            self.mlp_norms = ()
        self.final_norm = jnp.ones(d_model, dtype)
        self.head = jax.random.normal(keys[-1], (d_out, d_model), dtype) / jnp.sqrt(d_model).astype(
            dtype
        )
        self.d_model = d_model

    def embed(self, xs: Int[Array, " L"] | Float[Array, "L d_in"]) -> Float[Array, "L d"]:
        """The input embedding: a table lookup for tokens, a linear map for real inputs.

        **Arguments:**

        - `xs`: integer tokens `(L,)` or real inputs `(L, d_in)`.

        **Returns:**

        Embeddings of shape `(L, d_model)`.
        """
        if self.embedding is not None:
            if xs.ndim != 1 or not jnp.issubdtype(xs.dtype, jnp.integer):
                raise ValueError(
                    "SequenceModel: expected integer tokens of shape (L,), got "
                    f"{xs.dtype}{xs.shape}"
                )
            return self.embedding[xs]
        if xs.ndim != 2 or xs.shape[1] != self.encoder.shape[1]:
            raise ValueError(
                "SequenceModel: expected real inputs of shape "
                f"(L, {self.encoder.shape[1]}), got {xs.shape}"
            )
        return xs @ self.encoder.T

    def intermediates(
        self, xs
    ) -> tuple[Float[Array, "layers L d"], Float[Array, "layers L d_out"]]:
        """The input of every mixer and the read-out after every layer.

        **Arguments:**

        - `xs`: integer tokens `(L,)` or real inputs `(L, d_in)`.

        **Returns:**

        `(mixer_inputs, outputs)`: the normalized input each mixer sees, shape
        `(n_layers, L, d_model)`, and the head applied after each layer, shape
        `(n_layers, L, d_out)` (the last equals `__call__`).
        """
        h = self.embed(xs)
        inputs, outputs = [], []
        for i in range(len(self.mixers)):
            u = _rms_norm(h, self.norms[i])
            inputs.append(u)
            h = h + self.mixers[i](u)
            if self.mlps:
                W1, W2 = self.mlps[i]
                h = h + jax.nn.gelu(_rms_norm(h, self.mlp_norms[i]) @ W1.T) @ W2.T
            outputs.append(_rms_norm(h, self.final_norm) @ self.head.T)
        return jnp.stack(inputs), jnp.stack(outputs)

    def __call__(
        self, xs, *, key: Key | None = None, depth: int | None = None
    ) -> Float[Array, "L d_out"]:
        """Run the stack over one sequence.

        **Arguments:**

        - `xs`: integer tokens `(L,)` or real inputs `(L, d_in)`.
        - `key`: unused (accepted for the trainer's loss interface).
        - `depth`: use only the first `depth` layers (default: all).

        **Returns:**

        Outputs (logits) of shape `(L, d_out)`.
        """
        h = self.embed(xs)
        n = len(self.mixers) if depth is None else depth
        for i in range(n):
            h = h + self.mixers[i](_rms_norm(h, self.norms[i]))
            if self.mlps:
                W1, W2 = self.mlps[i]
                h = h + jax.nn.gelu(_rms_norm(h, self.mlp_norms[i]) @ W1.T) @ W2.T
        return _rms_norm(h, self.final_norm) @ self.head.T

"""A residual stack of sequence blocks with token embedding and output head.

The pre-norm residual architecture of the Mamba paper ("Mamba: Linear-Time Sequence Modeling
with Selective State Spaces", Gu and Dao, 2023) and of Transformers: each layer is
`x + mixer(rmsnorm(x))`, optionally followed by `x + mlp(rmsnorm(x))`. Linear time-invariant
mixers (S4, S4D, S5) are followed by a GELU and a channel-mixing linear map, as in S4. The stack
runs over a whole sequence (`__call__`) or one token at a time (`init_state`, `step`), so
closed-loop decoding costs one step per token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array, Float, Int, Key, PyTree
from .._validation import as_array, check_dtype, check_int, check_option
from ._attention import LinearAttention, SoftmaxAttention
from ._block import AbstractSequenceBlock
from ._mamba import Mamba
from ._rglru import RGLRU
from ._s4 import S4
from ._s4d import S4D
from ._s5 import S5

MIXERS = ("mamba", "s4d", "s4", "s5", "attention", "linear_attention", "rglru")
# Built-in mixers followed by the GELU and channel-mixing map of S4 inside `SequenceModel`.
_LTI_MIXERS = ("s4d", "s4", "s5")

MixerSpec = str | AbstractSequenceBlock | Sequence[AbstractSequenceBlock] | Callable[..., Any]


class _ChannelMix(eqx.Module):
    """`gelu(y) W^T + b` over the last axis: S4's position-wise output layer."""

    W: Float[Array, "d d"]
    b: Float[Array, " d"]

    def __call__(self, ys):
        h = jax.nn.gelu(ys)
        return h @ self.W.T + self.b[None, :]


def _rms_norm(x, weight, eps=1e-5):
    scale = jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + eps)
    return x * scale * weight[None, :]


def _check_block(name: str, block, d_model: int) -> AbstractSequenceBlock:
    if not isinstance(block, AbstractSequenceBlock):
        raise TypeError(
            f"{name}: a mixer must be a dynlearn.ssm.AbstractSequenceBlock (subclass it for your "
            f"own block), got {type(block).__name__}"
        )
    if block.d_model != d_model:
        raise ValueError(f"{name}: the block has d_model={block.d_model}, expected {d_model}")
    return block


def make_mixer(
    kind: str | AbstractSequenceBlock | Callable[..., Any],
    d_model: int,
    *,
    state_size: int | None = None,
    num_heads: int = 1,
    key: Key,
) -> AbstractSequenceBlock:
    """Build one sequence-mixing block: a built-in one by name, or a user's.

    **Arguments:**

    - `kind`: a built-in name (`"mamba"`, `"s4d"`, `"s4"`, `"s5"`, `"attention"` (softmax),
      `"linear_attention"`, `"rglru"`), a block instance (checked and returned as is), or a
      factory `kind(d_model, *, key) -> block` (e.g. a user's block class).
    - `d_model`: model width.
    - `state_size`: state size of the built-in SSM mixers (their defaults when `None`).
    - `num_heads`: heads of the built-in attention mixers.
    - `key`: PRNG key (keyword-only).

    **Returns:**

    A [`dynlearn.ssm.AbstractSequenceBlock`][] mapping `(L, d_model)` to `(L, d_model)`.
    """
    if isinstance(kind, AbstractSequenceBlock):
        return _check_block("make_mixer", kind, d_model)
    if not isinstance(kind, str):
        if not callable(kind):
            raise TypeError(
                "make_mixer: kind must be a built-in name, a block or a factory "
                f"f(d_model, *, key), got {kind!r}"
            )
        return _check_block("make_mixer", kind(d_model, key=key), d_model)
    check_option("make_mixer", "kind", kind, MIXERS)
    kw = {} if state_size is None else {"state_size": state_size}
    if kind == "mamba":
        return Mamba(d_model, key=key, **kw)
    if kind in _LTI_MIXERS:
        return {"s4d": S4D, "s4": S4, "s5": S5}[kind](d_model, key=key, **kw)
    if kind == "attention":
        return SoftmaxAttention(d_model, num_heads, key=key)
    if kind == "linear_attention":
        return LinearAttention(d_model, num_heads, key=key)
    if kind == "rglru":
        return RGLRU(d_model, key=key)
    raise ValueError(f"make_mixer: kind must be one of {MIXERS} or a block, got {kind!r}")


class SequenceModel(eqx.Module):
    """A pre-norm residual stack of sequence blocks over tokens or real-valued inputs.

    Layer `i` maps the residual stream `h` to `h + mix(mixers[i](rmsnorm(h)))`, then (with
    `mlp=True`) to `h + W2 gelu(W1 rmsnorm(h))`; `mix` is S4's GELU and channel-mixing linear
    map where `channel_mix` is on and the identity otherwise. The head reads `rmsnorm(h)`.
    `mixers[i]` is the block itself (its `step`, `dynamical_system`, ... stay reachable, e.g.
    `hidden_state_lyapunov(model.mixers[i], inputs[i])` with `inputs` from `intermediates`).

    **Arguments:**

    - `mixer`: the sequence block of every layer: a built-in name (`"mamba"`, `"s4d"`, `"s4"`,
      `"s5"`, `"attention"`, `"linear_attention"`, `"rglru"`; see
      [`dynlearn.ssm.make_mixer`][]), a factory `mixer(d_model, *, key) -> block` called once per
      layer (e.g. a user's [`dynlearn.ssm.AbstractSequenceBlock`][] subclass), or a sequence of
      `n_layers` blocks.
    - `d_model`: model width.
    - `n_layers`: number of residual layers.
    - `d_out`: output width (vocabulary size for language-style tasks).
    - `vocab_size`: embed integer tokens from this vocabulary; or `None` for real inputs.
    - `d_in`: width of real-valued inputs (when `vocab_size` is `None`).
    - `mlp`: add a GELU MLP (width `4 d_model`) after each mixer, as in a Transformer.
    - `channel_mix`: follow each mixer by a GELU and a channel-mixing linear map (S4's output
      layer); default: on for `"s4d"`, `"s4"`, `"s5"`, off otherwise.
    - `state_size`, `num_heads`: passed to [`dynlearn.ssm.make_mixer`][] for built-in names.
    - `key`: PRNG key (keyword-only).
    """

    embedding: Float[Array, "vocab d"] | None
    encoder: Float[Array, "d d_in"] | None
    mixers: tuple[AbstractSequenceBlock, ...]
    channel_mixes: tuple[_ChannelMix | None, ...]
    norms: tuple
    mlps: tuple
    mlp_norms: tuple
    final_norm: Float[Array, " d"]
    head: Float[Array, "d_out d"]
    d_model: int = eqx.field(static=True)

    def __init__(
        self,
        mixer: MixerSpec,
        d_model: int,
        n_layers: int,
        d_out: int,
        *,
        vocab_size: int | None = None,
        d_in: int | None = None,
        mlp: bool = False,
        channel_mix: bool | None = None,
        state_size: int | None = None,
        num_heads: int = 1,
        key: Key,
    ):
        if (vocab_size is None) == (d_in is None):
            raise ValueError(
                "SequenceModel: give exactly one of vocab_size (tokens) or d_in (real inputs), "
                f"got vocab_size={vocab_size!r}, d_in={d_in!r}."
            )
        d_model = check_int("SequenceModel", "d_model", d_model)
        n_layers = check_int("SequenceModel", "n_layers", n_layers)
        d_out = check_int("SequenceModel", "d_out", d_out)
        if vocab_size is not None:
            vocab_size = check_int("SequenceModel", "vocab_size", vocab_size)
        if d_in is not None:
            d_in = check_int("SequenceModel", "d_in", d_in)
        if isinstance(mixer, str):
            check_option("SequenceModel", "mixer", mixer, MIXERS)
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
        if channel_mix is None:
            channel_mix = isinstance(mixer, str) and mixer in _LTI_MIXERS
        mixers, channel_mixes = [], []
        for i in range(n_layers):
            # the key split of the layer's block and channel mix is kept from before the channel
            # mix moved out of the block, so seeds give the same initial models
            k_block, k_mix = jax.random.split(keys[1 + i])
            if isinstance(mixer, AbstractSequenceBlock) or (
                isinstance(mixer, Sequence) and not isinstance(mixer, str)
            ):
                blocks = [mixer] if isinstance(mixer, AbstractSequenceBlock) else list(mixer)
                if len(blocks) != n_layers:
                    raise ValueError(
                        f"SequenceModel: got {len(blocks)} block(s) for n_layers={n_layers}; "
                        "pass one block per layer, or a factory f(d_model, *, key) to build them"
                    )
                block = _check_block("SequenceModel", blocks[i], d_model)
            else:
                block_key = k_block if channel_mix else keys[1 + i]
                block = make_mixer(
                    mixer, d_model, state_size=state_size, num_heads=num_heads, key=block_key
                )
            mixers.append(block)
            if channel_mix:
                bound = d_model**-0.5
                W = jax.random.uniform(k_mix, (d_model, d_model), minval=-bound, maxval=bound)
                channel_mixes.append(_ChannelMix(W, jnp.zeros(d_model)))
            else:
                channel_mixes.append(None)
        self.mixers = tuple(mixers)
        self.channel_mixes = tuple(channel_mixes)
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
        xs = as_array("SequenceModel", "xs", xs)
        if self.embedding is not None:
            vocab = self.embedding.shape[0]
            if xs.ndim != 1 or not jnp.issubdtype(xs.dtype, jnp.integer):
                raise ValueError(
                    f"SequenceModel: xs must be integer tokens of shape (L,), got dtype "
                    f"{xs.dtype} and shape {tuple(xs.shape)}."
                )
            if not isinstance(xs, jax.core.Tracer) and xs.size:
                low, high = int(jnp.min(xs)), int(jnp.max(xs))
                if low < 0 or high >= vocab:
                    raise ValueError(
                        f"SequenceModel: xs must hold tokens in [0, {vocab}) (vocab_size={vocab}), "
                        f"got tokens from {low} to {high}."
                    )
            # traced tokens out of range embed as NaN (plain indexing would clamp them silently)
            safe = jnp.where(xs < 0, vocab, xs)
            return jnp.take(self.embedding, safe, axis=0, mode="fill", fill_value=jnp.nan)
        d_in = self.encoder.shape[1]
        xs = check_dtype("SequenceModel", "xs", xs)
        if xs.ndim != 2 or xs.shape[1] != d_in:
            raise ValueError(
                f"SequenceModel: xs must be real inputs of shape (L, {d_in}) (d_in={d_in}), got "
                f"shape {tuple(xs.shape)}."
            )
        return xs @ self.encoder.T

    def _after_mixer(self, i: int, h, mixed):
        """The rest of layer `i` once its mixer has run: channel mix, residual, MLP."""
        if self.channel_mixes[i] is not None:
            mixed = self.channel_mixes[i](mixed)
        h = h + mixed
        if self.mlps:
            W1, W2 = self.mlps[i]
            h = h + jax.nn.gelu(_rms_norm(h, self.mlp_norms[i]) @ W1.T) @ W2.T
        return h

    def _read_out(self, h):
        return _rms_norm(h, self.final_norm) @ self.head.T

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
            h = self._after_mixer(i, h, self.mixers[i](u))
            outputs.append(self._read_out(h))
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
        n = len(self.mixers)
        if depth is not None:
            n = check_int("SequenceModel", "depth", depth)
            if n > len(self.mixers):
                raise ValueError(
                    f"SequenceModel: depth must be at most n_layers={len(self.mixers)}, got "
                    f"depth={depth}."
                )
        h = self.embed(xs)
        for i in range(n):
            h = self._after_mixer(i, h, self.mixers[i](_rms_norm(h, self.norms[i])))
        return self._read_out(h)

    def init_state(self) -> tuple[PyTree[Any], ...]:
        """The state of the whole stack before the first token, for `step`.

        Layout: a tuple with one entry per layer, entry `i` being `mixers[i].init_state()`
        (e.g. a [`dynlearn.ssm.MambaState`][], the complex `(d_model, modes)` array of S4D, the
        key/value cache [`dynlearn.ssm.AttentionState`][] of softmax attention). The embedding,
        norms, channel mixes, MLPs and head act on one token at a time and hold no state. To warm
        up on a context, step through it:
        `lax.scan(lambda s, x: model.step(s, x), model.init_state(), context)`.

        **Returns:**

        The tuple of the `n_layers` block states.
        """
        return tuple(block.init_state() for block in self.mixers)

    def step(
        self, state: tuple[PyTree[Any], ...], x: Int[Array, ""] | Float[Array, " d_in"]
    ) -> tuple[tuple[PyTree[Any], ...], Float[Array, " d_out"]]:
        """Advance the whole stack by one token (recurrent inference, constant cost per token).

        Stepping through `xs` from `init_state()` gives the rows of `__call__(xs)` (to
        round-off; the tests check every built-in block).

        **Arguments:**

        - `state`: the per-layer state tuple from `init_state()` or the previous `step`.
        - `x`: one integer token (shape `()`) or one real input of shape `(d_in,)`.

        **Returns:**

        `(new_state, y)`: the new per-layer state tuple and the output (logits) for this token,
        shape `(d_out,)`.
        """
        if not isinstance(state, tuple | list) or len(state) != len(self.mixers):
            got = len(state) if isinstance(state, tuple | list) else type(state).__name__
            raise ValueError(
                f"SequenceModel.step: state must be a tuple of one state per layer; got {got} "
                f"layer states, the model has {len(self.mixers)} layers (use model.init_state())."
            )
        x = as_array("SequenceModel.step", "x", x)
        want = "()" if self.embedding is not None else f"({self.encoder.shape[1]},)"
        if x.shape != (() if self.embedding is not None else (self.encoder.shape[1],)):
            raise ValueError(
                f"SequenceModel.step: x must be one token of shape {want}, got shape "
                f"{tuple(x.shape)}."
            )
        h = self.embed(x[None])
        new_state = []
        for i, block in enumerate(self.mixers):
            s, mixed = block.step(state[i], _rms_norm(h, self.norms[i])[0])
            new_state.append(s)
            h = self._after_mixer(i, h, mixed[None])
        return tuple(new_state), self._read_out(h)[0]

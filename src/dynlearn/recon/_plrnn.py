"""Shallow piecewise-linear RNNs (shPLRNN) and their clipped variant.

Hess, Monfared, Brenner & Durstewitz, "Generalized Teacher Forcing for Learning Chaotic
Dynamics" (ICML 2023):

    z_t = A z_{t-1} + W1 relu(W2 z_{t-1} + h2) + h1                       (shPLRNN)
    z_t = A z_{t-1} + W1 [relu(W2 z_{t-1} + h2) - relu(W2 z_{t-1})] + h1     (clipped)

with `A` diagonal. The clipped form has bounded orbits when `|A| < 1`. The observation model is
the identity on the first `data_size` latent units.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array, ArrayLike, Float, Key
from .._validation import check_dtype, check_int


class ShallowPLRNN(eqx.Module):
    """A shallow PLRNN map `z -> F(z)` with identity observation of its first units.

    The initial latent state for an observation `x` is `[x, B x]` with a learned `B`
    (`encode`); `observe(z) = z[:data_size]`; `init_state(context)` warms the latent state up
    on a whole context by teacher forcing (the dynamical-model contract).

    **Arguments:**

    - `data_size`: `N`, the observed dimension.
    - `latent_size`: `M >= N`, the latent dimension.
    - `hidden_size`: `L`, the width of the hidden ReLU layer.
    - `clipped`: use the clipped shPLRNN (bounded orbits when `|A| < 1`).
    - `key`: PRNG key for the initial parameters.
    """

    a: Float[Array, " latent"]
    w1: Float[Array, "latent hidden"]
    w2: Float[Array, "hidden latent"]
    h1: Float[Array, " latent"]
    h2: Float[Array, " hidden"]
    init_map: Float[Array, "unobserved observed"]
    data_size: int = eqx.field(static=True)
    clipped: bool = eqx.field(static=True)

    def __init__(
        self,
        data_size: int,
        latent_size: int,
        hidden_size: int,
        *,
        clipped: bool = False,
        key: Key,
    ):
        for name, value in (
            ("data_size", data_size),
            ("latent_size", latent_size),
            ("hidden_size", hidden_size),
        ):
            check_int("ShallowPLRNN", name, value)
        if key is None:
            raise TypeError("ShallowPLRNN: key must be a PRNG key (jax.random.key(seed)), got None")
        if data_size < 1 or latent_size < data_size or hidden_size < 1:
            raise ValueError(
                f"ShallowPLRNN: need 1 <= data_size <= latent_size and hidden_size >= 1, got "
                f"data_size={data_size}, latent_size={latent_size}, hidden_size={hidden_size}"
            )
        k1, k2, k3, k4 = jax.random.split(key, 4)
        m, l_ = latent_size, hidden_size
        self.a = jnp.full((m,), 0.9)
        self.w1 = jax.random.uniform(k1, (m, l_), minval=-1, maxval=1) / math.sqrt(l_)
        self.w2 = jax.random.uniform(k2, (l_, m), minval=-1, maxval=1) / math.sqrt(m)
        self.h1 = jnp.zeros((m,))
        self.h2 = jax.random.uniform(k3, (l_,), minval=-1, maxval=1) / math.sqrt(m)
        self.init_map = 0.1 * jax.random.normal(k4, (m - data_size, data_size))
        self.data_size = data_size
        self.clipped = clipped

    @property
    def latent_size(self) -> int:
        return self.a.shape[0]

    def step(self, z: Float[Array, " latent"]) -> Float[Array, " latent"]:
        """One step of the map, `z_t = F(z_{t-1})`."""
        pre = self.w2 @ z + self.h2
        hidden = jax.nn.relu(pre)
        if self.clipped:
            hidden = hidden - jax.nn.relu(self.w2 @ z)
        return self.a * z + self.w1 @ hidden + self.h1

    def jacobian(self, z: Float[Array, " latent"]) -> Float[Array, "latent latent"]:
        """`∂F/∂z` at `z` in closed form: `diag(A) + W1 D(z) W2`."""
        pre = self.w2 @ z + self.h2
        gate = (pre > 0).astype(z.dtype)
        if self.clipped:
            gate = gate - (self.w2 @ z > 0).astype(z.dtype)
        return jnp.diag(self.a) + (self.w1 * gate[None, :]) @ self.w2

    def encode(self, x: Float[Array, " observed"]) -> Float[Array, " latent"]:
        """Initial latent state `[x, B x]` for an observation `x`."""
        return jnp.concatenate([x, self.init_map @ x])

    def observe(self, z: Float[Array, " latent"]) -> Float[Array, " observed"]:
        """The identity observation model: the first `data_size` latent units."""
        return z[: self.data_size]

    def init_state(self, context: Float[ArrayLike, "time observed"]) -> Float[Array, " latent"]:
        """The latent state at the end of an observed `context` (the dynamical-model contract).

        Warm-up by teacher forcing: `z = encode(context[0])`, then for every later row `x`,
        `z = F(z)` with its observed units replaced by `x`; the unobserved units are driven
        by the data. A one-row context gives `encode(context[0])`, the start of
        `model(x0, n_steps)`.

        **Arguments:**

        - `context`: observations, shape `(time, data_size)`.

        **Returns:** the latent state, shape `(latent,)`; its first `data_size` units are
        `context[-1]`.
        """
        context = check_dtype("ShallowPLRNN", "context", context, cast_integers=True)
        context = context.astype(self.a.dtype)
        if context.ndim != 2 or context.shape[0] < 1 or context.shape[1] != self.data_size:
            raise ValueError(
                f"ShallowPLRNN: context must have shape (time >= 1, {self.data_size}), got "
                f"{tuple(context.shape)}"
            )

        def force(z, x):
            return self.step(z).at[: self.data_size].set(x), None

        return jax.lax.scan(force, self.encode(context[0]), context[1:])[0]

    def __call__(self, x0: Float[ArrayLike, " observed"], n_steps: int):
        """Free-running generation from the observation `x0`.

        **Arguments:**

        - `x0`: initial observation `(data_size,)`.
        - `n_steps`: number of steps to generate.

        **Returns:** observations `(n_steps + 1, data_size)`: row 0 is `x0`, row `i` is `i`
        steps after it (the row convention of every rollout from an initial state; see
        docs/conventions.md).
        """
        x0 = check_dtype("ShallowPLRNN", "x0", x0, cast_integers=True).astype(self.a.dtype)
        n_steps = check_int("ShallowPLRNN", "n_steps", n_steps)
        if x0.shape != (self.data_size,):
            raise ValueError(
                f"ShallowPLRNN: x0 must have shape ({self.data_size},), got {tuple(x0.shape)}"
            )

        def body(z, _):
            z = self.step(z)
            return z, self.observe(z)

        xs = jax.lax.scan(body, self.encode(x0), None, length=n_steps)[1]
        return jnp.concatenate([x0[None], xs])

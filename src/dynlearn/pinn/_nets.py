"""Field architectures for PINNs.

- `MLP`: the plain multilayer perceptron (Raissi, Perdikaris & Karniadakis 2019).
- `ModifiedMLP`: the gated MLP of Wang, Teng & Perdikaris, "Understanding and mitigating gradient
  flow pathologies in physics-informed neural networks" (SIAM J. Sci. Comput., 2021).
- `FourierFeatures`: random Fourier features (Tancik et al. 2020; Wang, Wang & Perdikaris 2021).
- `PeriodicEmbedding`: cos/sin features that make a field exactly periodic in chosen coordinates,
  derivatives included (Dong & Ni 2021; used by the causal-PINN paper).
- Random weight factorization `W = diag(exp(s)) V` (Wang et al., "Random weight factorization
  improves the training of continuous neural representations", 2022), via `factorization=`.

Every network maps one point `(in_size,)` to `(out_size,)`, or to a scalar when
`out_size="scalar"`; an optional embedding is applied first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._validation import check_callable, check_in_range, check_int, check_positive


def _check_factorization(name, factorization):
    if factorization is None:
        return
    if not isinstance(factorization, tuple | list) or len(factorization) != 2:
        raise TypeError(
            f"{name}: factorization must be None or a pair (mu, sigma), got "
            f"factorization={factorization!r}"
        )
    mu, sigma = factorization
    check_in_range(name, "factorization[0] (mu)", mu, -1e3, 1e3)
    check_positive(name, "factorization[1] (sigma)", sigma, allow_zero=True)


def _glorot(key, shape, dtype):
    fan_in, fan_out = shape[1], shape[0]
    return jax.random.normal(key, shape, dtype) * np.sqrt(2.0 / (fan_in + fan_out)).astype(dtype)


class DenseLayer(eqx.Module):
    """An affine layer `W x + b`, with optional random weight factorization.

    With `factorization=(mu, sigma)`, the weight is stored as `W = diag(exp(s)) V` with
    `s ~ N(mu, sigma)` per output unit and `V = W0 / exp(s)`, so the initial function is that of
    the Glorot-initialized `W0`, while gradient descent acts on `(s, V)`.

    **Arguments:**

    - `in_size`, `out_size`: sizes.
    - `factorization`: `None` or `(mu, sigma)`; the paper recommends `(1.0, 0.1)`.
    - `key`: PRNG key.
    """

    weight: Float[Array, "out in"]
    bias: Float[Array, " out"]
    log_scale: Float[Array, " out"] | None

    def __init__(
        self,
        in_size: int,
        out_size: int,
        *,
        factorization: tuple[float, float] | None = None,
        key: PRNGKeyArray,
    ):
        check_int("DenseLayer", "in_size", in_size)
        check_int("DenseLayer", "out_size", out_size)
        _check_factorization("DenseLayer", factorization)
        wkey, skey = jax.random.split(key)
        dtype = jnp.result_type(float)
        w = _glorot(wkey, (out_size, in_size), dtype)
        self.bias = jnp.zeros(out_size, dtype)
        if factorization is None:
            self.weight, self.log_scale = w, None
        else:
            mu, sigma = factorization
            s = mu + sigma * jax.random.normal(skey, (out_size,), dtype)
            self.log_scale = s
            self.weight = w / jnp.exp(s)[:, None]

    def __call__(self, x: Float[Array, " in"]) -> Float[Array, " out"]:
        w = self.weight
        if self.log_scale is not None:
            w = jnp.exp(self.log_scale)[:, None] * w
        return w @ x + self.bias


class FourierFeatures(eqx.Module):
    """Random Fourier features `[cos(2 pi B x), sin(2 pi B x)]` with `B ~ N(0, scale^2)` fixed.

    **Arguments:**

    - `in_size`: input dimension.
    - `n_features`: rows of `B`; the output has `2 n_features` entries.
    - `scale`: standard deviation of `B`.
    - `key`: PRNG key.
    """

    frequencies: Float[Array, "features in"]
    in_size: int = eqx.field(static=True)
    out_size: int = eqx.field(static=True)

    def __init__(self, in_size: int, n_features: int, scale: float = 1.0, *, key: PRNGKeyArray):
        check_int("FourierFeatures", "in_size", in_size)
        check_int("FourierFeatures", "n_features", n_features)
        check_positive("FourierFeatures", "scale", scale)
        dtype = jnp.result_type(float)
        self.frequencies = scale * jax.random.normal(key, (n_features, in_size), dtype)
        self.in_size, self.out_size = in_size, 2 * n_features

    def __call__(self, x: Float[Array, " in"]) -> Float[Array, " out"]:
        z = 2 * jnp.pi * (jax.lax.stop_gradient(self.frequencies) @ x)
        return jnp.concatenate([jnp.cos(z), jnp.sin(z)])


class PeriodicEmbedding(eqx.Module):
    """Map periodic coordinates to `cos(2 pi k x / P), sin(2 pi k x / P)`, `k = 1..harmonics`.

    Any network applied after this embedding is exactly periodic in those coordinates, with all
    its derivatives. Non-periodic coordinates are passed through unchanged (after the periodic
    features). A constant feature is not needed: the next layer has a bias.

    **Arguments:**

    - `in_size`: input dimension.
    - `periods`: one entry per coordinate, the period or `None` for a non-periodic coordinate.
    - `harmonics`: number of harmonics per periodic coordinate.
    """

    periods: tuple[float | None, ...] = eqx.field(static=True)
    harmonics: int = eqx.field(static=True)
    in_size: int = eqx.field(static=True)
    out_size: int = eqx.field(static=True)

    def __init__(self, in_size: int, periods: Sequence[float | None], harmonics: int = 1):
        check_int("PeriodicEmbedding", "in_size", in_size)
        check_int("PeriodicEmbedding", "harmonics", harmonics)
        if isinstance(periods, str) or not isinstance(periods, Sequence):
            raise TypeError(
                f"PeriodicEmbedding: periods must be a sequence (a period or None per "
                f"coordinate), got periods={periods!r}"
            )
        for i, p in enumerate(periods):
            if p is not None:
                check_positive("PeriodicEmbedding", f"periods[{i}]", p)
        periods = tuple(None if p is None else float(p) for p in periods)
        if len(periods) != in_size:
            raise ValueError(
                f"PeriodicEmbedding: periods has {len(periods)} entries for in_size={in_size}"
            )
        if harmonics < 1:
            raise ValueError(f"PeriodicEmbedding: harmonics must be >= 1, got {harmonics}")
        n_per = sum(p is not None for p in periods)
        self.periods, self.harmonics, self.in_size = periods, harmonics, in_size
        self.out_size = 2 * harmonics * n_per + (in_size - n_per)

    def __call__(self, x: Float[Array, " in"]) -> Float[Array, " out"]:
        feats, plain = [], []
        k = jnp.arange(1, self.harmonics + 1, dtype=x.dtype)
        for i, p in enumerate(self.periods):
            if p is None:
                plain.append(x[i : i + 1])
            else:
                z = (2 * np.pi / p) * k * x[i]
                feats += [jnp.cos(z), jnp.sin(z)]
        return jnp.concatenate(feats + plain)


def _check_sizes(name, in_size, width, depth, activation):
    check_int(name, "in_size", in_size)
    check_int(name, "width", width)
    check_int(name, "depth", depth, minimum=0)
    check_callable(name, "activation", activation)


def _embed_size(in_size, embedding) -> int:
    if embedding is None:
        return in_size
    if not callable(embedding) or not isinstance(getattr(embedding, "out_size", None), int):
        raise TypeError(
            f"embedding must be a module with an int out_size (FourierFeatures, "
            f"PeriodicEmbedding) or None, got embedding={embedding!r}"
        )
    if getattr(embedding, "in_size", in_size) != in_size:
        raise ValueError(
            f"embedding takes in_size={embedding.in_size} but the network has in_size={in_size}"
        )
    return embedding.out_size


def _check_input(name, in_size, x):
    if getattr(x, "shape", None) is None:
        raise TypeError(f"{name}: x must be one point, an array of shape ({in_size},), got {x!r}")
    if x.shape != (in_size,):
        raise ValueError(
            f"{name}: expected one point of shape ({in_size},), got shape {x.shape}; "
            "use jax.vmap for a batch"
        )


class MLP(eqx.Module):
    """A multilayer perceptron field `u(x)`, with optional embedding and weight factorization.

    **Arguments:**

    - `in_size`: number of coordinates.
    - `out_size`: number of outputs, or `"scalar"` for a scalar field.
    - `width`, `depth`: hidden width and number of hidden layers.
    - `activation`: elementwise nonlinearity (default `tanh`).
    - `embedding`: an input embedding module (`FourierFeatures`, `PeriodicEmbedding`) or `None`.
    - `factorization`: `None` or `(mu, sigma)` for random weight factorization of every layer.
    - `key`: PRNG key.
    """

    layers: tuple[DenseLayer, ...]
    embedding: eqx.Module | None
    activation: Callable = eqx.field(static=True)
    in_size: int = eqx.field(static=True)
    out_size: int | str = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        out_size: int | str,
        *,
        width: int = 64,
        depth: int = 4,
        activation: Callable = jnp.tanh,
        embedding: eqx.Module | None = None,
        factorization: tuple[float, float] | None = None,
        key: PRNGKeyArray,
    ):
        if out_size != "scalar" and not (isinstance(out_size, int) and out_size > 0):
            raise ValueError(f"MLP: out_size must be a positive int or 'scalar', got {out_size!r}")
        _check_sizes("MLP", in_size, width, depth, activation)
        sizes = [_embed_size(in_size, embedding)] + [width] * depth
        sizes.append(1 if out_size == "scalar" else out_size)
        keys = jax.random.split(key, len(sizes) - 1)
        self.layers = tuple(
            DenseLayer(a, b, factorization=factorization, key=k)
            for a, b, k in zip(sizes[:-1], sizes[1:], keys)
        )
        self.embedding, self.activation = embedding, activation
        self.in_size, self.out_size = in_size, out_size

    def __call__(self, x: Float[Array, " in"]) -> Array:
        _check_input("MLP", self.in_size, x)
        h = x if self.embedding is None else self.embedding(x)
        for layer in self.layers[:-1]:
            h = self.activation(layer(h))
        out = self.layers[-1](h)
        return out[0] if self.out_size == "scalar" else out


class ModifiedMLP(eqx.Module):
    """The modified MLP: two encoders `U`, `V` gate every hidden layer.

    `U = s(W_u x + b_u)`, `V = s(W_v x + b_v)`, `H_1 = s(W_1 x + b_1)`,
    `Z_k = s(W_k H_k + b_k)`, `H_{k+1} = (1 - Z_k) U + Z_k V`, output `W H + b`.

    **Arguments:** as for `MLP`.
    """

    encoder_u: DenseLayer
    encoder_v: DenseLayer
    layers: tuple[DenseLayer, ...]
    embedding: eqx.Module | None
    activation: Callable = eqx.field(static=True)
    in_size: int = eqx.field(static=True)
    out_size: int | str = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        out_size: int | str,
        *,
        width: int = 64,
        depth: int = 4,
        activation: Callable = jnp.tanh,
        embedding: eqx.Module | None = None,
        factorization: tuple[float, float] | None = None,
        key: PRNGKeyArray,
    ):
        if out_size != "scalar" and not (isinstance(out_size, int) and out_size > 0):
            raise ValueError(
                f"ModifiedMLP: out_size must be a positive int or 'scalar', got {out_size!r}"
            )
        _check_sizes("ModifiedMLP", in_size, width, depth, activation)
        d = _embed_size(in_size, embedding)
        ukey, vkey, key = jax.random.split(key, 3)
        f = factorization
        self.encoder_u = DenseLayer(d, width, factorization=f, key=ukey)
        self.encoder_v = DenseLayer(d, width, factorization=f, key=vkey)
        sizes = [d] + [width] * depth + [1 if out_size == "scalar" else out_size]
        keys = jax.random.split(key, len(sizes) - 1)
        self.layers = tuple(
            DenseLayer(a, b, factorization=f, key=k) for a, b, k in zip(sizes[:-1], sizes[1:], keys)
        )
        self.embedding, self.activation = embedding, activation
        self.in_size, self.out_size = in_size, out_size

    def __call__(self, x: Float[Array, " in"]) -> Array:
        _check_input("ModifiedMLP", self.in_size, x)
        h = x if self.embedding is None else self.embedding(x)
        u = self.activation(self.encoder_u(h))
        v = self.activation(self.encoder_v(h))
        for layer in self.layers[:-1]:
            z = self.activation(layer(h))
            h = (1 - z) * u + z * v
        out = self.layers[-1](h)
        return out[0] if self.out_size == "scalar" else out

"""Koopman autoencoder: learned observables with linear latent dynamics.

Lusch, Kutz & Brunton, "Deep learning for universal linear embeddings of nonlinear dynamics"
(Nature Communications 2018): an encoder `phi` maps the state to latent observables that a linear
operator `K` advances, `phi(x_{t+1}) ~ K phi(x_t)`; a decoder maps back. Training (through
`dynlearn.train.fit`) uses `koopman_autoencoder_loss`: reconstruction, multi-step prediction in
state space, and multi-step linearity in latent space.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array, Float, Key
from .._validation import check_dtype, check_finite, check_int, check_positive
from ._latent import AbstractLatentOperator, DenseOperator, check_latent_operator


def _vector(where: str, name: str, x, size: int):
    """`x` as one real vector of shape `(size,)`, or an error naming it."""
    x = check_dtype(f"KoopmanAutoencoder.{where}", name, x, cast_integers=True)
    if x.shape != (size,):
        raise ValueError(
            f"KoopmanAutoencoder.{where}: {name} must have shape ({size},), got shape "
            f"{tuple(x.shape)}."
        )
    return x


class KoopmanAutoencoder(eqx.Module):
    """Encoder, linear latent operator, decoder.

    **Arguments:**

    - `data_size`: dimension of the state.
    - `latent_size`: number of learned observables.
    - `width`, `depth`: hidden width and number of hidden layers of the encoder/decoder MLPs.
    - `operator`: a latent operator (`DenseOperator`, `StableOperator`, `UnitaryOperator`);
      default an unconstrained `DenseOperator`.
    - `activation`: activation of the MLPs.
    - `key`: PRNG key (keyword-only).
    """

    encoder: eqx.nn.MLP
    decoder: eqx.nn.MLP
    operator: AbstractLatentOperator

    def __init__(
        self,
        data_size: int,
        latent_size: int,
        width: int = 64,
        depth: int = 2,
        *,
        operator: AbstractLatentOperator | None = None,
        activation=jax.nn.gelu,
        key: Key,
    ):
        data_size = check_int("KoopmanAutoencoder", "data_size", data_size)
        latent_size = check_int("KoopmanAutoencoder", "latent_size", latent_size)
        width = check_int("KoopmanAutoencoder", "width", width)
        depth = check_int("KoopmanAutoencoder", "depth", depth, minimum=0)
        if operator is not None:
            check_latent_operator("KoopmanAutoencoder", operator, latent_size)
        ekey, dkey, okey = jax.random.split(key, 3)
        self.encoder = eqx.nn.MLP(data_size, latent_size, width, depth, activation, key=ekey)
        self.decoder = eqx.nn.MLP(latent_size, data_size, width, depth, activation, key=dkey)
        self.operator = DenseOperator(latent_size, key=okey) if operator is None else operator

    def encode(self, x: Float[Array, " state"]) -> Float[Array, " latent"]:
        """Latent observables of one state."""
        return self.encoder(_vector("encode", "x", x, self.encoder.in_size))

    def decode(self, z: Float[Array, " latent"]) -> Float[Array, " state"]:
        """State read back from latent observables."""
        return self.decoder(_vector("decode", "z", z, self.decoder.in_size))

    def __call__(self, x: Float[Array, " state"]) -> Float[Array, " state"]:
        """One step of the learned map: `decode(K encode(x))`."""
        return self.decode(self.operator(self.encode(x)))

    def init_state(self, context: Float[Array, "time state"]) -> Float[Array, " latent"]:
        """The latent state at the end of an observed `context` (the dynamical-model contract):
        `encode(context[-1])`.

        **Arguments:**

        - `context`: observed states, shape `(time, state)`.

        **Returns:** shape `(latent,)`.
        """
        where = "KoopmanAutoencoder.init_state"
        context = check_dtype(where, "context", context, cast_integers=True)
        state = self.encoder.in_size
        if context.ndim != 2 or context.shape[0] < 1 or context.shape[1] != state:
            raise ValueError(
                f"KoopmanAutoencoder.init_state: context must have shape (time >= 1, {state}), "
                f"got shape {tuple(context.shape)}."
            )
        return self.encode(context[-1])

    def step(self, z: Float[Array, " latent"]) -> Float[Array, " latent"]:
        """One step of the latent linear map, `z -> K z`."""
        return self.operator(_vector("step", "z", z, self.decoder.in_size))

    def observe(self, z: Float[Array, " latent"]) -> Float[Array, " state"]:
        """The observation of a latent state: `decode(z)`."""
        return self.decode(z)

    def latent_rollout(
        self, z0: Float[Array, " latent"], n_steps: int
    ) -> Float[Array, "time latent"]:
        """`K^k z0` for `k = 0..n_steps`, shape `(n_steps + 1, latent)`."""
        z0 = _vector("latent_rollout", "z0", z0, self.decoder.in_size)
        n_steps = check_int("KoopmanAutoencoder.latent_rollout", "n_steps", n_steps, minimum=0)
        k = self.operator.matrix().astype(z0.dtype)

        def advance(z, _):
            z = k @ z
            return z, z

        _, zs = jax.lax.scan(advance, z0, None, length=n_steps)
        return jnp.concatenate([z0[None], zs])

    def predict(self, x0: Float[Array, " state"], n_steps: int) -> Float[Array, "time state"]:
        """Forecast `decode(K^k encode(x0))` for `k = 0..n_steps`, `(n_steps + 1, state)`."""
        x0 = _vector("predict", "x0", x0, self.encoder.in_size)
        n_steps = check_int("KoopmanAutoencoder.predict", "n_steps", n_steps, minimum=0)
        return jax.vmap(self.decode)(self.latent_rollout(self.encode(x0), n_steps))


def koopman_autoencoder_loss(
    model: KoopmanAutoencoder,
    batch: Float[Array, "batch time state"],
    *,
    key: Key | None = None,
    reconstruction_weight: float = 1.0,
    prediction_weight: float = 1.0,
    linearity_weight: float = 1.0,
) -> tuple[Float[Array, ""], dict]:
    """Multi-step Koopman autoencoder loss for `dynlearn.train.fit`.

    For every trajectory `x_0..x_T` in the batch, with `z_k = K^k encode(x_0)`:
    reconstruction `|decode(encode(x_t)) - x_t|^2`, prediction `|decode(z_k) - x_k|^2` and
    linearity `|z_k - encode(x_k)|^2`, each averaged over time, batch and dimension.

    **Arguments:**

    - `model`: a `KoopmanAutoencoder`.
    - `batch`: trajectories, `(batch, time, state)`.
    - `key`: unused (the loss is deterministic); accepted for `fit`.
    - `reconstruction_weight`, `prediction_weight`, `linearity_weight`: term weights (bind them
      with `functools.partial`).

    **Returns:** `(loss, {"reconstruction", "prediction", "linearity"})`.
    """
    del key
    where = "koopman_autoencoder_loss"
    batch = check_dtype(where, "batch", batch, cast_integers=True)
    state = model.encoder.in_size
    if batch.ndim != 3 or batch.shape[1] < 2 or batch.shape[2] != state:
        raise ValueError(
            f"{where}: batch must have shape (batch, time >= 2, {state}), got shape "
            f"{tuple(batch.shape)}."
        )
    check_finite(where, "batch", batch)
    for name, w in (
        ("reconstruction_weight", reconstruction_weight),
        ("prediction_weight", prediction_weight),
        ("linearity_weight", linearity_weight),
    ):
        check_positive(where, name, w, allow_zero=True)
    steps = batch.shape[1] - 1

    def one(trajectory):
        latents = jax.vmap(model.encode)(trajectory)
        rollout = model.latent_rollout(latents[0], steps)
        reconstruction = jnp.mean((jax.vmap(model.decode)(latents) - trajectory) ** 2)
        prediction = jnp.mean((jax.vmap(model.decode)(rollout[1:]) - trajectory[1:]) ** 2)
        linearity = jnp.mean((rollout[1:] - latents[1:]) ** 2)
        return reconstruction, prediction, linearity

    reconstruction, prediction, linearity = (jnp.mean(v) for v in jax.vmap(one)(batch))
    loss = (
        reconstruction_weight * reconstruction
        + prediction_weight * prediction
        + linearity_weight * linearity
    )
    return loss, {
        "reconstruction": reconstruction,
        "prediction": prediction,
        "linearity": linearity,
    }

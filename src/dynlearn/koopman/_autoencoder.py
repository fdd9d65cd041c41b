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
from ._latent import AbstractLatentOperator, DenseOperator


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
        if min(data_size, latent_size, width) < 1 or depth < 0:
            raise ValueError(
                "KoopmanAutoencoder: need positive data_size, latent_size and width, depth >= 0; "
                f"got {data_size}, {latent_size}, {width}, {depth}"
            )
        ekey, dkey, okey = jax.random.split(key, 3)
        self.encoder = eqx.nn.MLP(data_size, latent_size, width, depth, activation, key=ekey)
        self.decoder = eqx.nn.MLP(latent_size, data_size, width, depth, activation, key=dkey)
        self.operator = DenseOperator(latent_size, key=okey) if operator is None else operator
        probe = self.operator(jnp.zeros(latent_size))
        if probe.shape != (latent_size,):
            raise ValueError(
                f"KoopmanAutoencoder: operator maps a latent of size {latent_size} to shape "
                f"{probe.shape}; build it with latent_size={latent_size}"
            )

    def encode(self, x: Float[Array, " state"]) -> Float[Array, " latent"]:
        """Latent observables of one state."""
        return self.encoder(x)

    def decode(self, z: Float[Array, " latent"]) -> Float[Array, " state"]:
        """State read back from latent observables."""
        return self.decoder(z)

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
        context = jnp.asarray(context)
        if context.ndim != 2 or context.shape[0] < 1:
            raise ValueError(
                f"KoopmanAutoencoder: context must have shape (time >= 1, state), got "
                f"{tuple(context.shape)}"
            )
        return self.encode(context[-1])

    def step(self, z: Float[Array, " latent"]) -> Float[Array, " latent"]:
        """One step of the latent linear map, `z -> K z`."""
        return self.operator(z)

    def observe(self, z: Float[Array, " latent"]) -> Float[Array, " state"]:
        """The observation of a latent state: `decode(z)`."""
        return self.decode(z)

    def latent_rollout(
        self, z0: Float[Array, " latent"], n_steps: int
    ) -> Float[Array, "time latent"]:
        """`K^k z0` for `k = 0..n_steps`, shape `(n_steps + 1, latent)`."""
        k = self.operator.matrix().astype(z0.dtype)

        def advance(z, _):
            z = k @ z
            return z, z

        _, zs = jax.lax.scan(advance, z0, None, length=n_steps)
        return jnp.concatenate([z0[None], zs])

    def predict(self, x0: Float[Array, " state"], n_steps: int) -> Float[Array, "time state"]:
        """Forecast `decode(K^k encode(x0))` for `k = 0..n_steps`, `(n_steps + 1, state)`."""
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
    if batch.ndim != 3 or batch.shape[1] < 2:
        raise ValueError(
            f"koopman_autoencoder_loss: batch must be (batch, time >= 2, state), got {batch.shape}"
        )
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

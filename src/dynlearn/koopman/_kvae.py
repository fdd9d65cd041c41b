"""Koopman VAE: a sequence VAE whose prior is a linear (Koopman) latent dynamical system.

Naiman, Berman, Azencot et al., "Generative modeling of regular and irregular time series data
via Koopman VAEs" (ICLR 2024). Our formulation: a backward GRU encodes the sequence into a
diagonal Gaussian posterior `q(z_t | x_{t:T})` per time step; the prior is the linear Gaussian
system `z_0 ~ N(0, I)`, `z_t = K^{dt} z_{t-1} + sigma sqrt(dt) eps` with `K` a latent operator
object (spectral constraints: `StableOperator` keeps `|lambda| < 1`, `UnitaryOperator` puts it on
the unit circle; a `DenseOperator` gets an optional penalty on `|lambda| > 1`). Irregular
sampling enters through the time gaps `dt`: the encoder sees them and the prior uses the
fractional power `K^{dt}` of a block operator. The loss (`kvae_loss`) is the negative ELBO
(Gaussian reconstruction + KL to the linear prior) plus the paper's predictive term, the error of
decoding the linear one-step prediction `K^{dt} z_{t-1}`.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array, Float, Key
from ._latent import AbstractLatentOperator, DenseOperator, StableOperator


def _gaps(ts: Array) -> Array:
    return jnp.concatenate([jnp.zeros((1,), ts.dtype), jnp.diff(ts)])


class KoopmanVAE(eqx.Module):
    """Koopman VAE for regularly or irregularly sampled time series.

    **Arguments:**

    - `data_size`: features per time step.
    - `latent_size`: latent dimension.
    - `hidden_size`: GRU hidden size of the encoder.
    - `width`, `depth`: decoder MLP size.
    - `operator`: the prior's latent operator (default `StableOperator(latent_size)`).
    - `key`: PRNG key (keyword-only).
    """

    cell: eqx.nn.GRUCell
    posterior: eqx.nn.Linear
    decoder: eqx.nn.MLP
    operator: AbstractLatentOperator
    log_prior_scale: Float[Array, " latent"]
    latent_size: int = eqx.field(static=True)

    def __init__(
        self,
        data_size: int,
        latent_size: int,
        hidden_size: int = 64,
        width: int = 64,
        depth: int = 2,
        *,
        operator: AbstractLatentOperator | None = None,
        key: Key,
    ):
        if min(data_size, latent_size, hidden_size, width) < 1:
            raise ValueError(
                "KoopmanVAE: dimensions must be positive, got "
                f"{data_size}, {latent_size}, {hidden_size}, {width}"
            )
        ckey, pkey, dkey, okey = jax.random.split(key, 4)
        self.cell = eqx.nn.GRUCell(data_size + 1, hidden_size, key=ckey)
        self.posterior = eqx.nn.Linear(hidden_size, 2 * latent_size, key=pkey)
        self.decoder = eqx.nn.MLP(latent_size, data_size, width, depth, jax.nn.gelu, key=dkey)
        self.operator = StableOperator(latent_size, key=okey) if operator is None else operator
        self.log_prior_scale = jnp.full((latent_size,), -2.0)
        self.latent_size = latent_size

    def transition(self, gap: Float[Array, ""]) -> Float[Array, "latent latent"]:
        """The prior's linear map `K^gap` over a time gap.

        A `DenseOperator` has no fractional power: it always applies `K` (unit gaps only).
        """
        if isinstance(self.operator, DenseOperator):
            return self.operator.matrix()
        return self.operator.power(gap)

    def encode(
        self, xs: Float[Array, "time state"], ts: Float[Array, " time"]
    ) -> tuple[Float[Array, "time latent"], Float[Array, "time latent"]]:
        """Posterior means and log standard deviations, each `(time, latent)`."""
        inputs = jnp.concatenate([xs, _gaps(ts)[:, None].astype(xs.dtype)], axis=1)

        def step(h, u):
            h = self.cell(u, h)
            return h, h

        h0 = jnp.zeros((self.cell.hidden_size,), xs.dtype)
        _, hidden = jax.lax.scan(step, h0, inputs, reverse=True)
        out = jax.vmap(self.posterior)(hidden)
        return out[:, : self.latent_size], jnp.clip(out[:, self.latent_size :], -8.0, 4.0)

    def decode(self, zs: Float[Array, "time latent"]) -> Float[Array, "time state"]:
        """Decode every latent state."""
        return jax.vmap(self.decoder)(zs)

    def init_state(self, context: Float[Array, "time state"]) -> Float[Array, " latent"]:
        """The latent state at the end of an observed `context` (the dynamical-model contract):
        the posterior mean at its last row, encoded with unit time gaps.

        **Arguments:**

        - `context`: a regularly sampled series, shape `(time, state)`.

        **Returns:** shape `(latent,)`.
        """
        context = jnp.asarray(context)
        if context.ndim != 2 or context.shape[0] < 1:
            raise ValueError(
                f"KoopmanVAE: context must have shape (time >= 1, state), got "
                f"{tuple(context.shape)}"
            )
        mean, _ = self.encode(context, jnp.arange(context.shape[0], dtype=context.dtype))
        return mean[-1]

    def step(self, z: Float[Array, " latent"]) -> Float[Array, " latent"]:
        """One unit-gap step of the prior's mean dynamics, `z -> K z`."""
        return self.transition(jnp.ones((), z.dtype)).astype(z.dtype) @ z

    def observe(self, z: Float[Array, " latent"]) -> Float[Array, " state"]:
        """The observation of a latent state: the decoder's output."""
        return self.decoder(z)

    def _transitions(self, ts: Array) -> Array:
        gaps = _gaps(ts)
        return jax.vmap(self.transition)(gaps)

    def sample(self, ts: Float[Array, " time"], *, key: Key) -> Float[Array, "time state"]:
        """Generate one series at the given (possibly irregular) times from the linear prior.

        **Arguments:**

        - `ts`: increasing sample times, `(time,)` (`jnp.arange(T)` for regular series).
        - `key`: PRNG key.

        **Returns:** the generated series, `(time, state)`.
        """
        ts = jnp.asarray(ts)
        maps = self._transitions(ts)
        noise = jax.random.normal(key, (ts.shape[0], self.latent_size), ts.dtype)
        scales = jnp.exp(self.log_prior_scale).astype(ts.dtype)
        gaps = _gaps(ts)

        def step(z, inputs):
            k, eps, gap = inputs
            z = k.astype(z.dtype) @ z + scales * jnp.sqrt(gap) * eps
            return z, z

        z0 = noise[0]
        _, zs = jax.lax.scan(step, z0, (maps[1:], noise[1:], gaps[1:]))
        return self.decode(jnp.concatenate([z0[None], zs]))

    def reconstruct(self, xs: Float[Array, "time state"], ts: Float[Array, " time"]):
        """Decode the posterior mean of a series (its reconstruction), `(time, state)`."""
        mean, _ = self.encode(xs, ts)
        return self.decode(mean)

    def forecast(
        self,
        xs: Float[Array, "time state"],
        ts: Float[Array, " time"],
        future_ts: Float[Array, " horizon"],
    ) -> Float[Array, "horizon state"]:
        """Forecast at the times `future_ts` by advancing the last posterior mean with the prior's
        `K`."""
        mean, _ = self.encode(xs, ts)
        gaps = jnp.diff(jnp.concatenate([ts[-1:], future_ts]))

        def step(z, gap):
            z = self.transition(gap).astype(z.dtype) @ z
            return z, z

        _, zs = jax.lax.scan(step, mean[-1], gaps)
        return self.decode(zs)


def kvae_loss(
    model: KoopmanVAE,
    batch,
    *,
    key: Key,
    kl_weight: float = 1.0,
    predictive_weight: float = 1.0,
    spectral_weight: float = 0.0,
    observation_scale: float = 0.1,
) -> tuple[Float[Array, ""], dict]:
    """Negative ELBO of the Koopman VAE plus its predictive and spectral terms, for `fit`.

    **Arguments:**

    - `model`: a `KoopmanVAE`.
    - `batch`: series `(batch, time, state)` (regular, unit spacing) or a pair
      `(series, ts)` with `ts` of shape `(batch, time)` (irregular sampling).
    - `key`: PRNG key for the reparameterised posterior samples.
    - `kl_weight`: weight of the KL term (beta).
    - `predictive_weight`: weight of `|decode(K^{dt} z_{t-1}) - x_t|^2`.
    - `spectral_weight`: weight of `sum relu(|lambda| - 1)^2` over the operator's eigenvalues
      (useful with a `DenseOperator`).
    - `observation_scale`: standard deviation of the Gaussian likelihood.

    **Returns:** `(loss, {"reconstruction", "kl", "predictive", "spectral"})`, per time step.
    """
    if isinstance(batch, tuple):
        xs, ts = batch
    else:
        xs = batch
        ts = jnp.broadcast_to(jnp.arange(xs.shape[1], dtype=xs.dtype)[None, :], xs.shape[:2])
    if xs.ndim != 3 or ts.shape != xs.shape[:2]:
        raise ValueError(
            f"kvae_loss: need series (batch, time, state) and ts (batch, time); got "
            f"{xs.shape} and {ts.shape}"
        )
    keys = jax.random.split(key, xs.shape[0])
    prior_var = jnp.exp(2 * model.log_prior_scale).astype(xs.dtype)

    def one(x, t, k):
        mean, log_std = model.encode(x, t)
        z = mean + jnp.exp(log_std) * jax.random.normal(k, mean.shape, mean.dtype)
        maps = model._transitions(t)[1:].astype(z.dtype)
        predicted = jnp.einsum("tij,tj->ti", maps, z[:-1])
        var = jnp.exp(2 * log_std)
        prior_mean = jnp.concatenate([jnp.zeros_like(z[:1]), predicted])
        gaps = _gaps(t)
        prior_v = jnp.concatenate(
            [jnp.ones_like(z[:1]), prior_var[None, :] * jnp.maximum(gaps[1:, None], 1e-6)]
        )
        kl = 0.5 * jnp.sum(
            jnp.log(prior_v) - 2 * log_std + (var + (mean - prior_mean) ** 2) / prior_v - 1.0,
            axis=1,
        )
        recon = jnp.sum((model.decode(z) - x) ** 2, axis=1) / (2 * observation_scale**2)
        pred = jnp.mean((model.decode(predicted) - x[1:]) ** 2)
        return jnp.mean(recon), jnp.mean(kl), pred

    recon, kl, pred = (jnp.mean(v) for v in jax.vmap(one)(xs, ts, keys))
    moduli = jnp.abs(model.operator.eigenvalues())
    spectral = jnp.sum(jax.nn.relu(moduli - 1.0) ** 2)
    loss = recon + kl_weight * kl + predictive_weight * pred + spectral_weight * spectral
    return loss, {"reconstruction": recon, "kl": kl, "predictive": pred, "spectral": spectral}

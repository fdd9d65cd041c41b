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
import numpy as np

from .._types import Array, Float, Key
from .._validation import check_dtype, check_finite, check_int, check_positive
from ._latent import AbstractLatentOperator, DenseOperator, StableOperator, check_latent_operator


def _times(where: str, name: str, ts, length: int | None = None) -> Array:
    """`ts` as real, 1-D times (of `length` when given); concrete ones strictly increasing."""
    ts = check_dtype(where, name, ts, cast_integers=True)
    if ts.ndim != 1 or ts.shape[0] < 1 or (length is not None and ts.shape[0] != length):
        want = f"({length},)" if length is not None else "(time >= 1,)"
        raise ValueError(f"{where}: {name} must have shape {want}, got shape {tuple(ts.shape)}.")
    if not isinstance(ts, jax.core.Tracer):
        t = np.asarray(ts)
        if not (np.all(np.isfinite(t)) and np.all(np.diff(t) > 0)):
            raise ValueError(
                f"{where}: {name} must be finite and strictly increasing, got {name}={t}."
            )
    return ts


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
        data_size = check_int("KoopmanVAE", "data_size", data_size)
        latent_size = check_int("KoopmanVAE", "latent_size", latent_size)
        hidden_size = check_int("KoopmanVAE", "hidden_size", hidden_size)
        width = check_int("KoopmanVAE", "width", width)
        depth = check_int("KoopmanVAE", "depth", depth, minimum=0)
        if operator is not None:
            check_latent_operator("KoopmanVAE", operator, latent_size)
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
        xs, ts = self._series("KoopmanVAE.encode", xs, ts)
        inputs = jnp.concatenate([xs, _gaps(ts)[:, None].astype(xs.dtype)], axis=1)

        def step(h, u):
            h = self.cell(u, h)
            return h, h

        h0 = jnp.zeros((self.cell.hidden_size,), xs.dtype)
        _, hidden = jax.lax.scan(step, h0, inputs, reverse=True)
        out = jax.vmap(self.posterior)(hidden)
        return out[:, : self.latent_size], jnp.clip(out[:, self.latent_size :], -8.0, 4.0)

    def _series(self, where: str, xs, ts):
        data = self.decoder.out_size
        xs = check_dtype(where, "xs", xs, cast_integers=True)
        if xs.ndim != 2 or xs.shape[0] < 1 or xs.shape[1] != data:
            raise ValueError(
                f"{where}: xs must have shape (time >= 1, {data}), got shape {tuple(xs.shape)}."
            )
        check_finite(where, "xs", xs)
        return xs, _times(where, "ts", ts, xs.shape[0])

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
        context = check_dtype("KoopmanVAE.init_state", "context", context, cast_integers=True)
        if context.ndim != 2:
            raise ValueError(
                "KoopmanVAE.init_state: context must have shape (time >= 1, state), got shape "
                f"{tuple(context.shape)}."
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
        ts = _times("KoopmanVAE.sample", "ts", ts)
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
        ts = jnp.asarray(ts)
        future_ts = check_dtype("KoopmanVAE.forecast", "future_ts", future_ts, cast_integers=True)
        if future_ts.ndim != 1 or future_ts.shape[0] < 1:
            raise ValueError(
                "KoopmanVAE.forecast: future_ts must have shape (horizon >= 1,), got shape "
                f"{tuple(future_ts.shape)}."
            )
        if not isinstance(future_ts, jax.core.Tracer) and not isinstance(ts, jax.core.Tracer):
            _times("KoopmanVAE.forecast", "concat(ts[-1:], future_ts)", jnp.concatenate(
                [ts[-1:], future_ts.astype(ts.dtype)]
            ))
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
    if isinstance(batch, tuple | list):
        if len(batch) != 2:
            raise ValueError(
                f"kvae_loss: batch must be series (batch, time, state) or a pair (series, ts), "
                f"got a sequence of length {len(batch)}."
            )
        xs = check_dtype("kvae_loss", "batch series", batch[0], cast_integers=True)
        ts = check_dtype("kvae_loss", "batch ts", batch[1], cast_integers=True)
    else:
        xs = check_dtype("kvae_loss", "batch", batch, cast_integers=True)
        if xs.ndim != 3:
            raise ValueError(
                f"kvae_loss: batch must have shape (batch, time, state), got shape "
                f"{tuple(xs.shape)}."
            )
        ts = jnp.broadcast_to(jnp.arange(xs.shape[1], dtype=xs.dtype)[None, :], xs.shape[:2])
    data = model.decoder.out_size
    if xs.ndim != 3 or xs.shape[2] != data or ts.shape != xs.shape[:2]:
        raise ValueError(
            f"kvae_loss: batch must be series (batch, time, {data}) and ts (batch, time); got "
            f"shapes {tuple(xs.shape)} and {tuple(ts.shape)}."
        )
    check_finite("kvae_loss", "batch", xs)
    for name, w in (
        ("kl_weight", kl_weight),
        ("predictive_weight", predictive_weight),
        ("spectral_weight", spectral_weight),
    ):
        check_positive("kvae_loss", name, w, allow_zero=True)
    check_positive("kvae_loss", "observation_scale", observation_scale)
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

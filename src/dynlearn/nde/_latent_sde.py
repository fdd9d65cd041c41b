"""`LatentSDE`: variational inference for latent SDEs, KL by Girsanov (Li et al., AISTATS 2020).

Follows Li, Wong, Chen, Duvenaud (2020), "Scalable Gradients for Stochastic Differential
Equations": a prior SDE `dz = h(t, z) dt + g(t, z) dW` with `z(t0) ~ N(m0, L0 L0^T)`, a posterior
SDE `dz = f(t, z, c_t) dt + g(t, z) dW` whose drift sees a context `c_t` encoded from the data
(a GRU run backwards in time), and a decoder `p(x_t | z_t)`. Both SDEs share `g`, so by Girsanov
`KL(q || p) = E ∫ 1/2 |u|^2 dt` with `u = (f - h) / g`, integrated alongside the state. The ELBO
is `E_q[Σ_i log p(x_i | z_{t_i})] - KL(q(z0) || p(z0)) - E_q ∫ 1/2 |u|^2 dt`. Missing (NaN)
observations are left out of the likelihood.
"""

from __future__ import annotations

from collections.abc import Callable

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
from jax.scipy.linalg import solve_triangular

from .._types import Array, Float, Key
from .._validation import check_dtype, check_int, check_option, check_positive
from ._ode import check_times


class _TimeMLP(eqx.Module):
    mlp: eqx.nn.MLP
    positive: bool = eqx.field(static=True)

    def __call__(self, t, *parts):
        out = self.mlp(jnp.concatenate([jnp.reshape(t, (1,)).astype(parts[0].dtype), *parts]))
        return jax.nn.softplus(out) + 1e-3 if self.positive else out


class _BackwardGRU(eqx.Module):
    cell: eqx.nn.GRUCell
    head: eqx.nn.Linear

    def __call__(self, ts, xs):
        observed = jnp.isfinite(xs)
        inputs = jnp.concatenate(
            [jnp.where(observed, xs, 0.0), observed.astype(xs.dtype), ts[:, None].astype(xs.dtype)],
            axis=1,
        )

        def step(h, x):
            h = self.cell(x, h)
            return h, h

        h0 = jnp.zeros((self.cell.hidden_size,), xs.dtype)
        _, hs = jax.lax.scan(step, h0, inputs[::-1])
        return hs[::-1], self.head(hs[::-1][0])


class LatentSDE(eqx.Module):
    """Latent SDE with an encoder, posterior/prior drifts, shared diagonal diffusion, decoder.

    **Arguments:**

    - `data_size`, `latent_size`, `context_size`: observation, latent and context sizes.
    - `width`, `depth`: of the MLPs.
    - `key`: PRNG key for the initialisation.
    - `dt0`: Euler–Maruyama step (Itô).
    - `obs_std`: initial observation noise standard deviation (learned, through its log).
    - `max_steps`: at least `(t1 - t0) / dt0`.
    - `residual_posterior`: the posterior drift is `prior_drift(t, z) + posterior_drift(t, z, c)`
      (so the Girsanov KL penalises only the data-driven correction, and the dynamics the data
      share must be learned by the prior); default `False`: `posterior_drift(t, z, c)` alone.
    - `prior_z0_covariance`: `"full"` (default) learns the prior initial distribution
      `N(prior_z0_mean, L0 L0^T)` with a lower-triangular `L0` (diagonal `exp(prior_z0_logstd)`,
      below it `prior_z0_offdiag`), so it can match encoders whose initial states are correlated
      across latent dimensions; `"diagonal"` keeps `L0 = diag(exp(prior_z0_logstd))`.

    Fields `prior_drift(t, z)`, `posterior_drift(t, z, c)`, `diffusion(t, z)` (positive, shape
    `(latent,)`), `decoder(z)`, `encoder(ts, xs) -> (contexts, z0_params)` can be replaced with
    any callables of those signatures (e.g. with `eqx.tree_at`).
    """

    encoder: Callable
    posterior_drift: Callable
    prior_drift: Callable
    diffusion: Callable
    decoder: Callable
    prior_z0_mean: Float[Array, " latent"]
    prior_z0_logstd: Float[Array, " latent"]
    prior_z0_offdiag: Float[Array, "latent latent"] | None
    obs_logstd: Float[Array, ""]
    latent_size: int = eqx.field(static=True)
    dt0: float = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)
    residual_posterior: bool = eqx.field(static=True)

    def __init__(
        self,
        data_size: int,
        latent_size: int,
        context_size: int = 16,
        *,
        width: int = 64,
        depth: int = 2,
        key: Key,
        dt0: float = 0.01,
        obs_std: float = 0.1,
        max_steps: int = 4096,
        residual_posterior: bool = False,
        prior_z0_covariance: str = "full",
    ):
        data_size = check_int("LatentSDE", "data_size", data_size)
        latent_size = check_int("LatentSDE", "latent_size", latent_size)
        context_size = check_int("LatentSDE", "context_size", context_size)
        width = check_int("LatentSDE", "width", width)
        depth = check_int("LatentSDE", "depth", depth, minimum=0)
        check_positive("LatentSDE", "dt0", dt0)
        check_positive("LatentSDE", "obs_std", obs_std)
        max_steps = check_int("LatentSDE", "max_steps", max_steps)
        check_option("LatentSDE", "prior_z0_covariance", prior_z0_covariance, ("full", "diagonal"))
        k = jax.random.split(key, 6)
        self.encoder = _BackwardGRU(
            eqx.nn.GRUCell(2 * data_size + 1, context_size, key=k[0]),
            eqx.nn.Linear(context_size, 2 * latent_size, key=k[1]),
        )
        mlp = lambda i, o, kk: eqx.nn.MLP(i, o, width, depth, activation=jax.nn.softplus, key=kk)  # noqa: E731
        self.posterior_drift = _TimeMLP(
            mlp(1 + latent_size + context_size, latent_size, k[2]), False
        )
        self.prior_drift = _TimeMLP(mlp(1 + latent_size, latent_size, k[3]), False)
        self.diffusion = _TimeMLP(mlp(1 + latent_size, latent_size, k[4]), True)
        self.decoder = eqx.nn.Linear(latent_size, data_size, key=k[5])
        self.prior_z0_mean = jnp.zeros((latent_size,))
        self.prior_z0_logstd = jnp.zeros((latent_size,))
        self.prior_z0_offdiag = (
            jnp.zeros((latent_size, latent_size)) if prior_z0_covariance == "full" else None
        )
        self.obs_logstd = jnp.log(jnp.asarray(obs_std))
        self.latent_size = latent_size
        self.dt0 = float(dt0)
        self.max_steps = int(max_steps)
        self.residual_posterior = bool(residual_posterior)

    def prior_z0_scale(self) -> Float[Array, "latent latent"]:
        """The lower-triangular `L0` of the prior initial covariance `L0 L0^T`."""
        scale = jnp.diag(jnp.exp(self.prior_z0_logstd))
        if self.prior_z0_offdiag is None:
            return scale
        return scale + jnp.tril(self.prior_z0_offdiag, -1)

    def kl_z0(
        self, mean: Float[Array, " latent"], logstd: Float[Array, " latent"]
    ) -> Float[Array, ""]:
        """`KL(N(mean, diag(exp(logstd))^2) || N(prior_z0_mean, L0 L0^T))` in closed form."""
        scale = self.prior_z0_scale()
        solve = lambda b: solve_triangular(scale, b, lower=True)  # noqa: E731
        trace = jnp.sum(solve(jnp.diag(jnp.exp(logstd))) ** 2)
        maha = jnp.sum(solve(mean - self.prior_z0_mean) ** 2)
        return 0.5 * (trace + maha - self.latent_size) + jnp.sum(self.prior_z0_logstd - logstd)

    def _solve(self, ts, z0, drift, key, with_kl: bool):
        d = self.latent_size
        bm = dfx.VirtualBrownianTree(ts[0], ts[-1], tol=self.dt0 / 4, shape=(d + 1,), key=key)

        def aug_drift(t, y, args):
            z = y[:d]
            f = drift(t, z)
            if not with_kl:
                return jnp.concatenate([f, jnp.zeros((1,), z.dtype)])
            u = (f - self.prior_drift(t, z)) / self.diffusion(t, z)
            return jnp.concatenate([f, 0.5 * jnp.sum(u**2, keepdims=True)])

        def aug_diffusion(t, y, args):
            z = y[:d]
            return lx.DiagonalLinearOperator(
                jnp.concatenate([self.diffusion(t, z), jnp.zeros((1,), z.dtype)])
            )

        terms = dfx.MultiTerm(dfx.ODETerm(aug_drift), dfx.ControlTerm(aug_diffusion, bm))
        y0 = jnp.concatenate([z0, jnp.zeros((1,), z0.dtype)])
        sol = dfx.diffeqsolve(
            terms,
            dfx.Euler(),
            ts[0],
            ts[-1],
            self.dt0,
            y0,
            saveat=dfx.SaveAt(ts=ts),
            max_steps=self.max_steps,
            throw=False,
        )
        ys = eqx.error_if(
            sol.ys,
            sol.result != dfx.RESULTS.successful,
            f"LatentSDE: (t1 - t0) / dt0 exceeds max_steps={self.max_steps}; increase max_steps "
            "or dt0",
        )
        return ys[:, :d], ys[-1, d]

    def _encode(self, ts, xs, key):
        # posterior z0 sample, its mean and log-std, and the posterior drift given the series
        contexts, z0_params = self.encoder(ts, xs)
        mean, logstd = z0_params[: self.latent_size], z0_params[self.latent_size :]
        z0 = mean + jnp.exp(logstd) * jax.random.normal(key, mean.shape, mean.dtype)

        def posterior(t, z):
            i = jnp.clip(jnp.searchsorted(ts, t, side="left"), 0, ts.shape[0] - 1)
            drift = self.posterior_drift(t, z, contexts[i])
            return drift + self.prior_drift(t, z) if self.residual_posterior else drift

        return z0, mean, logstd, posterior

    def elbo(
        self, ts: Array, xs: Array, *, key: Key, kl_weight: float | Array = 1.0
    ) -> tuple[Float[Array, ""], dict]:
        """One-sample Monte Carlo ELBO of one series.

        **Arguments:**

        - `ts`: observation times, shape `(time,)`, increasing.
        - `xs`: observations, shape `(time, data)`, NaN = missing.
        - `key`: PRNG key (posterior z0 sample and Brownian motion).
        - `kl_weight`: multiplies both KL terms (KL annealing); 1 gives the ELBO.

        **Returns:** `(elbo, aux)`, with `aux` holding `loglik`, `kl_z0` and `kl_path`.
        """
        ts, xs = self._check_series("LatentSDE.elbo", ts, xs)
        k0, k1 = jax.random.split(key)
        z0, mean, logstd, posterior = self._encode(ts, xs, k0)
        zs, kl_path = self._solve(ts, z0, posterior, k1, True)
        loglik = self.log_likelihood(zs, xs)
        kl_z0 = self.kl_z0(mean, logstd)
        elbo = loglik - kl_weight * (kl_z0 + kl_path)
        return elbo, {"loglik": loglik, "kl_z0": kl_z0, "kl_path": kl_path}

    def _check_series(self, where, ts, xs):
        ts = check_times(where, ts)
        xs = check_dtype(where, "xs", xs, cast_integers=True)
        data = getattr(self.decoder, "out_features", None)  # a user's decoder may be any callable
        data = xs.shape[-1] if data is None and xs.ndim else data
        if xs.ndim != 2 or xs.shape != (ts.shape[0], data):
            raise ValueError(
                f"{where}: expected ts (time,) and xs (time, {data}) with matching time; got ts of "
                f"shape {tuple(ts.shape)} and xs of shape {tuple(xs.shape)}."
            )
        if not isinstance(xs, jax.core.Tracer) and np.isinf(np.asarray(xs)).any():
            first = tuple(int(i) for i in np.argwhere(np.isinf(np.asarray(xs)))[0])
            raise ValueError(
                f"{where}: xs contains inf (first at index {first}); NaN marks a missing value, "
                "inf is not allowed."
            )
        return ts, xs

    def log_likelihood(
        self, zs: Float[Array, "time latent"], xs: Float[Array, "time data"]
    ) -> Float[Array, ""]:
        """Gaussian `Σ_i log p(x_i | z_i)` over observed (non-NaN) entries."""
        pred = jax.vmap(self.decoder)(zs)
        observed = jnp.isfinite(xs)
        var = jnp.exp(2 * self.obs_logstd)
        terms = -0.5 * (jnp.where(observed, xs - pred, 0.0) ** 2 / var + jnp.log(2 * jnp.pi * var))
        return jnp.sum(jnp.where(observed, terms, 0.0))

    def sample_prior(self, ts: Array, *, key: Key) -> tuple[Array, Array]:
        """A path of the prior: `(zs, xs_mean)` at `ts`, shapes `(time, latent)`, `(time, data)`."""
        ts = check_times("LatentSDE.sample_prior", ts)
        k0, k1 = jax.random.split(key)
        z0 = self.prior_z0_mean + self.prior_z0_scale() @ jax.random.normal(
            k0, self.prior_z0_mean.shape, self.prior_z0_mean.dtype
        )
        zs, _ = self._solve(jnp.asarray(ts), z0, self.prior_drift, k1, False)
        return zs, jax.vmap(self.decoder)(zs)

    def reconstruct(self, ts: Array, xs: Array, *, key: Key) -> tuple[Array, Array]:
        """A posterior path given data: `(zs, xs_mean)` at `ts`."""
        ts, xs = self._check_series("LatentSDE.reconstruct", ts, xs)
        k0, k1 = jax.random.split(key)
        z0, _, _, posterior = self._encode(ts, xs, k0)
        zs, _ = self._solve(ts, z0, posterior, k1, False)
        return zs, jax.vmap(self.decoder)(zs)


def latent_sde_loss(
    model: LatentSDE, batch: dict, *, key: Key, kl_weight: float | Array = 1.0
) -> tuple[Float[Array, ""], dict]:
    """Negative mean ELBO over a batch `{"ts": (B, time), "xs": (B, time, data)}`, for `fit`.

    **Returns:** `(loss, aux)` with the batch means of `loglik`, `kl_z0` and `kl_path`.
    """
    if not isinstance(batch, dict) or not {"ts", "xs"} <= set(batch):
        got = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(
            f"latent_sde_loss: batch must be a dict with keys 'ts' (B, time) and 'xs' "
            f"(B, time, data), got {got}."
        )
    check_positive("latent_sde_loss", "kl_weight", kl_weight, allow_zero=True)
    keys = jax.random.split(key, jnp.shape(batch["xs"])[0])
    elbo, aux = jax.vmap(lambda t, x, k: model.elbo(t, x, key=k, kl_weight=kl_weight))(
        batch["ts"], batch["xs"], keys
    )
    return -jnp.mean(elbo), {k: jnp.mean(v) for k, v in aux.items()}

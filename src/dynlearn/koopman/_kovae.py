"""KoVAE: the Koopman VAE of Naiman et al. with its recurrent prior and least-squares Koopman map.

Naiman, Erichson, Ren, Mahoney & Azencot, "Generative modeling of regular and irregular time
series data via Koopman VAEs" (ICLR 2024). The model, as the paper and its authors' code set it up:

- *posterior*: a bidirectional GRU reads the series; a linear head gives a diagonal Gaussian
  `q(z_t | x)` per time step;
- *prior*: a GRU cell rolled out on its own samples, `h_t = GRU(z_{t-1}, h_{t-1})` from `z_0 = 0`,
  `h_0 = 0`, with a linear head giving the Gaussian `p(z_t | z_{<t})`; new series are prior
  rollouts, decoded;
- *Koopman map*: over the prior latents of a batch, the least-squares linear map `A` with
  `z_t ~ A z_{t-1}` (all series and steps pooled); the *linear predictive loss* is the residual of
  that fit, which pushes the prior's latent dynamics towards linear ones. `A` is never used to
  sample; it is a regulariser, and its eigenvalues can be constrained (a penalty on moduli above a
  bound for stability, or on the largest moduli away from 1);
- *decoder*: a bidirectional GRU over the latent sequence and a linear readout, with a sigmoid
  when the data are min-max scaled to [0, 1] (TimeGAN's data sets);
- *loss* (`kovae_loss`): summed squared reconstruction error of a posterior sample, `kl_weight`
  times the KL from posterior to prior (summed over steps and latents), `predictive_weight` times
  the linear predictive loss, optional eigenvalue penalties; all per series (batch mean).

Irregular sampling: the paper encodes the observed points with a neural CDE driven by an
interpolation of them. `KoVAE` uses a stand-in instead: the series is linearly interpolated
between its observed points onto the full grid (`fill_gaps`), and the bidirectional GRU reads this
path together with the observation mask; the reconstruction loss counts observed entries only, as
in the paper, and generation is on the full regular grid.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Bool

from .._types import Array, Complex, Float, Key
from .._validation import check_dtype, check_finite, check_int, check_positive


class _BiGRU(eqx.Module):
    """Stacked bidirectional GRU layers over a sequence `(time, in)` -> `(time, 2 hidden)`."""

    forward_cells: tuple[eqx.nn.GRUCell, ...]
    backward_cells: tuple[eqx.nn.GRUCell, ...]

    def __init__(self, in_size: int, hidden_size: int, num_layers: int, *, key: Key):
        keys = jax.random.split(key, 2 * num_layers)
        sizes = [in_size] + [2 * hidden_size] * (num_layers - 1)
        self.forward_cells = tuple(
            eqx.nn.GRUCell(s, hidden_size, key=k) for s, k in zip(sizes, keys[:num_layers])
        )
        self.backward_cells = tuple(
            eqx.nn.GRUCell(s, hidden_size, key=k) for s, k in zip(sizes, keys[num_layers:])
        )

    def __call__(self, xs: Float[Array, "time in"]) -> Float[Array, "time out"]:
        for fwd, bwd in zip(self.forward_cells, self.backward_cells):
            h0 = jnp.zeros((fwd.hidden_size,), xs.dtype)

            def run(cell, reverse, inputs=xs, h0=h0):
                def step(h, x):
                    h = cell(x, h)
                    return h, h

                return jax.lax.scan(step, h0, inputs, reverse=reverse)[1]

            xs = jnp.concatenate([run(fwd, False), run(bwd, True)], axis=1)
        return xs


def fill_gaps(
    xs: Float[Array, "time state"], mask: Bool[Array, " time"]
) -> Float[Array, "time state"]:
    """Linear interpolation of a series between its observed rows, on the full grid.

    Rows where `mask` is false are replaced by the straight line between the nearest observed rows
    before and after (grid index as time); before the first and after the last observed row the
    nearest observed value is held. Unobserved rows may hold anything, NaN included.

    **Arguments:**

    - `xs`: the series on the full grid, `(time, state)`.
    - `mask`: which rows were observed, `(time,)`; at least one must be true.

    **Returns:** the filled series, `(time, state)`.
    """
    length = xs.shape[0]
    idx = jnp.arange(length)
    before = jax.lax.cummax(jnp.where(mask, idx, -1))
    after = jax.lax.cummin(jnp.where(mask, idx, length), reverse=True)
    before_ok = before >= 0
    after_ok = after < length
    lo = jnp.where(before_ok, before, after)
    hi = jnp.where(after_ok, after, before)
    span = jnp.maximum(hi - lo, 1)
    weight = ((idx - lo) / span).astype(xs.dtype)[:, None]
    clean = jnp.where(mask[:, None], xs, jnp.zeros((), xs.dtype))
    return (1 - weight) * clean[lo] + weight * clean[hi]


def koopman_least_squares(
    zs: Float[Array, "batch time latent"],
) -> tuple[Float[Array, "latent latent"], Float[Array, "batch time_1 latent"]]:
    """The least-squares linear map `A` with `z_t ~ A z_{t-1}` over all series and steps.

    Solves `min_A sum_{b, t} |z_{b,t} - A z_{b,t-1}|^2` by a QR factorisation of the stacked
    past states (full column rank needed: more pairs than latents), differentiably.

    **Arguments:**

    - `zs`: latent sequences, `(batch, time, latent)`, `time >= 2`.

    **Returns:** `(A, predictions)`: `A` of shape `(latent, latent)` (column convention,
    `z_t ~ A @ z_{t-1}`) and the one-step predictions `A z_{t-1}`, `(batch, time - 1, latent)`.
    """
    latent = zs.shape[2]
    past = zs[:, :-1].reshape(-1, latent)
    future = zs[:, 1:].reshape(-1, latent)
    q, r = jnp.linalg.qr(past)
    right = jax.scipy.linalg.solve_triangular(r, q.T @ future, lower=False)  # past @ right ~ future
    return right.T, (past @ right).reshape(zs.shape[0], zs.shape[1] - 1, latent)


class KoVAE(eqx.Module):
    """Naiman et al.'s Koopman VAE: GRU posterior, GRU prior, least-squares Koopman regulariser.

    See the module's text for the model. Train with `kovae_loss` (e.g. through
    `dynlearn.train.fit`), generate with `sample`.

    **Arguments:**

    - `data_size`: channels per time step.
    - `latent_size`: latent dimension (the paper's `z_dim`, 16).
    - `hidden_size`: GRU hidden size of the encoder, the prior and the decoder (the paper's 20).
    - `num_layers`: bidirectional GRU layers of the encoder and the decoder (the paper's 3).
    - `sigmoid_output`: squash the decoder's output into (0, 1) (for min-max scaled data).
    - `key`: PRNG key (keyword-only).
    """

    encoder: _BiGRU
    posterior: eqx.nn.Linear
    prior_cell: eqx.nn.GRUCell
    prior_head: eqx.nn.Linear
    decoder: _BiGRU
    readout: eqx.nn.Linear
    data_size: int = eqx.field(static=True)
    latent_size: int = eqx.field(static=True)
    sigmoid_output: bool = eqx.field(static=True)

    def __init__(
        self,
        data_size: int,
        latent_size: int = 16,
        hidden_size: int = 20,
        num_layers: int = 1,
        *,
        sigmoid_output: bool = True,
        key: Key,
    ):
        data_size = check_int("KoVAE", "data_size", data_size)
        latent_size = check_int("KoVAE", "latent_size", latent_size)
        hidden_size = check_int("KoVAE", "hidden_size", hidden_size)
        num_layers = check_int("KoVAE", "num_layers", num_layers)
        ke, kp, kc, kh, kd, kr = jax.random.split(key, 6)
        # the encoder reads the (gap-filled) series and the observation mask
        self.encoder = _BiGRU(data_size + 1, hidden_size, num_layers, key=ke)
        self.posterior = eqx.nn.Linear(2 * hidden_size, 2 * latent_size, key=kp)
        self.prior_cell = eqx.nn.GRUCell(latent_size, hidden_size, key=kc)
        self.prior_head = eqx.nn.Linear(hidden_size, 2 * latent_size, key=kh)
        self.decoder = _BiGRU(latent_size, hidden_size, num_layers, key=kd)
        self.readout = eqx.nn.Linear(2 * hidden_size, data_size, key=kr)
        self.data_size = data_size
        self.latent_size = latent_size
        self.sigmoid_output = bool(sigmoid_output)

    def encode(
        self, xs: Float[Array, "time state"], mask: Bool[Array, " time"] | None = None
    ) -> tuple[Float[Array, "time latent"], Float[Array, "time latent"]]:
        """Posterior means and log variances per time step, each `(time, latent)`.

        **Arguments:**

        - `xs`: the series on the full grid, `(time, state)`.
        - `mask`: which rows were observed (irregular sampling), `(time,)`; default all.
        """
        if mask is None:
            mask = jnp.ones(xs.shape[:1], bool)
        filled = fill_gaps(xs, mask)
        inputs = jnp.concatenate([filled, mask[:, None].astype(xs.dtype)], axis=1)
        out = jax.vmap(self.posterior)(self.encoder(inputs))
        return out[:, : self.latent_size], out[:, self.latent_size :]

    def decode(self, zs: Float[Array, "time latent"]) -> Float[Array, "time state"]:
        """The series decoded from a latent sequence, `(time, state)`."""
        out = jax.vmap(self.readout)(self.decoder(zs))
        return jax.nn.sigmoid(out) if self.sigmoid_output else out

    def prior(
        self, length: int, *, key: Key, dtype=None
    ) -> tuple[
        Float[Array, "time latent"], Float[Array, "time latent"], Float[Array, "time latent"]
    ]:
        """One rollout of the recurrent prior: means, log variances and samples, each
        `(length, latent)`; step `t`'s Gaussian is conditioned on the samples before it."""
        length = check_int("KoVAE.prior", "length", length)
        dtype = dtype or self.prior_head.weight.dtype
        noise = jax.random.normal(key, (length, self.latent_size), dtype)

        def step(carry, eps):
            z, h = carry
            h = self.prior_cell(z, h)
            out = self.prior_head(h)
            mean, log_var = out[: self.latent_size], out[self.latent_size :]
            z = mean + jnp.exp(0.5 * log_var) * eps
            return (z, h), (mean, log_var, z)

        start = (
            jnp.zeros((self.latent_size,), dtype),
            jnp.zeros((self.prior_cell.hidden_size,), dtype),
        )
        _, (means, log_vars, zs) = jax.lax.scan(step, start, noise)
        return means, log_vars, zs

    def sample(self, length: int, *, key: Key) -> Float[Array, "time state"]:
        """Generate one series of `length` regular steps: a prior rollout, decoded."""
        return self.decode(self.prior(length, key=key)[2])

    def koopman_matrix(
        self, length: int, n_series: int = 256, *, key: Key
    ) -> Float[Array, "latent latent"]:
        """The least-squares Koopman map `A` of `n_series` prior rollouts of `length` steps
        (`koopman_least_squares`); its eigenvalues describe the generated dynamics."""
        n_series = check_int("KoVAE.koopman_matrix", "n_series", n_series)
        zs = jax.vmap(lambda k: self.prior(length, key=k)[2])(jax.random.split(key, n_series))
        return koopman_least_squares(zs)[0]


def gaussian_kl(
    mean_q: Array, log_var_q: Array, mean_p: Array, log_var_p: Array
) -> Float[Array, "..."]:
    """Elementwise `KL(N(mean_q, exp(log_var_q)) || N(mean_p, exp(log_var_p)))`."""
    return 0.5 * (
        log_var_p
        - log_var_q
        + (jnp.exp(log_var_q) + (mean_q - mean_p) ** 2) / jnp.exp(log_var_p)
        - 1.0
    )


def eigenvalue_penalties(
    matrix: Float[Array, "latent latent"], max_modulus: float, n_unit: int
) -> tuple[Float[Array, ""], Float[Array, ""], Complex[Array, " latent"]]:
    """`(sum relu(|lambda| - max_modulus)^2, mean over the n_unit largest |lambda| of
    (|lambda| - 1)^2, eigenvalues)` of a real square matrix (0 for `n_unit = 0`)."""
    eigenvalues = jnp.linalg.eigvals(matrix)
    moduli = jnp.abs(eigenvalues)
    stability = jnp.sum(jax.nn.relu(moduli - max_modulus) ** 2)
    if n_unit:
        largest = jnp.sort(moduli)[-n_unit:]
        unit = jnp.mean((largest - 1.0) ** 2)
    else:
        unit = jnp.zeros((), moduli.dtype)
    return stability, unit, eigenvalues


def kovae_loss(
    model: KoVAE,
    batch,
    *,
    key: Key,
    kl_weight: float = 0.007,
    predictive_weight: float = 0.005,
    relative_predictive: bool = True,
    stability_weight: float = 0.0,
    max_modulus: float = 1.0,
    unit_weight: float = 0.0,
    n_unit: int = 0,
) -> tuple[Float[Array, ""], dict]:
    """The KoVAE training loss, for `dynlearn.train.fit`.

    `reconstruction + kl_weight * kl + predictive_weight * predictive + stability_weight *
    stability + unit_weight * unit`, where, per series (mean over the batch): `reconstruction` is
    the summed squared error of the decoded posterior sample at the observed entries; `kl` the KL
    from the posterior to the recurrent prior, summed over steps and latents (the prior's
    Gaussians come from an independent prior rollout per series, as the paper's code draws them);
    `predictive` the residual of the least-squares Koopman fit over the batch's prior latents
    (`koopman_least_squares`): its mean square, divided by the Frobenius norm of the predictions
    when `relative_predictive` (as the authors' code scales it; their weights assume it);
    `stability` and `unit` the eigenvalue penalties of `eigenvalue_penalties` on `A`.

    Defaults are the authors' settings for regularly sampled sines (`kl_weight = 0.007`,
    `predictive_weight = 0.005`); for irregular data they use `kl_weight = 0.1`,
    `predictive_weight = 0.0005`.

    **Arguments:**

    - `model`: a `KoVAE`.
    - `batch`: series `(batch, time, state)` (regular) or a pair `(series, mask)` with `mask` of
      shape `(batch, time)`, true where a row was observed (irregular; unobserved rows may be
      NaN).
    - `key`: PRNG key (posterior and prior samples).
    - the weights, `max_modulus` (bound of the stability penalty) and `n_unit` (how many of the
      largest eigenvalue moduli the unit penalty pushes to 1).

    **Returns:** `(loss, {"reconstruction", "kl", "predictive", "stability", "unit"})`.
    """
    where = "kovae_loss"
    if isinstance(batch, tuple | list):
        if len(batch) != 2:
            raise ValueError(
                f"{where}: batch must be series (batch, time, state) or a pair (series, mask), "
                f"got a sequence of length {len(batch)}."
            )
        xs = check_dtype(where, "batch series", batch[0], cast_integers=True)
        mask = jnp.asarray(batch[1]).astype(bool)
    else:
        xs = check_dtype(where, "batch", batch, cast_integers=True)
        mask = None
    if xs.ndim != 3 or xs.shape[2] != model.data_size or xs.shape[1] < 2:
        raise ValueError(
            f"{where}: series must have shape (batch, time >= 2, {model.data_size}), got shape "
            f"{tuple(xs.shape)}."
        )
    if mask is None:
        mask = jnp.ones(xs.shape[:2], bool)
        check_finite(where, "batch", xs)
    elif mask.shape != xs.shape[:2]:
        raise ValueError(
            f"{where}: mask must have shape {tuple(xs.shape[:2])} (batch, time), got shape "
            f"{tuple(mask.shape)}."
        )
    if xs.shape[0] * (xs.shape[1] - 1) < model.latent_size:
        pairs = xs.shape[0] * (xs.shape[1] - 1)
        raise ValueError(
            f"{where}: the Koopman least squares needs at least latent_size = "
            f"{model.latent_size} pairs (batch * (time - 1)), got {pairs}."
        )
    for name, value in (
        ("kl_weight", kl_weight),
        ("predictive_weight", predictive_weight),
        ("stability_weight", stability_weight),
        ("unit_weight", unit_weight),
    ):
        check_positive(where, name, value, allow_zero=True)
    check_positive(where, "max_modulus", max_modulus)
    n_unit = check_int(where, "n_unit", n_unit, minimum=0)
    if n_unit > model.latent_size:
        raise ValueError(
            f"{where}: n_unit must be at most latent_size = {model.latent_size}, "
            f"got n_unit={n_unit}."
        )
    n, length = xs.shape[:2]
    k_post, k_prior = jax.random.split(key)

    def one(x, m, kq, kp):
        mean, log_var = model.encode(x, m)
        z = mean + jnp.exp(0.5 * log_var) * jax.random.normal(kq, mean.shape, mean.dtype)
        err = jnp.where(m[:, None], model.decode(z) - jnp.where(m[:, None], x, 0.0), 0.0)
        p_mean, p_log_var, p_z = model.prior(length, key=kp, dtype=x.dtype)
        kl = jnp.sum(gaussian_kl(mean, log_var, p_mean, p_log_var))
        return jnp.sum(err**2), kl, p_z

    rec, kl, prior_z = jax.vmap(one)(
        xs, mask, jax.random.split(k_post, n), jax.random.split(k_prior, n)
    )
    matrix, predicted = koopman_least_squares(prior_z)
    predictive = jnp.mean((predicted - prior_z[:, 1:]) ** 2)
    if relative_predictive:
        predictive = predictive / jnp.linalg.norm(predicted)
    if stability_weight or unit_weight:
        stability, unit, _ = eigenvalue_penalties(matrix, max_modulus, n_unit)
    else:
        stability = unit = jnp.zeros((), xs.dtype)
    rec, kl = jnp.mean(rec), jnp.mean(kl)
    loss = (
        rec
        + kl_weight * kl
        + predictive_weight * predictive
        + stability_weight * stability
        + unit_weight * unit
    )
    return loss, {
        "reconstruction": rec,
        "kl": kl,
        "predictive": predictive,
        "stability": stability,
        "unit": unit,
    }

"""Scores for generated time series: the TimeGAN discriminative and predictive scores.

Yoon, Jarrett and van der Schaar, "Time-series Generative Adversarial Networks" (NeurIPS 2019),
score a generator with two post-hoc recurrent networks trained after the generator; the
generative papers that followed (GT-GAN, Koopman VAE of Naiman et al., ICLR 2024, ...) report the
same two numbers. The definitions here follow the authors' code, github.com/jsyoon0823/TimeGAN,
`metrics/discriminative_metrics.py` (as of commit 1bd48647e856d6ac974cbb49487f2b4fb017a82e),
`metrics/predictive_metrics.py` (b6ee3c73fb7ceb01bf0c06ba1889ce69e6370836) and `utils.py`
(5399f2a04b2f18a99a32828c379f58ef26a310df):

- discriminative: a one-layer GRU with `int(channels / 2)` units reads a whole sequence; a dense
  layer maps its last state to one logit. Real and generated sets are each split 80/20 at random;
  2000 Adam steps (learning rate 1e-3), each on 128 real and 128 generated training sequences,
  minimise the mean cross-entropy of the real batch (label 1) plus that of the generated batch
  (label 0). The score is `|accuracy - 0.5|` on the pooled held-out sequences (threshold 0.5 on the
  sigmoid): 0 when the two sets cannot be told apart, 0.5 when they always can.
- predictive: a one-layer GRU with `int(channels / 2)` units reads the first `channels - 1`
  channels at steps `0..T-2`; a dense layer and a sigmoid at every step predict the last channel
  one step ahead (steps `1..T-1`). 5000 Adam steps on batches of 128 *generated* sequences
  minimise the mean absolute error; the score is the mean absolute error on all *real* sequences
  ("train on synthetic, test on real").

Where this code differs from the reference, on purpose: the hidden size is at least 1 (the
reference's `int(1 / 2) = 0` would give no network for one channel); every random choice comes
from `key`; and the GRU is equinox's (the reset gate applied after the recurrent matrix, as in the
reference's Keras discriminator cell; the reference's predictor cell applies it before), with the
Keras initialisation (Glorot-uniform input weights, orthogonal recurrent weights, zero biases).
The predictor ends in a sigmoid, as in the reference, so the scores assume data scaled to
`[0, 1]` (TimeGAN min-max normalises every data set, and its sines are `(sin + 1) / 2`): a last
channel outside `[0, 1]` cannot be predicted and inflates the predictive score.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._types import Array, ArrayLike, Float, Key
from .._validation import check_finite, check_in_range, check_int, check_positive, check_shape
from ._util import as_float


def _keras_init(cell: eqx.nn.GRUCell, key) -> eqx.nn.GRUCell:
    """The reference's (Keras) initialisation of a GRU cell."""
    k_in, k_rec = jax.random.split(key)
    dtype = cell.weight_ih.dtype
    w_in = jax.nn.initializers.glorot_uniform()(k_in, cell.weight_ih.shape, dtype)
    w_rec = jax.nn.initializers.orthogonal()(k_rec, cell.weight_hh.shape, dtype)
    return eqx.tree_at(
        lambda c: (c.weight_ih, c.weight_hh, c.bias, c.bias_n),
        cell,
        (w_in, w_rec, jnp.zeros_like(cell.bias), jnp.zeros_like(cell.bias_n)),
    )


def _keras_dense(in_size: int, dtype, key) -> eqx.nn.Linear:
    """A dense layer to one output with Glorot-uniform weights and a zero bias."""
    layer = eqx.nn.Linear(in_size, 1, dtype=dtype, key=key)
    weight = jax.nn.initializers.glorot_uniform()(key, layer.weight.shape, dtype)
    return eqx.tree_at(lambda m: (m.weight, m.bias), layer, (weight, jnp.zeros_like(layer.bias)))


class _PostHocGRU(eqx.Module):
    """GRU over a sequence and a dense read-out: of the last state (`every_step=False`) or of
    every state (`every_step=True`)."""

    cell: eqx.nn.GRUCell
    readout: eqx.nn.Linear
    every_step: bool = eqx.field(static=True)

    def __init__(self, in_size: int, hidden_size: int, every_step: bool, dtype, *, key):
        k_cell, k_init, k_out = jax.random.split(key, 3)
        cell = eqx.nn.GRUCell(in_size, hidden_size, dtype=dtype, key=k_cell)
        self.cell = _keras_init(cell, k_init)
        self.readout = _keras_dense(hidden_size, dtype, k_out)
        self.every_step = every_step

    def __call__(self, xs):
        def step(h, x):
            h = self.cell(x, h)
            return h, h

        h0 = jnp.zeros(self.cell.hidden_size, xs.dtype)
        last, states = jax.lax.scan(step, h0, xs)
        if self.every_step:
            return jax.vmap(self.readout)(states)[:, 0]
        return self.readout(last)[0]


def _check_sets(where: str, real, generated, *, min_channels: int = 1, min_length: int = 1):
    """`(real, generated)` as `(sequences, time, channels)` float arrays of one dtype."""
    real = as_float(real, where, "real")
    generated = as_float(generated, where, "generated")
    meaning = "(sequences, time, channels)"
    check_shape(where, "real", real, ndim=3, meaning=meaning)
    check_shape(where, "generated", generated, ndim=3, meaning=meaning)
    if real.shape[2] != generated.shape[2]:
        raise ValueError(
            f"{where}: real and generated must have the same number of channels, got "
            f"real.shape={tuple(real.shape)} and generated.shape={tuple(generated.shape)}"
        )
    for name, arr in (("real", real), ("generated", generated)):
        if arr.shape[2] < min_channels:
            raise ValueError(
                f"{where}: {name} has {arr.shape[2]} channel(s), need at least {min_channels} "
                f"(got {name}.shape={tuple(arr.shape)})"
            )
        if arr.shape[1] < min_length:
            raise ValueError(
                f"{where}: {name} has {arr.shape[1]} time point(s), need at least {min_length} "
                f"(got {name}.shape={tuple(arr.shape)})"
            )
        check_finite(where, name, arr)
    dtype = np.promote_types(real.dtype, generated.dtype)
    return real.astype(dtype), generated.astype(dtype)


def _hidden(where: str, hidden_size, channels: int) -> int:
    if hidden_size is None:
        return max(1, channels // 2)
    return check_int(where, "hidden_size", hidden_size)


def _draw(key, n: int, batch: int):
    """Indices of `batch` distinct items of `n` (all `n` when `n <= batch`), like the
    reference's `permutation(n)[:batch]`."""
    return jax.random.permutation(key, n)[: min(batch, n)]


def _train(model, loss, n_steps: int, learning_rate: float, key):
    optimiser = optax.adam(learning_rate)
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def step(carry, k):
        params, opt_state = carry
        grads = jax.grad(lambda p: loss(eqx.combine(p, static), k))(params)
        updates, opt_state = optimiser.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), None

    # optax mixes Python floats with its int32 step count, which strict promotion rejects
    with jax.numpy_dtype_promotion("standard"):
        (params, _), _ = jax.lax.scan(
            step, (params, optimiser.init(params)), jax.random.split(key, n_steps)
        )
    return eqx.combine(params, static)


@eqx.filter_jit
def _discriminative(real, generated, key, hidden_size, iterations, batch_size, learning_rate, frac):
    k_split_r, k_split_g, k_init, k_train = jax.random.split(key, 4)
    n_r, n_g = real.shape[0], generated.shape[0]
    cut_r, cut_g = int(n_r * frac), int(n_g * frac)
    real = real[jax.random.permutation(k_split_r, n_r)]
    generated = generated[jax.random.permutation(k_split_g, n_g)]
    train_r, test_r = real[:cut_r], real[cut_r:]
    train_g, test_g = generated[:cut_g], generated[cut_g:]
    model = _PostHocGRU(real.shape[2], hidden_size, False, real.dtype, key=k_init)

    def loss(m, k):
        k_r, k_g = jax.random.split(k)
        logit_r = jax.vmap(m)(train_r[_draw(k_r, cut_r, batch_size)])
        logit_g = jax.vmap(m)(train_g[_draw(k_g, cut_g, batch_size)])
        return jnp.mean(optax.sigmoid_binary_cross_entropy(logit_r, jnp.ones_like(logit_r))) + (
            jnp.mean(optax.sigmoid_binary_cross_entropy(logit_g, jnp.zeros_like(logit_g)))
        )

    model = _train(model, loss, iterations, learning_rate, k_train)
    # sigmoid(logit) > 0.5 exactly when logit > 0
    correct = jnp.concatenate([jax.vmap(model)(test_r) > 0, jax.vmap(model)(test_g) <= 0])
    accuracy = jnp.mean(correct.astype(real.dtype))
    return jnp.abs(accuracy - 0.5)


def discriminative_score(
    real: Float[ArrayLike, "sequences time channels"],
    generated: Float[ArrayLike, "sequences2 time channels"],
    *,
    key: Key,
    iterations: int = 2000,
    batch_size: int = 128,
    hidden_size: int | None = None,
    learning_rate: float = 1e-3,
    train_fraction: float = 0.8,
) -> Float[Array, ""]:
    """TimeGAN's discriminative score: `|accuracy - 0.5|` of a post-hoc GRU classifier of real
    against generated sequences, on held-out sequences (lower is better; 0 is indistinguishable).

    As in github.com/jsyoon0823/TimeGAN, `metrics/discriminative_metrics.py`: each set is split
    `train_fraction` / rest at random; a one-layer GRU (`hidden_size` units, default
    `max(1, channels // 2)`) with a dense read-out of its last state is trained for `iterations`
    Adam steps on `batch_size` real plus `batch_size` generated training sequences per step
    (all of them when a set has fewer); the accuracy is that of the pooled test sequences. The
    score is itself random (the split, the initialisation, the batches): repeat it over keys and
    report the spread.

    **Arguments:**

    - `real`: real sequences, shape `(sequences, time, channels)`.
    - `generated`: generated sequences, same `time` and `channels`; the number may differ.
    - `key`: PRNG key for the split, the initialisation and the batches.
    - `iterations`: Adam steps (the reference's 2000).
    - `batch_size`: sequences drawn from each set per step (128).
    - `hidden_size`: GRU units (default `max(1, channels // 2)`).
    - `learning_rate`: Adam's step size (TensorFlow's default 1e-3).
    - `train_fraction`: the training share of each set (0.8).

    **Returns:** a scalar in `[0, 0.5]`.

    **Raises:** `ValueError` for arrays that are not 3-D, sets with different channel counts or
    lengths, NaN or inf values, or a split that leaves a set's training or test part empty.
    """
    where = "discriminative_score"
    real, generated = _check_sets(where, real, generated)
    if real.shape[1] != generated.shape[1]:
        raise ValueError(
            f"{where}: real and generated must have the same length (time axis), got "
            f"real.shape={tuple(real.shape)} and generated.shape={tuple(generated.shape)}"
        )
    iterations = check_int(where, "iterations", iterations)
    batch_size = check_int(where, "batch_size", batch_size)
    hidden_size = _hidden(where, hidden_size, real.shape[2])
    check_positive(where, "learning_rate", learning_rate)
    check_in_range(where, "train_fraction", train_fraction, 0.0, 1.0, open_low=True)
    for name, arr in (("real", real), ("generated", generated)):
        cut = int(arr.shape[0] * train_fraction)
        if cut == 0 or cut == arr.shape[0]:
            raise ValueError(
                f"{where}: train_fraction={train_fraction} splits the {arr.shape[0]} {name} "
                f"sequences into {cut} for training and {arr.shape[0] - cut} for testing; both "
                "must be non-empty (pass more sequences or another train_fraction)"
            )
    return _discriminative(
        real,
        generated,
        key,
        hidden_size,
        iterations,
        batch_size,
        float(learning_rate),
        float(train_fraction),
    )


def _split_last_channel(data):
    """Inputs (all channels but the last, steps 0..T-2) and targets (last channel, 1..T-1)."""
    return data[:, :-1, :-1], data[:, 1:, -1]


@eqx.filter_jit
def _predictive(real, generated, key, hidden_size, iterations, batch_size, learning_rate):
    k_init, k_train = jax.random.split(key)
    x_g, y_g = _split_last_channel(generated)
    x_r, y_r = _split_last_channel(real)
    model = _PostHocGRU(x_g.shape[2], hidden_size, True, real.dtype, key=k_init)

    def predict(m, x):
        return jax.nn.sigmoid(jax.vmap(m)(x))

    def loss(m, k):
        idx = _draw(k, x_g.shape[0], batch_size)
        return jnp.mean(jnp.abs(predict(m, x_g[idx]) - y_g[idx]))

    model = _train(model, loss, iterations, learning_rate, k_train)
    return jnp.mean(jnp.abs(predict(model, x_r) - y_r))


def predictive_score(
    real: Float[ArrayLike, "sequences time channels"],
    generated: Float[ArrayLike, "sequences2 time2 channels"],
    *,
    key: Key,
    iterations: int = 5000,
    batch_size: int = 128,
    hidden_size: int | None = None,
    learning_rate: float = 1e-3,
) -> Float[Array, ""]:
    """TimeGAN's predictive score ("train on synthetic, test on real"): the mean absolute error on
    real sequences of a post-hoc GRU trained on generated ones to predict the last channel one
    step ahead from the other channels (lower is better).

    As in github.com/jsyoon0823/TimeGAN, `metrics/predictive_metrics.py`: the input at step `t`
    is channels `0..C-2` at `t`, the target is channel `C-1` at `t + 1`, for `t = 0..T-2`; a
    one-layer GRU (`hidden_size` units, default `max(1, channels // 2)`) with a dense layer and a
    sigmoid at every step is trained for `iterations` Adam steps on `batch_size` generated
    sequences per step, minimising the mean absolute error; the score is the mean absolute error
    over all real sequences and steps. The sigmoid output assumes data in `[0, 1]` (min-max
    scale the data as TimeGAN does). The score of a predictor trained on real data (pass a
    second real sample as `generated`) is the reference to compare with.

    **Arguments:**

    - `real`: real sequences, shape `(sequences, time, channels)`, `channels >= 2`, `time >= 2`.
    - `generated`: generated sequences with the same `channels` (any number and length >= 2).
    - `key`: PRNG key for the initialisation and the batches.
    - `iterations`: Adam steps (the reference's 5000).
    - `batch_size`: generated sequences per step (128; all of them when there are fewer).
    - `hidden_size`: GRU units (default `max(1, channels // 2)`).
    - `learning_rate`: Adam's step size (TensorFlow's default 1e-3).

    **Returns:** a non-negative scalar.

    **Raises:** `ValueError` for arrays that are not 3-D, different channel counts, fewer than 2
    channels or time points, or NaN or inf values.
    """
    where = "predictive_score"
    real, generated = _check_sets(where, real, generated, min_channels=2, min_length=2)
    iterations = check_int(where, "iterations", iterations)
    batch_size = check_int(where, "batch_size", batch_size)
    hidden_size = _hidden(where, hidden_size, real.shape[2])
    check_positive(where, "learning_rate", learning_rate)
    return _predictive(
        real, generated, key, hidden_size, iterations, batch_size, float(learning_rate)
    )


def timegan_sines(
    key: Key, n: int, length: int = 24, channels: int = 5
) -> Float[Array, "n length channels"]:
    """TimeGAN's sine data set (`sine_data_generation` of the TimeGAN code), the benchmark the
    generative papers score with these two scores.

    Series `x[i, t, c] = (sin(f t + p) + 1) / 2`, `t = 0..length-1`, with a frequency `f` and a
    phase `p` drawn uniformly on `[0, 0.1]` for every series and channel; values lie in `[0, 1]`.

    **Arguments:**

    - `key`: PRNG key.
    - `n`: number of series.
    - `length`: steps per series (TimeGAN's 24).
    - `channels`: channels per series (TimeGAN's 5).

    **Returns:** float32 array of shape `(n, length, channels)`.
    """
    n = check_int("timegan_sines", "n", n)
    length = check_int("timegan_sines", "length", length)
    channels = check_int("timegan_sines", "channels", channels)
    k_f, k_p = jax.random.split(key)
    freq = jax.random.uniform(k_f, (n, 1, channels), maxval=0.1)
    phase = jax.random.uniform(k_p, (n, 1, channels), maxval=0.1)
    t = jnp.arange(length, dtype=jnp.float32)[None, :, None]
    return (jnp.sin(freq * t + phase) + 1) / 2

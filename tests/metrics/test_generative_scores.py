"""TimeGAN's discriminative and predictive scores: the post-hoc GRU against the GRU equations in a
plain loop, the scores on cases whose answer is known (two samples of one generator, sines
against noise, a generator with the wrong temporal structure), determinism, bad input.

Each score compiles once per shape and setting (tens of seconds on a loaded 2-core machine), so
the tests reuse one shape and setting per score."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn import metrics
from dynlearn.metrics._generative import _draw, _PostHocGRU

# the undecorated functions, so that dynlearn's own messages are checked (see
# test_metrics_bad_input.py)
discriminative_score = metrics.discriminative_score.__wrapped__
predictive_score = metrics.predictive_score.__wrapped__


timegan_sines = metrics.timegan_sines


def test_timegan_sines_against_a_plain_loop():
    key = jax.random.key(3)
    data = np.asarray(timegan_sines(key, 4, length=7, channels=3))
    assert data.shape == (4, 7, 3) and data.min() >= 0.0 and data.max() <= 1.0
    k_f, k_p = jax.random.split(key)
    freq = np.asarray(jax.random.uniform(k_f, (4, 1, 3), maxval=0.1))
    phase = np.asarray(jax.random.uniform(k_p, (4, 1, 3), maxval=0.1))
    assert freq.min() >= 0.0 and freq.max() <= 0.1 and phase.max() <= 0.1
    for i in range(4):
        for t in range(7):
            for c in range(3):
                expected = (np.sin(freq[i, 0, c] * t + phase[i, 0, c]) + 1) / 2
                np.testing.assert_allclose(data[i, t, c], expected, rtol=1e-6, atol=1e-6)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_post_hoc_gru_matches_plain_loop(getkey):
    """The network's read-outs equal the GRU equations (reset gate after the recurrent matrix,
    h' = (1 - z) n + z h) run step by step in numpy."""
    xs = jax.random.normal(getkey(), (7, 3))
    for every_step in (False, True):
        model = _PostHocGRU(3, 2, every_step, jnp.float32, key=getkey())
        w_i = np.asarray(model.cell.weight_ih, np.float64)
        w_h = np.asarray(model.cell.weight_hh, np.float64)
        b = np.asarray(model.cell.bias, np.float64)
        b_n = np.asarray(model.cell.bias_n, np.float64)
        w_o = np.asarray(model.readout.weight, np.float64)
        b_o = np.asarray(model.readout.bias, np.float64)
        h = np.zeros(2)
        outs = []
        for x in np.asarray(xs, np.float64):
            gi = w_i @ x + b
            gh = w_h @ h
            r = _sigmoid(gi[0:2] + gh[0:2])
            z = _sigmoid(gi[2:4] + gh[2:4])
            n = np.tanh(gi[4:6] + r * (gh[4:6] + b_n))
            h = (1 - z) * n + z * h
            outs.append((w_o @ h + b_o)[0])
        expected = np.array(outs) if every_step else outs[-1]
        np.testing.assert_allclose(model(xs), expected, rtol=1e-5, atol=1e-6)


def test_keras_initialisation(getkey):
    """Zero biases and orthonormal columns of the recurrent matrix, as Keras initialises."""
    model = _PostHocGRU(5, 3, False, jnp.float32, key=getkey())
    assert float(jnp.max(jnp.abs(model.cell.bias))) == 0.0
    assert float(jnp.max(jnp.abs(model.cell.bias_n))) == 0.0
    assert float(jnp.max(jnp.abs(model.readout.bias))) == 0.0
    w = np.asarray(model.cell.weight_hh)
    np.testing.assert_allclose(w.T @ w, np.eye(3), atol=1e-5)


def test_batches_are_distinct_sequences(getkey):
    """A batch is `batch` distinct sequences, or the whole set when it has fewer (the reference's
    `permutation(n)[:batch]`)."""
    idx = np.asarray(_draw(getkey(), 300, 128))
    assert idx.shape == (128,) and len(set(idx.tolist())) == 128 and idx.max() < 300
    assert sorted(np.asarray(_draw(getkey(), 5, 128)).tolist()) == [0, 1, 2, 3, 4]


def test_discriminative_score_same_and_different_distributions():
    real = timegan_sines(jax.random.key(1), 400)
    same = timegan_sines(jax.random.key(2), 400)
    noise = jax.random.uniform(jax.random.key(3), real.shape)
    key = jax.random.key(0)
    same_score = float(discriminative_score(real, same, key=key, iterations=300))
    noise_score = float(discriminative_score(real, noise, key=key, iterations=300))
    assert 0.0 <= same_score < 0.1
    assert 0.4 < noise_score <= 0.5
    # deterministic given the key (split, initialisation, batches)
    again = float(discriminative_score(real, same, key=key, iterations=300))
    assert again == same_score


def test_predictive_score_reference_and_trivial_generator():
    """Trained on a second real sample the score is that of a predictor trained and tested on
    the real data; a generator without the real temporal structure (i.i.d. Gaussians with the
    real mean and standard deviation per channel) scores clearly worse."""
    real = timegan_sines(jax.random.key(1), 256)
    other = timegan_sines(jax.random.key(2), 256)
    mean = real.mean(axis=(0, 1), keepdims=True)
    std = real.std(axis=(0, 1), keepdims=True)
    trivial = mean + std * jax.random.normal(jax.random.key(4), real.shape)
    kwargs = dict(key=jax.random.key(0), iterations=400, learning_rate=1e-2)
    on_real = float(predictive_score(real, real, **kwargs))
    on_other = float(predictive_score(real, other, **kwargs))
    on_trivial = float(predictive_score(real, trivial, **kwargs))
    assert on_other == pytest.approx(on_real, rel=0.15)
    assert on_trivial > 1.2 * max(on_real, on_other)
    # deterministic given the key (initialisation, batches)
    assert float(predictive_score(real, other, **kwargs)) == on_other


X = jnp.full((10, 6, 3), 0.5)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: discriminative_score(X[0], X, key=jax.random.key(0)), "real must have 3"),
        (lambda: discriminative_score(X, X[..., :2], key=jax.random.key(0)), "same number of ch"),
        (lambda: discriminative_score(X, X[:, :4], key=jax.random.key(0)), "same length"),
        (
            lambda: discriminative_score(X, X.at[2, 3, 1].set(jnp.nan), key=jax.random.key(0)),
            "generated contains 1 NaN",
        ),
        (lambda: discriminative_score(X[:1], X, key=jax.random.key(0)), "splits the 1 real"),
        (
            lambda: discriminative_score(X, X, key=jax.random.key(0), train_fraction=1.5),
            "train_fraction must lie in",
        ),
        (
            lambda: discriminative_score(X, X, key=jax.random.key(0), iterations=0),
            "iterations must be a positive int",
        ),
        (lambda: predictive_score(X[..., :1], X[..., :1], key=jax.random.key(0)), "1 channel"),
        (lambda: predictive_score(X[:, :1], X, key=jax.random.key(0)), "1 time point"),
        (
            lambda: predictive_score(X.at[0, 0, 0].set(jnp.inf), X, key=jax.random.key(0)),
            "real contains 1 NaN or inf",
        ),
        (
            lambda: predictive_score(X, X, key=jax.random.key(0), hidden_size=0),
            "hidden_size must be a positive int",
        ),
    ],
)
def test_bad_input_names_the_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()

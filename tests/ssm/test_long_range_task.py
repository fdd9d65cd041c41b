"""The generated long-range classification task and its Bayes-optimal classifier."""

import numpy as np
import pytest

from dynlearn.ssm import long_range_bayes, long_range_patterns, long_range_task


def test_noiseless_sequences_hold_exactly_one_template_in_the_early_window():
    n, L, P, C = 200, 300, 8, 5
    xs, ys = long_range_task(n, L, num_classes=C, pattern_length=P, noise=0.0, seed=3)
    assert xs.shape == (n, L, 1) and xs.dtype == np.float32
    assert ys.shape == (n,) and set(np.unique(ys)) <= set(range(C))
    templates = long_range_patterns(C, P)
    last_start = 16 - 1
    for x, y in zip(xs[..., 0], ys, strict=True):  # plain loop: find the template by hand
        nonzero = np.flatnonzero(x)
        start = nonzero[0]
        assert 0 <= start <= last_start
        np.testing.assert_array_equal(nonzero, np.arange(start, start + P))
        np.testing.assert_array_equal(x[start : start + P], templates[y])


def test_noise_level_labels_balance_and_splits():
    xs, ys = long_range_task(4000, 100, noise=0.5, seed=1)
    resid = xs[:, 24:, 0]  # past the starts (16) and the pattern (8): noise only
    assert abs(resid.mean()) < 0.01 and abs(resid.std() - 0.5) < 0.01
    counts = np.bincount(ys, minlength=4) / len(ys)
    assert np.all(np.abs(counts - 0.25) < 0.03)
    other, _ = long_range_task(4000, 100, noise=0.5, seed=2)
    assert not np.allclose(xs, other)  # another seed: another split
    again, _ = long_range_task(4000, 100, noise=0.5, seed=1)
    np.testing.assert_array_equal(xs, again)


def test_bayes_matches_a_plain_loop_likelihood_and_is_perfect_without_noise():
    L, P, C, noise = 120, 6, 3, 0.8
    xs, ys = long_range_task(30, L, num_classes=C, pattern_length=P, noise=noise, seed=5)
    got = long_range_bayes(xs, num_classes=C, pattern_length=P, noise=noise)
    templates = long_range_patterns(C, P)
    last_start = 16 - 1
    for i, x in enumerate(xs[..., 0]):
        # the Gaussian likelihood of each class, averaged over the allowed starts
        like = np.zeros(C)
        for k in range(C):
            for s in range(last_start + 1):
                mean = np.zeros(L)
                mean[s : s + P] = templates[k]
                like[k] += np.exp(-np.sum((x - mean) ** 2) / (2 * noise**2))
        ref = np.log(like)
        np.testing.assert_allclose(got[i] - got[i].max(), ref - ref.max(), atol=1e-8)
    clean, labels = long_range_task(100, 500, noise=0.0, seed=0)
    post = long_range_bayes(clean + 1e-3 * np.random.default_rng(0).standard_normal(clean.shape))
    assert np.mean(np.argmax(post, 1) == labels) == 1.0


def test_bayes_accuracy_does_not_depend_on_length():
    accs = []
    for L in (64, 1024):
        xs, ys = long_range_task(4000, L, seed=7)
        accs.append(np.mean(np.argmax(long_range_bayes(xs), 1) == ys))
    assert abs(accs[0] - accs[1]) < 0.02 and accs[0] > 0.97  # only the memory needed grows


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"length": 20}, "length must be >= starts"),
        ({"starts": 0}, "starts"),
        ({"noise": -1.0}, "noise"),
        ({"num_samples": 0}, "num_samples"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    args = {"num_samples": 4, "length": 64, **kwargs}
    with pytest.raises(ValueError, match=match):
        long_range_task(args.pop("num_samples"), args.pop("length"), **args)

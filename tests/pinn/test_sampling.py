"""`space_time_points`: the fresh tensor-grid batches used for causal training."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from dynlearn import pinn


def test_layout_bounds_and_one_time_per_chunk():
    pts = pinn.space_time_points(8, 5, [-1.0, 0.0], [1.0, 2.0], (0.5, 1.5), key=jax.random.key(3))
    assert pts.shape == (40, 3)
    pts = np.asarray(pts)
    edges = np.linspace(0.5, 1.5, 9)
    for k in range(8):  # plain loop over the rows of each time
        rows = pts[5 * k : 5 * (k + 1)]
        assert np.all(rows[:, 2] == rows[0, 2])  # one time per block of rows
        assert edges[k] <= rows[0, 2] < edges[k + 1]  # ... inside its own chunk
        np.testing.assert_array_equal(rows[:, :2], pts[:5, :2])  # the same spatial points
    assert np.all((pts[:, 0] >= -1) & (pts[:, 0] <= 1) & (pts[:, 1] >= 0) & (pts[:, 1] <= 2))


def test_every_causal_chunk_gets_the_same_number_of_points():
    cw = pinn.CausalWeights(n_chunks=16, eps=1.0, t_range=(0.0, 2.0))
    for seed in range(5):
        pts = pinn.space_time_points(16, 7, [0.0], [1.0], (0.0, 2.0), key=jax.random.key(seed))
        counts = np.bincount(np.floor(np.asarray(pts[:, 1]) / 2.0 * 16).astype(int), minlength=16)
        np.testing.assert_array_equal(counts, np.full(16, 7))
        # CausalWeights' own chunk means see each chunk's points: the mean of the chunk index
        sq = jnp.repeat(jnp.arange(16.0), 7)
        np.testing.assert_allclose(cw.chunk_losses(sq, pts), np.arange(16.0))


def test_uniform_in_time_and_space():
    # stratified times are uniform over the range; spatial points uniform over the box
    keys = jax.random.split(jax.random.key(0), 200)
    draws = [pinn.space_time_points(10, 4, [-1.0], [1.0], (0.0, 3.0), key=k) for k in keys]
    times = np.concatenate([np.asarray(d[::4, 1]) for d in draws])
    space = np.concatenate([np.asarray(d[:4, 0]) for d in draws])
    assert stats.kstest(times, stats.uniform(0.0, 3.0).cdf).pvalue > 1e-3
    assert stats.kstest(space, stats.uniform(-1.0, 2.0).cdf).pvalue > 1e-3


def test_unstratified_times_are_sorted_iid_uniform():
    keys = jax.random.split(jax.random.key(1), 200)
    draws = [
        pinn.space_time_points(6, 2, [0.0], [1.0], (1.0, 2.0), key=k, stratified=False)
        for k in keys
    ]
    for d in draws[:10]:
        t = np.asarray(d[::2, 1])
        assert np.all(np.diff(t) >= 0)
    times = np.concatenate([np.asarray(d[::2, 1]) for d in draws])
    assert stats.kstest(times, stats.uniform(1.0, 1.0).cdf).pvalue > 1e-3
    # the minimum of 6 i.i.d. uniforms has mean 1/7 of the range: not stratified
    first = np.array([float(d[0, 1]) for d in draws]) - 1.0
    assert abs(first.mean() - 1 / 7) < 0.03


def test_same_points_under_jit():
    def draw(k):
        return pinn.space_time_points(4, 3, [0.0, -2.0], [1.0, 2.0], (0.0, 1.0), key=k)

    key = jax.random.key(7)
    np.testing.assert_allclose(jax.jit(draw)(key), draw(key), rtol=1e-6)


def test_bad_box():
    with pytest.raises(ValueError, match="upper >= lower"):
        pinn.space_time_points(2, 2, [1.0], [0.0], (0.0, 1.0), key=jax.random.key(0))
    with pytest.raises(ValueError, match="equal length"):
        pinn.space_time_points(2, 2, [0.0, 0.0], [1.0], (0.0, 1.0), key=jax.random.key(0))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"t_range": (1.0, 1.0)}, ValueError, "increasing"),
        ({"t_range": (0.0, float("nan"))}, ValueError, "finite"),
        ({"t_range": 1.0}, TypeError, "t_range"),
        ({"n_times": 0}, ValueError, "n_times"),
        ({"key": None}, TypeError, "key"),
    ],
)
def test_bad_input(kwargs, error, match):
    args = {"n_times": 4, "n_space": 3, "t_range": (0.0, 1.0), "key": jax.random.key(0)}
    args.update(kwargs)
    n_times, n_space, t_range, key = (args[k] for k in ("n_times", "n_space", "t_range", "key"))
    with pytest.raises(error, match=match):
        pinn.space_time_points(n_times, n_space, [0.0], [1.0], t_range, key=key)

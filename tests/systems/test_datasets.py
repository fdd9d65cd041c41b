"""Datasets: split sizes, no leakage between splits, noise, standardization, npz round trip."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynlearn.systems as systems


@pytest.fixture(scope="module")
def lorenz_data():
    lorenz = systems.get("Lorenz")
    return systems.make_dataset(
        lorenz,
        key=jax.random.key(0),
        n_trajectories=2,
        n_points=1000,
        window=50,
        stride=25,
        dt=0.01,
        noise=0.0,
        burn_in=500,
    )


def test_shapes_and_standardization(lorenz_data):
    data = lorenz_data
    # train: 700 points -> (700 - 50) / 25 + 1 = 27 windows per trajectory; val/test: 150 -> 5
    assert data.train.shape == (54, 50, 3)
    assert data.val.shape == (10, 50, 3) and data.test.shape == (10, 50, 3)
    flat = data.train.reshape(-1, 3)
    np.testing.assert_allclose(np.asarray(jnp.mean(flat, axis=0)), 0.0, atol=1e-4)
    np.testing.assert_allclose(np.asarray(jnp.std(flat, axis=0)), 1.0, atol=1e-4)
    assert data.system == "Lorenz" and data.dt == 0.01 and data.standardized
    # overlapping windows (stride 25) agree on their shared half
    np.testing.assert_allclose(np.asarray(data.train[0, 25:]), np.asarray(data.train[1, :25]))
    # unstandardized windows are Lorenz states: check dx/dt = sigma (y - x) by differences
    phys = data.unstandardize(data.train[0])
    dxdt = (phys[2:, 0] - phys[:-2, 0]) / 0.02
    np.testing.assert_allclose(
        np.asarray(dxdt), np.asarray(10 * (phys[1:-1, 1] - phys[1:-1, 0])), rtol=0.05, atol=0.5
    )
    np.testing.assert_allclose(
        np.asarray(data.standardize(phys)), np.asarray(data.train[0]), atol=1e-5
    )


def test_splits_do_not_overlap(lorenz_data):
    data = lorenz_data

    def points(split):
        return {tuple(row) for row in np.round(np.asarray(split).reshape(-1, 3), 5).tolist()}

    train = points(data.train)
    assert not train & points(data.val)
    assert not train & points(data.test)
    assert not points(data.val) & points(data.test)


def test_noise_level(getkey):
    henon = systems.get("Henon")
    with pytest.raises(ValueError, match="fewer than window"):
        systems.make_dataset(henon, key=getkey(), n_points=2000, window=2000)
    key = getkey()
    kwargs = dict(key=key, n_points=3000, window=200, standardize=False)
    clean = systems.make_dataset(henon, **kwargs)
    noisy = systems.make_dataset(henon, noise=0.1, **kwargs)
    residual = (noisy.train - clean.train).reshape(-1, 2)
    scale = jnp.std(clean.train.reshape(-1, 2), axis=0)
    ratio = np.asarray(jnp.std(residual, axis=0) / scale)
    np.testing.assert_allclose(ratio, 0.1, rtol=0.15)
    assert not noisy.standardized and bool(jnp.all(noisy.std == 1))
    assert noisy.train.shape == (10, 200, 2) and noisy.dt == 1.0


def test_bad_split_raises(getkey):
    with pytest.raises(ValueError, match="split"):
        systems.make_dataset(systems.get("Henon"), key=getkey(), split=(0.5, 0.5, 0.5))


def test_npz_round_trip(lorenz_data, tmp_path):
    path = tmp_path / "lorenz.npz"
    systems.save_dataset(path, lorenz_data)
    with np.load(path, allow_pickle=False) as raw:  # plain arrays, no pickled objects
        assert set(raw.files) >= {"train", "val", "test", "mean", "std", "system"}
    loaded = systems.load_dataset(path)
    for name in ("train", "val", "test", "mean", "std"):
        np.testing.assert_array_equal(
            np.asarray(getattr(loaded, name)), np.asarray(getattr(lorenz_data, name))
        )
    assert (loaded.dt, loaded.system, loaded.noise, loaded.standardized) == (
        0.01,
        "Lorenz",
        0.0,
        True,
    )

"""Forecasting datasets from zoo systems: train/validation/test windows, noise, standardization.

Each trajectory is split along time into contiguous train, validation and test segments (so no
window of one split overlaps another), and each segment is cut into windows of `window` points
every `stride` points. Observation noise is Gaussian with standard deviation `noise` times the
per-coordinate standard deviation of the clean data. Standardization uses the mean and standard
deviation of the (noisy) training windows only. Datasets are saved to `.npz` files that load
without pickle.
"""

from __future__ import annotations

import os
import zipfile

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._validation import check_int, check_positive
from ._base import AbstractSystem
from ._integrate import trajectories


class Dataset(eqx.Module):
    """Windows of a system's trajectories, split into train, validation and test sets.

    **Attributes:**

    - `train`, `val`, `test`: arrays of shape `(windows, window, dimension)`, standardized
      when `standardized` is True.
    - `mean`, `std`: per-coordinate statistics of the training windows (zeros and ones when
      not standardized); `unstandardize` maps model outputs back to physical units.
    - `dt`: sampling step; `system`: name of the system; `noise`: relative noise level;
      `standardized`: whether the windows are standardized.
    """

    train: Float[Array, "train_windows window state"]
    val: Float[Array, "val_windows window state"]
    test: Float[Array, "test_windows window state"]
    mean: Float[Array, " state"]
    std: Float[Array, " state"]
    dt: float = eqx.field(static=True)
    system: str = eqx.field(static=True)
    noise: float = eqx.field(static=True)
    standardized: bool = eqx.field(static=True)

    def unstandardize(self, x: Float[Array, "... state"]) -> Float[Array, "... state"]:
        """Map standardized values back to the system's units: `x * std + mean`.

        **Arguments:**

        - `x`: array whose last axis is the state.

        **Returns:** the array in physical units.
        """
        return x * _along_last(self.std, x) + _along_last(self.mean, x)

    def standardize(self, x: Float[Array, "... state"]) -> Float[Array, "... state"]:
        """Apply this dataset's standardization: `(x - mean) / std`.

        **Arguments:**

        - `x`: array in physical units, last axis the state.

        **Returns:** the standardized array.
        """
        return (x - _along_last(self.mean, x)) / _along_last(self.std, x)


def _along_last(v: Array, x: Array) -> Array:
    """Reshape a per-coordinate vector to broadcast against `x` (no implicit rank promotion)."""
    return v.astype(x.dtype).reshape((1,) * (x.ndim - 1) + v.shape)


def _windows(segment: Array, window: int, stride: int) -> Array:
    """Cut `(time, state)` into `(n, window, state)` windows every `stride` points."""
    starts = np.arange(0, segment.shape[0] - window + 1, stride)
    index = starts[:, None] + np.arange(window)[None, :]
    return segment[index]


def make_dataset(
    system: AbstractSystem,
    *,
    key: PRNGKeyArray,
    n_trajectories: int = 1,
    n_points: int = 10_000,
    window: int = 100,
    stride: int | None = None,
    split: tuple[float, float, float] = (0.7, 0.15, 0.15),
    noise: float = 0.0,
    standardize: bool = True,
    dt: float | None = None,
    transient: int = 0,
    **trajectory_kwargs,
) -> Dataset:
    """Generate a windowed forecasting dataset from random starts on the attractor.

    **Arguments:**

    - `system`: the system (from `get` or a classic constructor).
    - `key`: PRNG key for the initial conditions and the noise (keyword-only).
    - `n_trajectories`: independent trajectories (drawn with `trajectories`).
    - `n_points`: points per trajectory.
    - `window`: points per window.
    - `stride`: step between window starts (default `window`: non-overlapping).
    - `split`: fractions of each trajectory's time axis for train, validation and test.
    - `noise`: observation noise, relative to the per-coordinate standard deviation.
    - `standardize`: standardize with the training windows' mean and standard deviation.
    - `dt`: sampling step (default `system.dt`; e.g. `system.period / 100`).
    - `transient`: points integrated and dropped at the start of each trajectory.
    - `trajectory_kwargs`: passed to `trajectories` (`rtol`, `atol`, `solver`, ...).

    **Returns:** a `Dataset`.

    **Raises:** `ValueError` if the split fractions are invalid or a segment is shorter than
    one window.
    """
    stride = window if stride is None else stride
    check_int("make_dataset", "window", window, minimum=1)
    check_int("make_dataset", "stride", stride, minimum=1)
    check_int("make_dataset", "n_trajectories", n_trajectories, minimum=1)
    check_int("make_dataset", "n_points", n_points, minimum=1)
    check_positive("make_dataset", "noise", noise, allow_zero=True)
    if dt is not None:
        check_positive("make_dataset", "dt", dt)
    split = tuple(float(f) for f in split)
    if len(split) != 3 or min(split) < 0 or abs(sum(split) - 1) > 1e-9:
        raise ValueError(f"split must be three non-negative fractions summing to 1, got {split}")
    bounds = np.round(np.cumsum((0.0,) + split) * n_points).astype(int)
    lengths = np.diff(bounds)
    for name, length in zip(("train", "val", "test"), lengths):
        if length < window:
            raise ValueError(
                f"the {name} segment has {length} points, fewer than window={window}; "
                "increase n_points or change split"
            )
    key_traj, key_noise = jax.random.split(key)
    dt = system.dt if dt is None else dt
    clean = trajectories(
        system,
        n_trajectories,
        n_points,
        key=key_traj,
        dt=dt,
        transient=transient,
        **trajectory_kwargs,
    )
    scale = jnp.std(clean.reshape(-1, system.dimension), axis=0)
    noise_draw = jax.random.normal(key_noise, clean.shape, clean.dtype)
    observed = clean + noise * _along_last(scale, clean) * noise_draw
    parts = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        parts.append(jnp.concatenate([_windows(traj[lo:hi], window, stride) for traj in observed]))
    train, val, test = parts
    if standardize:
        flat = train.reshape(-1, system.dimension)
        mean = jnp.mean(flat, axis=0)
        std = jnp.std(flat, axis=0)
        std = jnp.where(std > 0, std, jnp.ones_like(std))
        train, val, test = ((x - _along_last(mean, x)) / _along_last(std, x) for x in parts)
    else:
        mean = jnp.zeros(system.dimension, clean.dtype)
        std = jnp.ones(system.dimension, clean.dtype)
    return Dataset(
        train=train,
        val=val,
        test=test,
        mean=mean,
        std=std,
        dt=float(dt),
        system=system.name,
        noise=float(noise),
        standardized=bool(standardize),
    )


def save_dataset(path: str | os.PathLike, dataset: Dataset) -> None:
    """Write a dataset to an `.npz` file (plain arrays only; loads without pickle).

    **Arguments:**

    - `path`: file path (`.npz` is appended by numpy if missing).
    - `dataset`: the dataset.
    """
    np.savez(
        path,
        train=np.asarray(dataset.train),
        val=np.asarray(dataset.val),
        test=np.asarray(dataset.test),
        mean=np.asarray(dataset.mean),
        std=np.asarray(dataset.std),
        dt=np.asarray(dataset.dt),
        system=np.asarray(dataset.system),
        noise=np.asarray(dataset.noise),
        standardized=np.asarray(dataset.standardized),
    )


def load_dataset(path: str | os.PathLike) -> Dataset:
    """Read a dataset written by `save_dataset` (with `allow_pickle=False`).

    **Arguments:**

    - `path`: the `.npz` file.

    **Returns:** the `Dataset`, arrays as JAX arrays.

    **Raises:** `FileNotFoundError` for a missing file; `ValueError` naming the path for a file
    that is not an `.npz` written by `save_dataset` (not a zip archive, a missing field, an
    object array that would need pickle).
    """
    fields = ("train", "val", "test", "mean", "std", "dt", "system", "noise", "standardized")
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise ValueError("it holds a single array, not an .npz archive")
            missing = [f for f in fields if f not in data.files]
            if missing:
                raise ValueError(f"it lacks the field(s) {missing}")
            return Dataset(
                train=jnp.asarray(data["train"]),
                val=jnp.asarray(data["val"]),
                test=jnp.asarray(data["test"]),
                mean=jnp.asarray(data["mean"]),
                std=jnp.asarray(data["std"]),
                dt=float(data["dt"]),
                system=str(data["system"]),
                noise=float(data["noise"]),
                standardized=bool(data["standardized"]),
            )
    except FileNotFoundError:
        raise FileNotFoundError(f"load_dataset: no file at path={str(path)!r}") from None
    except (ValueError, OSError, EOFError, KeyError, TypeError, zipfile.BadZipFile) as err:
        # np.load says e.g. "File is not a zip file" or "Cannot load file containing pickled
        # data" without naming the file.
        raise ValueError(
            f"load_dataset: path={str(path)!r} is not a dataset written by save_dataset: {err}"
        ) from None

"""A generated long-range sequence-classification task: remember a pattern seen early.

Each sequence is white noise of length `L` into which one of `num_classes` fixed random sign
patterns (the class templates) is added, starting at one of its first `starts` steps; the label
is the class of that pattern. A model that reads its answer at the last step must carry the
pattern's identity across at least `L - starts - pattern_length` steps of noise, so the task
measures memory length the way the long-range benchmarks of the HiPPO/S4 papers do, without any
download. The starts window is fixed, so the best possible accuracy (`long_range_bayes`) does not
depend on `L`: only memory does.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_int, check_positive


def long_range_patterns(num_classes: int, pattern_length: int, *, seed: int = 0) -> np.ndarray:
    """The class templates: `num_classes` random sign patterns of length `pattern_length`.

    **Arguments:**

    - `num_classes`: number of classes (templates).
    - `pattern_length`: length of each template.
    - `seed`: the templates' seed (the task's identity; keep it fixed across splits).

    **Returns:**

    A float array of shape `(num_classes, pattern_length)` with entries `+1` or `-1`.
    """
    check_int("long_range_patterns", "num_classes", num_classes)
    check_int("long_range_patterns", "pattern_length", pattern_length)
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([-1.0, 1.0]), size=(num_classes, pattern_length))


def long_range_task(
    num_samples: int,
    length: int,
    *,
    num_classes: int = 4,
    pattern_length: int = 8,
    starts: int = 16,
    noise: float = 0.5,
    task_seed: int = 0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample the pattern-memory classification task.

    Sequence `i` is `noise * N(0, 1)` white noise of length `length`; the template of class
    `labels[i]` (see `long_range_patterns`) is added at a start drawn uniformly from
    `0, ..., starts - 1`.

    **Arguments:**

    - `num_samples`: number of sequences.
    - `length`: sequence length `L` (at least `starts + pattern_length - 1`).
    - `num_classes`, `pattern_length`: as in `long_range_patterns`.
    - `starts`: the number of possible starts of the pattern (the first `starts` steps).
    - `noise`: standard deviation of the background noise (`>= 0`).
    - `task_seed`: seed of the templates (the same for the training and test splits).
    - `seed`: seed of the sequences (different for each split).

    **Returns:**

    `(inputs, labels)`: float32 inputs of shape `(num_samples, length, 1)` and int32 labels of
    shape `(num_samples,)`, balanced in expectation.
    """
    check_int("long_range_task", "num_samples", num_samples)
    check_int("long_range_task", "length", length)
    check_int("long_range_task", "pattern_length", pattern_length)
    check_int("long_range_task", "starts", starts)
    if length < starts + pattern_length - 1:
        raise ValueError(
            f"long_range_task: length must be >= starts + pattern_length - 1 = "
            f"{starts + pattern_length - 1}, got length={length}"
        )
    check_positive("long_range_task", "noise", noise, allow_zero=True)
    patterns = long_range_patterns(num_classes, pattern_length, seed=task_seed)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, num_samples)
    first = rng.integers(0, starts, num_samples)
    inputs = noise * rng.standard_normal((num_samples, length))
    offsets = first[:, None] + np.arange(pattern_length)[None, :]
    np.add.at(inputs, (np.arange(num_samples)[:, None], offsets), patterns[labels])
    return inputs[..., None].astype(np.float32), labels.astype(np.int32)


def long_range_bayes(
    inputs,
    *,
    num_classes: int = 4,
    pattern_length: int = 8,
    starts: int = 16,
    noise: float = 0.5,
    task_seed: int = 0,
) -> np.ndarray:
    """The Bayes-optimal classifier of `long_range_task`: the best accuracy any model can reach.

    With the templates known and the start uniform over the allowed positions, the likelihood of
    class `k` is proportional to `sum_s exp(<x[s:s+P], t_k> / noise^2)` (every template has the
    same norm), so the posterior is a log-sum-exp of correlations.

    **Arguments:**

    - `inputs`: sequences of shape `(n, L)` or `(n, L, 1)` from `long_range_task`.
    - `num_classes`, `pattern_length`, `starts`, `noise`, `task_seed`: the task's settings.

    **Returns:**

    Log-posteriors up to a constant per sequence, shape `(n, num_classes)`.
    """
    x = np.asarray(inputs, np.float64)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 2:
        raise ValueError(f"long_range_bayes: inputs must be (n, L) or (n, L, 1), got {x.shape}")
    check_positive("long_range_bayes", "noise", noise)
    patterns = long_range_patterns(num_classes, pattern_length, seed=task_seed)
    windows = np.lib.stride_tricks.sliding_window_view(x, pattern_length, axis=1)
    corr = np.einsum("nsp,kp->nks", windows[:, :starts], patterns) / noise**2
    top = corr.max(axis=2, keepdims=True)
    return (top + np.log(np.exp(corr - top).sum(axis=2, keepdims=True)))[..., 0]

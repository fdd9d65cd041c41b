"""Test-wide settings: strict dtype promotion, no rank promotion, warnings as errors.

The jaxtyping import hook (with beartype) is switched on for `dynlearn` through
`--jaxtyping-packages` in pyproject's pytest options, so shape annotations are checked at run time.
"""

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")


@pytest.fixture
def x64():
    """Enable float64 for one test and restore the previous setting afterwards."""
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", previous)


@pytest.fixture
def getkey():
    """Return a function that hands out fresh PRNG keys, deterministically per test."""
    state = {"key": jax.random.key(0)}

    def _next():
        state["key"], sub = jax.random.split(state["key"])
        return sub

    return _next


# Files that take minutes on the 2-core CI, heaviest first (measured with --durations=150 at
# 3fe119e). `--dist loadfile` hands whole files to the workers in collection order, so a heavy
# file collected late (test_conformance.py is 70th of 80) leaves the other worker idle at the
# end; handing these out first lets the short files fill the tail. Only the order of files
# changes: the tests inside a file keep their order (their module-level caches depend on it).
HEAVY_FILES_FIRST = (
    "tests/test_conformance.py",
    "tests/kernels/test_fixed_step.py",
    "tests/ssm/test_model.py",
    "tests/recon/test_plrnn_gtf.py",
    "tests/kernels/test_linear_scan.py",
    "tests/kernels/test_selective_scan.py",
    "tests/ssm/test_ssm_bad_input.py",
    "tests/pinn/test_losses.py",
    "tests/metrics/test_attractor.py",
)


def pytest_collection_modifyitems(config, items):
    """Move the tests of HEAVY_FILES_FIRST to the front, in that order (a stable sort)."""
    rank = {name: i for i, name in enumerate(HEAVY_FILES_FIRST)}

    def key(item):
        path = item.nodeid.split("::", 1)[0]
        return rank.get(path, len(rank))

    items.sort(key=key)

"""Timing helpers shared by the benchmark scripts (imported as a sibling module)."""

import statistics
import time


def side_by_side(fns: dict, repeats: int, *, warm_each: bool = False) -> dict:
    """Median seconds of each zero-argument callable, run round-robin after one warm-up.

    With `warm_each=True` every timed call directly follows an untimed call of the same
    function, so no function pays for what the previous one left behind (e.g. a large freed
    buffer makes the next call page-fault), while machine noise still hits all of them alike.
    """
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            if warm_each:
                fn()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def fmt_ms(seconds):
    """Seconds formatted as milliseconds with one decimal."""
    return f"{1e3 * seconds:.1f} ms"

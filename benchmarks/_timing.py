"""Timing helpers shared by the benchmark scripts (imported as a sibling module)."""

import statistics
import time


def side_by_side(fns: dict, repeats: int) -> dict:
    """Median seconds of each zero-argument callable, run round-robin after one warm-up."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def fmt_ms(seconds):
    """Seconds formatted as milliseconds with one decimal."""
    return f"{1e3 * seconds:.1f} ms"

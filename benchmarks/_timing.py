"""Per-call timing shared by the micro-benchmarks."""

import statistics
import time


def interleaved_per_call(fns, rounds=20_000, repeat=5):
    """``[(best, median), ...]`` seconds per call of each of ``fns``.

    The functions take turns, ``repeat`` times ``rounds`` calls each: a baseline
    and what is compared with it see the same moments of a shared machine, so
    their ratio does not swing with the load the way back-to-back timings do.
    """
    times = [[] for _ in fns]
    for _ in range(repeat):
        for index, fn in enumerate(fns):
            start = time.perf_counter()
            for _ in range(rounds):
                fn()
            times[index].append((time.perf_counter() - start) / rounds)
    return [(min(per_fn), statistics.median(per_fn)) for per_fn in times]


def best_per_call(fn, rounds=20_000, repeat=5):
    """``(best, median)`` seconds per call of ``fn`` over ``repeat`` runs of ``rounds`` calls."""
    return interleaved_per_call([fn], rounds, repeat)[0]

#!/usr/bin/python3
"""bench/ab.sh's summary of one pipeline: NAME OLD_TIMES NEW_TIMES (files of wall times in seconds, one per line).

Prints the medians, new / old with a 95 % percentile bootstrap interval (each side resampled on its own, 10,000
times, seeded), and the two-sided Mann-Whitney U p-value (scipy) against the null that both builds' wall times come
from one distribution. With runs alternated old / new, load drifts hit both sides alike.
"""
import sys

import numpy as np
from scipy.stats import mannwhitneyu


def main(name, old_file, new_file):
    old = np.loadtxt(old_file, ndmin=1)
    new = np.loadtxt(new_file, ndmin=1)
    ratio = np.median(new) / np.median(old)
    rng = np.random.default_rng(20261205)
    boot = np.median(rng.choice(new, (10000, new.size)), axis=1) / np.median(rng.choice(old, (10000, old.size)), axis=1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    p = mannwhitneyu(new, old, alternative="two-sided").pvalue
    print(f"{name}: median old {np.median(old):.3f} s, new {np.median(new):.3f} s ({old.size} + {new.size} runs); "
          f"new / old {ratio:.3f} [95% CI {lo:.3f}, {hi:.3f}], Mann-Whitney p = {p:.3g} "
          f"(null: one distribution)")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])

"""Reference values of TimeGAN's discriminative and predictive scores on TimeGAN's sine data.

What `dynlearn.metrics.discriminative_score` and `predictive_score` give, at their default
(the reference code's) settings, for generators whose answer is known: a second sample of the
real data (the best any generator can do), a trivial generator (independent Gaussians with the
real mean and standard deviation at every time step and channel: right marginals, no temporal
structure) and uniform noise. Data: TimeGAN's `sine_data_generation`, 5 channels, length 24,
`(sin(f t + p) + 1) / 2` with f and p uniform on [0, 0.1] per sequence and channel.

Run: `python benchmarks/generative_scores.py [--n 1000] [--seeds 3]`; prints one row per
generator with the median and the range over seeds (each seed draws the data and the scores'
keys anew).
"""

import argparse
import time

import jax
import numpy as np

from dynlearn.metrics import discriminative_score, predictive_score, timegan_sines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="sequences per set")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    start = time.perf_counter()
    rows = {"real (second sample)": [], "trivial Gaussian": [], "uniform noise": []}
    for seed in range(args.seeds):
        k_real, k_other, k_triv, k_noise, k_d, k_p = jax.random.split(jax.random.key(seed), 6)
        real = timegan_sines(k_real, args.n)
        mean = real.mean(axis=0, keepdims=True)
        std = real.std(axis=0, keepdims=True)
        generators = {
            "real (second sample)": timegan_sines(k_other, args.n),
            "trivial Gaussian": mean + std * jax.random.normal(k_triv, real.shape),
            "uniform noise": jax.random.uniform(k_noise, real.shape),
        }
        for name, fake in generators.items():
            disc = float(discriminative_score(real, fake, key=k_d))
            pred = float(predictive_score(real, fake, key=k_p))
            rows[name].append((disc, pred))
            print(f"seed {seed} {name:22s} discriminative {disc:.3f} predictive {pred:.3f}")
    print(f"\n| generator | discriminative | predictive |  ({args.seeds} seeds, n = {args.n})")
    print("|---|---|---|")
    for name, values in rows.items():
        v = np.array(values)
        cells = [
            f"{np.median(v[:, j]):.3f} ({v[:, j].min():.3f}-{v[:, j].max():.3f})" for j in (0, 1)
        ]
        print(f"| {name} | {cells[0]} | {cells[1]} |")
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()

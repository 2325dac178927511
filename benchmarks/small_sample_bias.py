"""How far the mean of a sampled cell's score metrics lies from the population value, as the cell shrinks.

Expected mode logs population values (an infinitely large cell); a sampled cell of R positives has
its own mean, which for some metrics is not the population value at small R. For the post's two
models at 1:100, this draws ``--replicates`` cells per size (``simulate`` + ``evaluate``, seeds
0, 1, ...) and prints, per metric, the mean sampled value, the population value (``expected``) and
the relative bias (mean / population - 1), with the standard error of that mean.

    python benchmarks/small_sample_bias.py [--replicates 400] [--positives 10,30,100,300,1000]
"""

from __future__ import annotations

import argparse

import numpy as np

import imbalance_sweep as isw

MODELS = {"A": (0.999, 0.5), "B": (0.98, 0.9)}  # the post's two models: (acc_0s, acc_1s)
METRICS = ("precision_at_recall", "average_precision", "ece", "roc_auc", "f1")
NEGATIVES_PER_POSITIVE = 100  # the post's 1:100 validation set


def bias_rows(acc_0s: float, acc_1s: float, positives: int, replicates: int) -> dict[str, tuple]:
    """metric -> (mean sampled value, its standard error, population value) at one cell size."""
    negatives = NEGATIVES_PER_POSITIVE * positives
    drawn = {name: [] for name in METRICS}
    for seed in range(replicates):
        y_true, y_pred = isw.simulate(negatives, acc_0s, positives, acc_1s, seed=seed)
        values = isw.evaluate(y_true, y_pred, losses=["bce"])
        for name in METRICS:
            drawn[name].append(values[name])
    population = isw.expected(negatives, acc_0s, positives, acc_1s)
    return {
        name: (float(np.mean(v)), float(np.std(v, ddof=1) / np.sqrt(len(v))), population[name])
        for name, v in drawn.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=400)
    parser.add_argument("--positives", default="10,30,100,300,1000")
    args = parser.parse_args()
    sizes = [int(text) for text in args.positives.split(",")]
    print(f"{args.replicates} sampled cells per row, 1:{NEGATIVES_PER_POSITIVE}, metrics at their defaults")
    print(f"{'model':<6}{'metric':<21}{'positives':>9}{'mean':>10}{'population':>11}{'bias':>9}{'+-':>7}")
    for label, (acc_0s, acc_1s) in MODELS.items():
        for positives in sizes:
            for name, (mean, error, exact) in bias_rows(acc_0s, acc_1s, positives, args.replicates).items():
                bias = mean / exact - 1 if exact else float("nan")
                spread = error / exact if exact else float("nan")
                print(
                    f"{label:<6}{name:<21}{positives:>9}{mean:>10.4f}{exact:>11.4f}"
                    f"{bias:>+9.1%}{spread:>7.1%}"
                )


if __name__ == "__main__":
    main()

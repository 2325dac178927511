"""Time where two K-class models' preferences flip along a path of priors (core/multiclass/prior_flip)
and the K = 3 ternary figure (analysis/ternary), and print the figures.

* ``loss``: one loss's exact flips along each path (line, exponential rho, Zipf s) at K classes.
* ``metric``: one metric's flips (a scan of 2049 priors, bisection) along the same paths.
* ``ternary build`` and ``ternary save``: the K = 3 figure (cce against macro F1) built, and saved
  as PNG (target: well under 0.1 s to save).

Two models of the shared model's form: A learned the head classes (accuracy falling from 0.95 to
0.3 along the classes), B every class about as well (0.8 to 0.65); uniform error spread; the cce
terms -log of a made-up score per class. Wall-clock medians after a warm-up (``timing``).

    python benchmarks/bench_prior_flip.py [--repeats 5] [--classes 10]
"""

from __future__ import annotations

import argparse
import io

import numpy as np
from timing import median_seconds

from imbalance_sweep.analysis.ternary import ternary_figure
from imbalance_sweep.core.multiclass.prior_flip import class_values, loss_preference, metric_preference
from imbalance_sweep.core.multiclass.prior_paths import exponential_path, line_path, zipf_path


def model(name: str, accuracies: np.ndarray):
    classes = accuracies.size
    rates = np.repeat(((1.0 - accuracies) / (classes - 1))[:, None], classes, axis=1)
    np.fill_diagonal(rates, accuracies)
    return class_values(name, rates, {"cce": -np.log(0.5 * accuracies + 0.25)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--classes", type=int, default=10)
    args = parser.parse_args()
    classes = args.classes
    a = model("head-heavy", np.linspace(0.95, 0.3, classes))
    b = model("balanced", np.linspace(0.8, 0.65, classes))
    balanced = np.full(classes, 1.0 / classes)
    paths = {
        "line": line_path(balanced, exponential_path(classes, 1, 100).priors(np.array([100.0]))[0]),
        "exponential": exponential_path(classes, 1, 1000),
        "zipf": zipf_path(classes, 0, 3),
    }
    print(f"K = {classes}, median of {args.repeats} runs (seconds)")
    for name, path in paths.items():
        loss = median_seconds(lambda path=path: loss_preference(a, b, "cce", path), args.repeats)
        metric = median_seconds(lambda path=path: metric_preference(a, b, "f1_macro", path), args.repeats)
        flips = metric_preference(a, b, "f1_macro", path).flips
        print(f"{name:12} loss {loss:.6f}  metric {metric:.4f}  (macro F1 flips at {flips})")
    a3, b3 = model("head-heavy", np.array([0.95, 0.7, 0.3])), model("balanced", np.array([0.8, 0.75, 0.65]))
    build = median_seconds(lambda: ternary_figure(a3, b3, loss="cce", metric="f1_macro"), args.repeats)
    figure = ternary_figure(a3, b3, loss="cce", metric="f1_macro")
    save = median_seconds(lambda: figure.savefig(io.BytesIO(), format="png"), args.repeats)
    print(f"ternary build {build:.4f}  save {save:.4f}")


if __name__ == "__main__":
    main()

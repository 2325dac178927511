"""Loading and validating a predictions file of 10^7 rows, in each format, and the empirical model on it.

Writes a file of ``--rows`` labels and float64 probabilities in each format to a temporary
directory, then times :func:`load_predictions` on it (the best of ``--repeats`` calls: reading,
every check, the float32 conversion and the file's sha256), and the empirical score model's set-up
and exact per-class moments (the six losses' terms) on the Parquet file.

    python benchmarks/bench_predictions.py [--rows 10000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from imbalance_sweep.core.predictions import load_predictions
from imbalance_sweep.core.score_models.empirical import EmpiricalModel


def best_seconds(call, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def write_all(directory: Path, rows: int) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    labels = (rng.random(rows) < 0.01).astype(np.int64)
    scores = np.where(labels == 1, rng.beta(4, 2, rows), rng.beta(1, 6, rows))
    table = pa.table({"label": labels, "score": scores})
    paths = {name: directory / f"predictions.{name}" for name in ("csv", "parquet", "npz", "npy")}
    pcsv.write_csv(table, paths["csv"])
    pq.write_table(table, paths["parquet"])
    np.savez(paths["npz"], label=labels, score=scores)
    structured = np.empty(rows, dtype=[("label", np.int64), ("score", np.float64)])
    structured["label"], structured["score"] = labels, scores
    np.save(paths["npy"], structured)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        paths = write_all(Path(directory), args.rows)
        print(f"{'format':>8} {'MB':>8} {'load s':>8} {'rows/s':>12}")
        for name, path in paths.items():
            seconds = best_seconds(lambda path=path: load_predictions(path), args.repeats)
            megabytes = path.stat().st_size / 1e6
            print(f"{name:>8} {megabytes:>8.0f} {seconds:>8.2f} {args.rows / seconds:>12,.0f}")
        predictions = load_predictions(paths["parquet"])
        start = time.perf_counter()
        model = EmpiricalModel(predictions)
        for label in (0, 1):
            for term in ("bce", "sq", "focal"):
                model.term_moments(label, 0.0, term, 2.0)
        print(
            f"empirical model on {args.rows:,} rows: set-up and exact moments {time.perf_counter() - start:.2f} s"
        )


if __name__ == "__main__":
    main()

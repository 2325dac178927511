"""Sweeps compared cell by cell (the command ``python -m imbalance_sweep.compare SWEEP SWEEP [...]``
is compare.py, at the top), one concept a module:

- cell_keys.py: what makes two runs the same cell;
- alignment.py: sweeps aligned on the cells they all ran, the metrics that differ there, the table's rows;
- printed.py: what the command prints, its aligned text table among it;
- figure.py: each other sweep against the baseline, per metric;
- stored_sweeps.py: which stored runs stand for the sweeps a command names;
- record.py: the comparison logged as its own run, once.

Two sweeps coincide on a cell when both ran the same (num_0s, num_1s, acc_0s, acc_1s, replicate,
threshold); their seed, loss settings and the rest of their grids may differ, and those are what
one compares. The first sweep named is the baseline: differences are each other sweep minus it.

The pure part (cell_keys, alignment, printed, figure) takes plain dicts and is tested without a
store; reading runs and logging the comparison run go through the ``tracking`` package, the only one
that imports mlflow.
"""

"""The team server: PostgreSQL holds the runs, a directory the artifacts, MLflow's basic-auth app
guards it (``python -m imbalance_sweep.server``, the door, prints what these modules do).

Each module one concept: the directory and its settings (layout), its files made without following
a link (files), PostgreSQL (postgres), the admin's secrets and MLflow's auth app (auth), what
answers on a port (probes), ``mlflow server`` as a process (mlflow_server), which process is the
directory's server (identity), and start, stop and status (lifecycle). None imports mlflow or the
database driver: they start them as processes.
"""

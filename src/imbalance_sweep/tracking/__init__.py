"""MLflow: the client the sweep logs through (one-line errors, the sqlite store made whole), the
tag names every run carries (tags, the one place they are spelled), the links that say where
results are, and the team server (PostgreSQL behind MLflow's basic-auth app).
"""

"""The sweep: a config (Hydra's, validated into a SweepSpec) becomes a grid of cells with stable
identities, sized before it starts, run cell by cell (runner) and resumed, sharded and raced
safely (resume). Hydra's overrides are checked here before Hydra sees them.
"""

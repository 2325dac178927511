"""K classes: the multi-class losses and metrics of issue 26 (numpy only)."""

"""The exception the doors catch when a tracking store cannot be used, kept apart from MLflow so
that a door can name it without importing MLflow (a mistake or a dry run answers in a second)."""


class TrackingError(RuntimeError):
    """The tracking store cannot be used: one line naming the URI and what went wrong."""

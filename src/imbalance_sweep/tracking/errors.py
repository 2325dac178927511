"""The exception the doors catch when a tracking store cannot be used, kept apart from MLflow so
that a door can name it without importing MLflow (a mistake or a dry run answers in a second)."""

from ..core.checks import InvalidValue


class TrackingError(RuntimeError):
    """The tracking store cannot be used: one line naming the URI and what went wrong."""


# What a door (and a Hydra callback) reports as a user's mistake: one line and exit code 2.
USER_ERRORS: tuple[type[Exception], ...] = (InvalidValue, TrackingError)

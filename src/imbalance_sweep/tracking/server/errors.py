"""The one exception of the team server, which its door reports as a user's one line."""


class ServerError(RuntimeError):
    """The server cannot be started, stopped or found: one line saying why."""

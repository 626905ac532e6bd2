"""The one error type of env resolution: its message names the file and the variable."""


class EnvConfigError(ValueError):
    """A declared environment cannot be resolved; nothing was written."""

"""tthc: data platform for a Vietnamese province's administrative procedures (TTHC)."""

__version__ = "0.1.0"


class TthcError(Exception):
    """An error the CLI reports as one line (bad argument, unusable port or directory, ...)."""

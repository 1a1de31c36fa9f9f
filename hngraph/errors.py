"""hngraph's exceptions, importable without torch. Each is an
:class:`HngraphError`: the command line prints its message as it is, one
line, while any other exception is reported as an internal error
(:func:`describe`)."""

BUG_REPORT = ("this is a bug in hngraph; please report it with the command "
              "you ran and the output of the same command with --debug (its "
              "traceback).")


def describe(err: BaseException) -> str:
    """How an error is told to a user, the one place an exception's text
    is passed on: hngraph's own errors by their message, which says what
    went wrong, where and the fix; anything else as an internal error (a
    bug in hngraph), named by its type."""
    if isinstance(err, HngraphError):
        return str(err)
    return f"internal error: {type(err).__name__}: {err}"


class HngraphError(Exception):
    """The base of hngraph's own errors: what went wrong, where, and the
    fix, in its message."""


class InvalidValueError(HngraphError, ValueError):
    """An argument, setting, config key's value or input with a value
    hngraph cannot use."""


class InvalidTypeError(HngraphError, TypeError):
    """An argument, setting or config key's value of the wrong type."""


class ConfigKeyError(HngraphError, KeyError):
    """A config file with an unknown key, or without a required one."""

    def __str__(self) -> str:  # the message, not KeyError's repr of it
        return str(self.args[0]) if self.args else ""


class PathError(HngraphError, OSError):
    """A path that cannot be read or written, named with what hngraph was
    doing and why."""


class MissingFileError(PathError, FileNotFoundError):
    """A file that was asked for and does not exist."""


class NotAFileError(PathError, IsADirectoryError):
    """A folder given where a file is expected."""


class MissingExtraError(HngraphError, ImportError):
    """An optional dependency that is not installed; the message names the
    extra that installs it."""


class DivergedError(HngraphError, FloatingPointError):
    """Training whose loss became NaN or infinite."""


class DatasetNotFoundError(HngraphError, FileNotFoundError):
    """Raw files of a dataset were found nowhere and could not be downloaded."""


class RawFileError(HngraphError, ValueError):
    """Raw TU files that are missing, truncated or inconsistent."""


class CacheError(HngraphError, OSError):
    """The processed-data cache folder cannot be created or written."""


class DirtySourceError(HngraphError, ValueError):
    """A grid asked to run from code with uncommitted changes."""


class OutTakenError(HngraphError, ValueError):
    """A grid asked to write into an ``out`` folder another grid writes
    into."""


class OutLockedError(HngraphError, RuntimeError):
    """A second grid driver asked to write into an ``out`` folder while the
    first one runs."""


class RunFailedError(HngraphError, RuntimeError):
    """A run that could not be done as asked (another worker's code, a
    report without its baseline's runs)."""

"""hngraph's exceptions, importable without torch."""


class DatasetNotFoundError(FileNotFoundError):
    """Raw files of a dataset were found nowhere and could not be downloaded."""


class RawFileError(ValueError):
    """Raw TU files that are missing, truncated or inconsistent."""


class CacheError(OSError):
    """The processed-data cache folder cannot be created or written."""


class DirtySourceError(ValueError):
    """A grid asked to run from code with uncommitted changes."""


class OutTakenError(ValueError):
    """A grid asked to write into an ``out`` folder another grid writes
    into."""

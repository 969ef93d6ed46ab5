"""The errors a user can meet, each with a message that says what to do next."""


class HScoreError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(HScoreError, ValueError):
    """The study configuration names something unknown or holds an invalid value."""


class UnknownNameError(ConfigError, KeyError):
    """A profile, model or task that is not in the study configuration or the registry."""

    def __str__(self):  # KeyError would quote the whole message
        return str(self.args[0])


class LabelCountError(ConfigError):
    """The model's classification head has a different number of labels than the task."""


class GPURequiredError(HScoreError, RuntimeError):
    """The profile requires a GPU and none is visible."""


class NonFiniteLossError(HScoreError, FloatingPointError):
    """Training produced a NaN or infinite loss."""


class DivergenceError(HScoreError, FloatingPointError):
    """Training diverged: the loss rose far above where it started while staying finite."""


class EmptySubsetError(HScoreError, RuntimeError):
    """A subset that must not be empty (the winning ticket) came out empty."""


class StaleResultError(HScoreError, RuntimeError):
    """A finished result on disk was computed with a different configuration."""


class CorruptResultError(HScoreError, RuntimeError):
    """A result file on disk does not match the checksum recorded when it was written."""


class DataUnavailableError(HScoreError, RuntimeError):
    """A task's data could not be loaded (missing package, no network for a hub dataset)."""


class MissingResultError(HScoreError, FileNotFoundError):
    """A step needs the result of an earlier step that has not run yet."""


class ResultsFolderError(HScoreError, OSError):
    """The results folder cannot be created or written."""


class StepFailedError(HScoreError, RuntimeError):
    """A step of the plan failed in a worker process or a cluster job."""


class SlurmUnavailableError(HScoreError, RuntimeError):
    """The Slurm executor was asked for on a machine without Slurm's commands."""


class DataError(HScoreError, ValueError):
    """A task's data cannot be used as it is (missing file or column, empty texts, one class, ...)."""


EXCERPT = 60   # characters of a user's value an error message shows


def excerpt(value, limit: int = EXCERPT) -> str:
    """A user's value as a message shows it: on one line, cut to ``limit`` characters with its size
    said (``'abc'... (5,242,964 characters)``), so no input can make an error long; text is quoted,
    other values (numbers, lists) are not."""
    quoted = isinstance(value, str)
    text = value if quoted else str(value)
    one_line = " ".join(text.split()) if ("\n" in text or "\r" in text) else text
    shown = repr(one_line[:limit]) if quoted else one_line[:limit]
    return shown if len(one_line) <= limit else f"{shown}... ({len(text):,} characters)"


def excerpts(values, limit: int = 8) -> str:
    """Several of a user's values (column names, labels), each an ``excerpt``, the first ``limit``
    of them and how many more."""
    values = list(values)
    shown = ", ".join(excerpt(v) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")

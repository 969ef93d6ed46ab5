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

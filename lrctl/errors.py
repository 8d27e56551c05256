"""The errors lrctl raises for its users' mistakes, in one module every other one imports.

Each message is one line that names the bad value and says what to do; the command line prints it and
exits with status 2 (`USER_ERRORS`).
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration value is unknown, ill-typed or out of range. The message is one line."""


class SettingError(ValueError):
    """A setting cannot be found or is ill-formed. The message is one line and says what to do."""


class DataError(RuntimeError):
    """A dataset is missing or unreadable. The message is one line and says how to provide it."""


class PolicyFileError(ValueError):
    """A file is not an lrctl policy, is truncated or corrupt, or asks for what this lrctl lacks."""


class CheckpointError(RuntimeError):
    """A checkpoint is missing, truncated or not an lrctl checkpoint. The message is one line."""


class StateFileError(RuntimeError):
    """A state file that is missing, damaged or not lrctl's. The message is one line."""


class RunFolderBusy(RuntimeError):
    """Another process writes into the run folder. The message is one line."""


class IntegrationError(ValueError):
    """A trainer integration cannot run as set up. The message is one line and says what to do."""


USER_ERRORS = (ConfigError, SettingError, DataError, PolicyFileError, CheckpointError, StateFileError,
               RunFolderBusy, IntegrationError)
"""What the command line reports as one line and exit status 2."""

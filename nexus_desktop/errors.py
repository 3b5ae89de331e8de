"""Errors a user can act on: each message says what went wrong and what to do."""

from __future__ import annotations


class NexusError(Exception):
    """Base for every error Nexus Desktop reports to its user."""


class ConfigError(NexusError):
    """A setting has a value that is not allowed, or the config file cannot be read."""


class StoreError(NexusError):
    """The database cannot be opened, read or written."""


class StorageFullError(StoreError):
    """The disk (or the database's size limit) is full."""


class ReadOnlyStorageError(StoreError):
    """The data folder or database file cannot be written."""


class ModelLoadError(NexusError):
    """The language model cannot be found, downloaded or loaded."""


class InferenceUnavailableError(NexusError):
    """The model failed several times in a row; it is not tried again until its breaker's
    back-off has passed."""


class InputError(NexusError):
    """A user message cannot be accepted as it is."""


class FactError(NexusError):
    """A remembered fact cannot be changed as asked (say, it was superseded or forgotten)."""


class FactNotFoundError(FactError):
    """No fact has the ID the user gave."""


class CheckpointError(NexusError):
    """A saved adapter version cannot be written or read back."""


class TeacherError(NexusError):
    """The Ollama teacher gave no usable teaching examples this time."""


class TeacherUnavailableError(TeacherError):
    """Ollama cannot be reached (not running, wrong address) or the request broke off."""


class TeacherTimeoutError(TeacherError):
    """Ollama did not answer within teacher.timeout_seconds."""


class TeacherModelMissingError(TeacherError):
    """The teacher model has not been pulled into Ollama."""


class TeacherHTTPError(TeacherError):
    """Ollama answered with an HTTP error."""


class TeacherResponseError(TeacherError):
    """Ollama's answer was not the question and answer pairs that were asked for."""

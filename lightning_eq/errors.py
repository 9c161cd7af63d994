"""Errors a user can act on. The CLI prints them as one line; the web app turns them into 4xx."""


class LightningEqError(Exception):
    """Base class: the message says what was expected, what came in and what to do."""


class ConfigError(LightningEqError):
    """A config file, YAML search space or command-line setting is invalid."""


class DataError(LightningEqError):
    """A data file is missing, empty or malformed."""


class ModelNotFound(LightningEqError):
    """A requested model, checkpoint or registry alias does not exist."""


class EmbedderError(LightningEqError):
    """An embedding model cannot be loaded or cannot embed the given text."""


class AudioError(LightningEqError):
    """An audio file cannot be read, written or processed."""


class RatingsError(LightningEqError):
    """Ratings sent to the tuner are malformed: a rating outside [0, 1], a curve that is not 40 numbers, too many."""

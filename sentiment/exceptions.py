"""The analysis stage's errors. They are ValueErrors too, so a caller validating config can catch either."""
from storage.exceptions import RepwatchError


class SentimentError(RepwatchError):
    """Base class for the analysis stage's errors."""


class RulesError(SentimentError, ValueError):
    """A lexicon or severity-rules file is invalid; the message names the file and key."""


class ModelError(SentimentError, ValueError):
    """A model artifact cannot be used (wrong format, features, or too little training data)."""

"""posecast's exception hierarchy, mapped to HTTP status and close codes in one place (service)."""


class PosecastError(Exception):
    """Base class of every error posecast raises on purpose."""


class InvalidInputError(PosecastError, ValueError):
    """The caller's data (image, intrinsics, config, message) is malformed or out of range."""


class ModelError(PosecastError):
    """A model file is missing, corrupted, or cannot be loaded or run."""


class ProviderUnavailableError(ModelError):
    """An execution provider or backend was asked for but is not available on this machine."""


class QueueFullError(PosecastError):
    """A bounded queue refused new work."""


class DeadlineExceededError(PosecastError):
    """Work was rejected because it could not start before its deadline."""

"""posecast's exception hierarchy: one tree for the library, the service and the clients.

Every error posecast raises on purpose is a ``PosecastError``. The service maps each class to
an HTTP status and a WebSocket close code in one table (``posecast.service.errors``); clients
receive the same names back. This module imports nothing, so every layer can use it.
"""


class PosecastError(Exception):
    """Base class of every error posecast raises on purpose."""


class InvalidInputError(PosecastError, ValueError):
    """The caller's data (image, intrinsics, config, message) is malformed or out of range."""


class PayloadTooLargeError(InvalidInputError):
    """An image or message beyond the configured size (bytes or pixels)."""


class UnsupportedMediaTypeError(InvalidInputError):
    """A body or message that is not a supported image type."""


class ModelError(PosecastError):
    """A model file is missing, corrupted, or cannot be loaded or run."""


class ProviderUnavailableError(ModelError):
    """An execution provider or backend was asked for but is not available on this machine."""


class QueueFullError(PosecastError):
    """A bounded queue refused new work."""


class DeadlineExceededError(PosecastError):
    """Work was rejected because it could not start before its deadline."""


class ProtocolError(PosecastError):
    """A peer broke the stream protocol (e.g. a config after frames, a malformed message)."""


class AuthenticationError(PosecastError):
    """No API key, or one that is not configured."""


class TooManyStreamsError(PosecastError):
    """The server already runs ``max_streams`` streams."""


class TooManyRequestsError(PosecastError):
    """The server already handles its maximum of concurrent HTTP requests."""


class SlowReaderError(PosecastError):
    """A stream's client did not read its messages within ``send_timeout_s``."""


class NotReadyError(PosecastError):
    """Models are not loaded and warmed up yet."""


class DrainingError(PosecastError):
    """The server is shutting down and takes no new work."""

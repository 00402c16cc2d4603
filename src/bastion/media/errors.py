"""Why a media item could not be (fully) hashed.

Each problem has a stable short ``code`` for machines (CSV/Parquet columns,
summaries counting errors by reason) and a message written for the person who
has to decide what to do about the file.
"""

from __future__ import annotations


class MediaError(Exception):
    """A media item could not be decoded; the message says why."""

    code = "media-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAnImage(MediaError):
    """The bytes are not an image format Bastion decodes."""

    code = "not-an-image"


class UnsupportedImage(MediaError):
    """An image format or variant Bastion recognises but cannot decode."""

    code = "unsupported"


class TooManyPixels(MediaError):
    """The header declares more pixels than ``BASTION_MAX_PIXELS``."""

    code = "too-many-pixels"


class FileTooLarge(MediaError):
    """The file is larger than ``BASTION_MAX_FILE_BYTES``."""

    code = "file-too-large"


class TruncatedImage(MediaError):
    """The image data ends before the image does."""

    code = "truncated"


class CorruptImage(MediaError):
    """The image data is damaged (bad checksum, invalid stream ...)."""

    code = "corrupt"


class EmptyFile(MediaError):
    """The file has no bytes at all."""

    code = "empty"


class NoVideoStream(MediaError):
    """The container holds no video track (audio only, subtitles ...)."""

    code = "no-video-stream"


class CorruptVideo(MediaError):
    """The container or its video stream cannot be read."""

    code = "corrupt-video"


class TruncatedVideo(MediaError):
    """The video stream ends before its declared duration, or mid-packet."""

    code = "truncated"


class NoFrames(MediaError):
    """A video stream without a single decodable frame (zero duration)."""

    code = "no-frames"


class TimeBudgetExceeded(MediaError):
    """Decoding took longer than ``BASTION_VIDEO_TIME_BUDGET`` seconds."""

    code = "time-budget"

"""Why a media item could not be (fully) hashed.

Each problem has a stable short ``code`` for machines (CSV/Parquet columns,
summaries counting errors by reason) and a message written for the person who
has to decide what to do about the file.  The codes are item error codes
(:class:`bastion.errors.ItemErrorCode`): a file that fails to decode is an
item with that error, not a failed run.
"""

from __future__ import annotations

from bastion.errors import BastionError, ItemErrorCode


class MediaError(BastionError):
    """A media item could not be decoded; the message says why."""

    code = ItemErrorCode.MEDIA_ERROR
    status = 422

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAnImage(MediaError):
    """The bytes are not an image format Bastion decodes."""

    code = ItemErrorCode.NOT_AN_IMAGE


class UnsupportedImage(MediaError):
    """An image format or variant Bastion recognises but cannot decode."""

    code = ItemErrorCode.UNSUPPORTED


class TooManyPixels(MediaError):
    """The header declares more pixels than ``BASTION_MAX_PIXELS``."""

    code = ItemErrorCode.TOO_MANY_PIXELS


class FileTooLarge(MediaError):
    """The file is larger than ``BASTION_MAX_FILE_BYTES``."""

    code = ItemErrorCode.FILE_TOO_LARGE


class TruncatedImage(MediaError):
    """The image data ends before the image does."""

    code = ItemErrorCode.TRUNCATED


class CorruptImage(MediaError):
    """The image data is damaged (bad checksum, invalid stream ...)."""

    code = ItemErrorCode.CORRUPT


class NoVideoStream(MediaError):
    """The container holds no video track (audio only, subtitles ...)."""

    code = ItemErrorCode.NO_VIDEO_STREAM


class CorruptVideo(MediaError):
    """The container or its video stream cannot be read."""

    code = ItemErrorCode.CORRUPT_VIDEO


class TruncatedVideo(MediaError):
    """The video stream ends before its declared duration, or mid-packet."""

    code = ItemErrorCode.TRUNCATED


class NoFrames(MediaError):
    """A video stream without a single decodable frame (zero duration)."""

    code = ItemErrorCode.NO_FRAMES


class TimeBudgetExceeded(MediaError):
    """Decoding took longer than ``BASTION_VIDEO_TIME_BUDGET`` seconds."""

    code = ItemErrorCode.TIME_BUDGET

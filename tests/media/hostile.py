"""Small hostile media built from benign generated content."""

from __future__ import annotations

from bastion.samples import encode_video, panning_frames


def unknown_codec_mp4() -> bytes:
    """A 3 kB MP4 whose video sample entry names a codec FFmpeg has no decoder for.

    PyAV opens it and lists a video stream, but the stream has no codec
    context: the mutation fuzzing found, made deterministic.
    """
    data = encode_video(panning_frames(64, 48, 3, scene_seconds=1))
    entry = data.index(b"avc1", data.index(b"stsd"))
    return data[:entry] + b"zzzz" + data[entry + 4 :]

"""Typed errors of the video pipeline: a film that cannot be opened at all, or one that breaks
part-way through decoding.

Both derive from ``VideoError`` and carry a ``reason`` a person can act on. A caller that
catches ``DecodeError`` keeps every frame yielded before it: the analysis is partial, not lost.
"""

from __future__ import annotations

import re
from pathlib import Path

from app.core.errors import UnavailableError

# ffmpeg names its components with their memory address: "[mov,mp4,m4a @ 0x55d1c0a2b4c0]".
_ADDRESS = re.compile(r"\s*@\s*0x[0-9a-fA-F]+")
# An absolute path (POSIX), up to the next quote, bracket, comma or colon-space.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.])/(?:[^\s'\"\[\](),:]+/)+([^\s'\"\[\](),:]*)")


def user_reason(text: str) -> str:
    """``text`` fit to show a user: ffmpeg's memory addresses and absolute server paths
    removed (a path keeps its file name). The raw text belongs in the logs only."""
    return _ABSOLUTE_PATH.sub(lambda match: match.group(1), _ADDRESS.sub("", text))


class VideoError(Exception):
    """Something is wrong with a film file; ``reason`` says what, in plain words, fit for a
    user (no server paths, no ffmpeg addresses); ``str()`` keeps the raw text for logs."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = user_reason(reason)
        super().__init__(f"{self.path}: {reason}")


class VideoOpenFailure(VideoError):
    """The file is not a decodable video: missing, empty, not a video, audio only, no frames,
    or an absurd picture size. Nothing can be analysed; retrying will not help."""


class DecodeError(VideoError):
    """Decoding stopped or went wrong part-way (truncated file, corrupt data, ffmpeg failure).

    Every frame before ``frames_decoded`` was delivered. ``last_frame_index`` and
    ``last_pts_s`` locate the last good frame (None when none was decoded); ``reason`` holds
    ffmpeg's own last words.
    """

    def __init__(
        self,
        path: str | Path,
        reason: str,
        *,
        frames_decoded: int,
        last_pts_s: float | None,
    ) -> None:
        self.frames_decoded = frames_decoded
        self.last_frame_index = frames_decoded - 1 if frames_decoded > 0 else None
        self.last_pts_s = last_pts_s
        where = (
            f"after frame {self.last_frame_index} (t={last_pts_s:.3f}s)"
            if self.last_frame_index is not None and last_pts_s is not None
            else "before the first frame"
        )
        super().__init__(path, f"decoding stopped {where}: {reason}")
        # Keep the bare cause too; the inherited ``reason`` now says where.
        self.cause = user_reason(reason)


class FrameExtractionFailed(UnavailableError):
    """One picture could not be taken from a film (ffmpeg missing, slow or failing)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"could not extract the frame from the film: {reason}")

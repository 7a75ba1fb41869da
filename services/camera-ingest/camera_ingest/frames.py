"""A frame, read and checked once, from any stream of chunks (a request body, a snapshot fetch).

`read_frame` is framework-free and does each check exactly once, cheapest first:
1. the declared type (415), before a byte is read;
2. the size while reading (413), with the kit's bounded reader (it also refuses a declared
   Content-Length over the limit before reading);
3. the kit's one definition of a valid frame (`shelter_kit.images`, the classifier's too):
   magic bytes against the declared type, the header's size (a decompression bomb is a 413),
   then a full decode (JPEG at draft scale) in a worker thread, so a truncated or corrupt frame
   is a 422 here and never a dead letter later.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio

from camera_ingest.errors import (
    FrameTooLarge,
    ImageTooLarge,
    UndecodableImage,
    UnsupportedMediaType,
)
from shelter_kit import images
from shelter_kit.bodies import read_bounded
from shelter_kit.errors import BodyTooLarge, FrameRefused, FrameTypeRefused
from shelter_kit.errors import FrameTooLarge as TooManyPixels

ACCEPTED_TYPES = images.ACCEPTED_TYPES
MAX_PIXELS = images.DEFAULT_RULES.max_pixels
# Decodes at once: each may hold up to max_pixels x 4 bytes (160 MB), so a burst of hostile
# frames queues here instead of growing the process by a frame per connection.
DECODES = anyio.CapacityLimiter(2)


@dataclass(frozen=True)
class Frame:
    """A validated image, ready for the outbox."""

    data: bytes
    content_type: str
    sha256: str


async def read_frame(
    chunks: AsyncIterator[bytes],
    *,
    content_type: str | None,
    content_length: str | None,
    max_bytes: int,
) -> Frame:
    """Read and check a frame; raises an `InvalidFrame` (415, 413 or 422)."""
    declared = declared_type(content_type)
    try:
        data = await read_bounded(chunks, limit=max_bytes, content_length=content_length)
    except BodyTooLarge as exc:
        raise FrameTooLarge(f"frame: {exc}", limit=exc.limit) from exc
    return await anyio.to_thread.run_sync(decode, data, declared, limiter=DECODES)


def declared_type(content_type: str | None) -> str:
    """The declared media type; 415 when it is neither an accepted image type nor generic."""
    try:
        return images.declared_type(content_type)
    except FrameTypeRefused as exc:
        raise UnsupportedMediaType(str(exc)) from exc


def decode(data: bytes, declared: str) -> Frame:
    """The kit's frame definition (blocking: a full decode); an `InvalidFrame` if it fails."""
    try:
        actual = images.validate(data, declared)
    except FrameRefused as exc:
        raise _translated(exc) from exc
    return Frame(data=data, content_type=actual, sha256=hashlib.sha256(data).hexdigest())


def _translated(exc: FrameRefused) -> Exception:
    if isinstance(exc, FrameTypeRefused):
        return UnsupportedMediaType(str(exc))
    if isinstance(exc, TooManyPixels):
        return ImageTooLarge(str(exc))
    return UndecodableImage(str(exc))


def new_frame_id() -> str:
    return uuid.uuid4().hex

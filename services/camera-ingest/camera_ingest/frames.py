"""A frame, read and checked once, from any stream of chunks (a request body, a snapshot fetch).

`read_frame` is framework-free and does each check exactly once, cheapest first:
1. the declared type (415), before a byte is read;
2. the size while reading (413), with the kit's bounded reader (it also refuses a declared
   Content-Length over the limit before reading);
3. magic bytes and a header-only Pillow decode (422), where too many pixels (a decompression
   bomb: a few bytes that claim 20000x20000) is a 413. The full decode is the classifier's job.

Our own lines for the header check: Pillow only warns below twice its own pixel limit, and
raises a bare `Exception` subclass above it; both must be a problem, never a 500.
"""

from __future__ import annotations

import hashlib
import io
import uuid
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass

from PIL import Image

from camera_ingest.errors import (
    FrameTooLarge,
    ImageTooLarge,
    UndecodableImage,
    UnsupportedMediaType,
)
from shelter_kit.bodies import read_bounded
from shelter_kit.errors import BodyTooLarge

ACCEPTED_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
_GENERIC_TYPES = {"", "application/octet-stream"}
# The classifier's default CLASSIFIER_MAX_PIXELS: a frame it would refuse is refused at upload.
MAX_PIXELS = 40_000_000


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
    return decode(data, declared)


def declared_type(content_type: str | None) -> str:
    """The declared media type; 415 when it is neither an accepted image type nor generic."""
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared not in ACCEPTED_TYPES and declared not in _GENERIC_TYPES:
        raise UnsupportedMediaType(
            f"content type {declared!r} is not one of {', '.join(sorted(ACCEPTED_TYPES))}"
        )
    return declared


def sniff(data: bytes) -> str | None:
    """The image type the magic bytes announce, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def decode(data: bytes, declared: str) -> Frame:
    """Magic bytes against the declared type, then the image header."""
    if not data:
        raise UndecodableImage("empty body")
    actual = sniff(data)
    if actual is None:
        raise UndecodableImage("body is not a JPEG, PNG or WebP image (magic bytes)")
    if declared in ACCEPTED_TYPES and declared != actual:
        raise UndecodableImage(f"declared {declared} but the bytes are {actual}")
    width, height = _header_size(data, ACCEPTED_TYPES[actual])
    if width * height > MAX_PIXELS:
        raise ImageTooLarge(f"{width}x{height} is over the limit of {MAX_PIXELS} pixels")
    return Frame(data=data, content_type=actual, sha256=hashlib.sha256(data).hexdigest())


def _header_size(data: bytes, image_format: str) -> tuple[int, int]:
    try:
        with (
            warnings.catch_warnings(action="error", category=Image.DecompressionBombWarning),
            Image.open(io.BytesIO(data), formats=[image_format]) as img,
        ):
            width, height = img.size
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageTooLarge(f"decompression bomb: {exc}") from exc
    except Exception as exc:  # untrusted bytes: any failure to parse the header means "not it"
        raise UndecodableImage(f"image header does not decode: {exc}") from exc
    if width < 1 or height < 1:
        raise UndecodableImage(f"image has no pixels ({width}x{height})")
    return width, height


def new_frame_id() -> str:
    return uuid.uuid4().hex

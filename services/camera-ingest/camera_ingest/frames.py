"""Frame validation (cheap: type, size, magic bytes, Pillow header) and frame identity."""

from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from camera_ingest.errors import FrameTooLarge, UndecodableImage, UnsupportedMediaType

ACCEPTED_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
_GENERIC_TYPES = {"", "application/octet-stream"}


@dataclass(frozen=True)
class Frame:
    """A validated image, ready for the outbox."""

    data: bytes
    content_type: str
    sha256: str


def sniff(data: bytes) -> str | None:
    """The image type the magic bytes announce, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def check_declared_type(content_type: str | None) -> str:
    """Refuse early (415) a declared type that is not an accepted image type."""
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared not in ACCEPTED_TYPES and declared not in _GENERIC_TYPES:
        raise UnsupportedMediaType(
            f"content type {declared!r} is not one of {', '.join(sorted(ACCEPTED_TYPES))}"
        )
    return declared


def check_size(size: int, limit: int) -> None:
    if size > limit:
        raise FrameTooLarge(f"frame is {size} bytes, the limit is {limit}")


def validate(data: bytes, content_type: str | None, *, max_bytes: int) -> Frame:
    """Type, size and a header-only decode; the full decode is the classifier's job."""
    declared = check_declared_type(content_type)
    check_size(len(data), max_bytes)
    if not data:
        raise UndecodableImage("empty body")
    actual = sniff(data)
    if actual is None:
        raise UndecodableImage("body is not a JPEG, PNG or WebP image (magic bytes)")
    if declared in ACCEPTED_TYPES and declared != actual:
        raise UndecodableImage(f"declared {declared} but the bytes are {actual}")
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != ACCEPTED_TYPES[actual] or img.width < 1 or img.height < 1:
                raise UndecodableImage(f"unexpected image header ({img.format})")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise UndecodableImage(f"image header does not decode: {exc}") from exc
    return Frame(data=data, content_type=actual, sha256=hashlib.sha256(data).hexdigest())


def new_frame_id() -> str:
    return uuid.uuid4().hex

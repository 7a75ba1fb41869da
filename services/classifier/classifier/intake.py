"""What a request may bring: the media types each route accepts (no web framework here).

Bodies are read with `shelter_kit.bodies` (bounded, BodyTooLarge past the limit); this module only
says which Content-Types are welcome, before a byte of the body is read.
"""

from __future__ import annotations

from classifier.errors import CorruptImage, UnsupportedMediaType
from shelter_kit import images

IMAGE_TYPES = frozenset(images.ACCEPTED_TYPES)
MULTIPART = "multipart/form-data"


media_type = images.media_type  # `image/jpeg; q=1` -> `image/jpeg`; '' when absent


def check_declared(data: bytes, content_type: str | None) -> None:
    """The kit's rule for a declared image type: bytes of another accepted type are refused
    (a PNG sent as image/jpeg is a 422, as at camera-ingest). Every other failure is the
    decode's (`preprocess`, the same kit rules), which counts it as a failed inference."""
    declared = media_type(content_type)
    actual = images.sniff(data)
    if declared in IMAGE_TYPES and actual is not None and actual != declared:
        raise CorruptImage(f"declared {declared} but the bytes are {actual} (mislabelled)")


def _refuse(kind: str, accepted: frozenset[str]) -> UnsupportedMediaType:
    listed = ", ".join(sorted(accepted))
    return UnsupportedMediaType(f"Content-Type {kind or '(none)'!r} is not accepted; use {listed}")


def image_or_multipart(content_type: str | None) -> bool:
    """True for a multipart body, False for a raw JPEG/PNG/WebP; UnsupportedMediaType else."""
    kind = media_type(content_type)
    if kind == MULTIPART:
        return True
    if kind not in IMAGE_TYPES:
        raise _refuse(kind, IMAGE_TYPES | {MULTIPART})
    return False


def require_multipart(content_type: str | None) -> None:
    """A batch comes only as multipart/form-data."""
    kind = media_type(content_type)
    if kind != MULTIPART:
        raise _refuse(kind, frozenset({MULTIPART}))

"""What a request may bring: the media types each route accepts (no web framework here).

Bodies are read with `shelter_kit.bodies` (bounded, BodyTooLarge past the limit); this module only
says which Content-Types are welcome, before a byte of the body is read.
"""

from __future__ import annotations

from classifier.errors import UnsupportedMediaType

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
MULTIPART = "multipart/form-data"


def media_type(content_type: str | None) -> str:
    """`image/jpeg; q=1` -> `image/jpeg`; lower-cased, '' when absent."""
    return (content_type or "").split(";", 1)[0].strip().lower()


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

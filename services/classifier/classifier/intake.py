"""What a request may bring: accepted media types and bounded bodies (no web framework here).

Errors raised here extend the tree in ``errors.py``:

    ClassifierError
     +-- RequestError          the request around the image is wrong
          +-- BodyTooLarge     more bytes than allowed, by Content-Length or as streamed (413)
          +-- TooManyImages    a batch with more images than allowed (413)
          +-- BadMultipart     a multipart body that is malformed or lacks its image part (422)
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

from classifier.errors import ClassifierError, UnsupportedImage

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
MULTIPART = "multipart/form-data"


class RequestError(ClassifierError):
    """The request around the image is wrong."""


class BodyTooLarge(RequestError):
    """The body is larger than the configured limit."""


class TooManyImages(RequestError):
    """A batch request carries more images than the configured limit."""


class BadMultipart(RequestError):
    """A multipart body that does not parse, or lacks the expected file part."""


def media_type(content_type: str | None) -> str:
    """`image/jpeg; q=1` -> `image/jpeg`; lower-cased, '' when absent."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def require_image_type(content_type: str | None) -> str:
    """The media type of a raw image body; UnsupportedImage unless JPEG, PNG or WebP."""
    kind = media_type(content_type)
    if kind not in IMAGE_TYPES:
        accepted = ", ".join(sorted(IMAGE_TYPES | {MULTIPART}))
        raise UnsupportedImage(f"Content-Type {kind or '(none)'!r} is not accepted; use {accepted}")
    return kind


def check_declared_length(content_length: str | None, *, limit: int) -> None:
    """Refuse early when Content-Length already says the body is too large."""
    if content_length and content_length.isdigit() and int(content_length) > limit:
        raise BodyTooLarge(f"body of {content_length} bytes exceeds the limit of {limit} bytes")


async def bounded(
    chunks: AsyncIterator[bytes], *, content_length: str | None, limit: int
) -> AsyncGenerator[bytes, None]:
    """Pass `chunks` through, raising BodyTooLarge as soon as more than `limit` bytes arrived."""
    check_declared_length(content_length, limit=limit)
    seen = 0
    async for chunk in chunks:
        seen += len(chunk)
        if seen > limit:
            raise BodyTooLarge(f"body exceeds the limit of {limit} bytes")
        yield chunk


async def read_bounded(
    chunks: AsyncIterator[bytes], *, content_length: str | None, limit: int
) -> bytes:
    """The whole body, at most `limit` bytes (BodyTooLarge otherwise)."""
    parts = [c async for c in bounded(chunks, content_length=content_length, limit=limit)]
    return b"".join(parts)

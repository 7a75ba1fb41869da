"""What a valid frame is: ONE definition, for camera-ingest's intake and the classifier's decode.

A frame is valid when, in this order (cheapest first):
1. its declared Content-Type is an accepted image type or generic (`declared_type`, 415);
2. it is not empty and its magic bytes are JPEG, PNG or WebP: another image format is a 415,
   anything else a 422; a declared image type must be the one the bytes are (422, mislabelled);
3. its header decodes, and its size is within `FrameRules`: at least `min_side` px a side, at
   most `max_aspect` long side : short side, at most `max_pixels` pixels (a decompression bomb,
   a few bytes claiming 20000x20000, is a 413 before a pixel is decoded);
4. it decodes in full (JPEG at draft scale, what the classifier decodes), so a truncated or
   corrupt body is a 422 at upload, not a dead letter later.

camera-ingest runs all of it before answering 202; the classifier runs the same functions and
keeps the decoded image. Both translate `FrameRefused` into their own domain errors (their
problem codes stay theirs). Needs Pillow: install the kit as `shelter-kit[images]`.

Our own code rather than a library's: Pillow decodes, but nothing in it says which of its
formats, sizes and failures a service should take; its bomb check only warns below twice its own
limit and raises a bare `Exception` subclass above it, and both must be a 4xx, never a 500.

    FrameRefused (shelter_kit.errors)
    +-- FrameTypeRefused    not JPEG/PNG/WebP (declared or by its bytes)       415
    +-- FrameTooLarge       more pixels than `max_pixels`                      413
    +-- FrameUnreadable     empty, garbage, mislabelled, too small, too thin,
                            truncated or corrupt                               422
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image

from shelter_kit.errors import FrameTooLarge, FrameTypeRefused, FrameUnreadable
from shelter_kit.magic import image_type

ACCEPTED_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
GENERIC_TYPES = frozenset({"", "application/octet-stream"})


@dataclass(frozen=True)
class FrameRules:
    """The sizes a frame may have. Defaults are every service's: change them together."""

    max_pixels: int = 40_000_000  # 40 MP: an 8K frame fits, a bomb does not
    min_side: int = 8  # smaller is no picture of a kennel
    max_aspect: float = 20.0  # wider than 20:1 is no camera's frame (and would grow to
    # 256 x 5120 at most once the classifier scales its short side)


DEFAULT_RULES = FrameRules()


def media_type(content_type: str | None) -> str:
    """`image/jpeg; q=1` -> `image/jpeg`; lower-cased, '' when absent."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def declared_type(content_type: str | None) -> str:
    """The declared media type; FrameTypeRefused unless an accepted image type or generic."""
    declared = media_type(content_type)
    if declared not in ACCEPTED_TYPES and declared not in GENERIC_TYPES:
        accepted = ", ".join(sorted(ACCEPTED_TYPES))
        raise FrameTypeRefused(f"content type {declared!r} is not one of {accepted}")
    return declared


def sniff(data: bytes) -> str | None:
    """The accepted image type the magic bytes announce, or None (`magic.image_type`)."""
    return image_type(data)


def check_type(data: bytes, declared: str) -> str:
    """Steps 1-2: the type the bytes really are (an accepted one), agreeing with `declared`."""
    declared = declared_type(declared)
    if not data:
        raise FrameUnreadable("empty body: no image bytes")
    actual = sniff(data)
    if actual is None:
        other = _other_format(data)
        if other is not None:
            raise FrameTypeRefused(f"image format {other} is not accepted (use JPEG, PNG or WebP)")
        raise FrameUnreadable("body is not a JPEG, PNG or WebP image (magic bytes)")
    if declared in ACCEPTED_TYPES and declared != actual:
        raise FrameUnreadable(f"declared {declared} but the bytes are {actual} (mislabelled)")
    return actual


def open_frame(
    data: bytes, declared: str = "", *, rules: FrameRules = DEFAULT_RULES, draft: int = 256
) -> Image.Image:
    """Every step: the decoded image (JPEG drafted to >= `draft` px a side), or FrameRefused."""
    return _decode(data, check_type(data, declared), rules=rules, draft=draft)


def validate(data: bytes, declared: str = "", *, rules: FrameRules = DEFAULT_RULES) -> str:
    """`open_frame` for a caller that keeps the bytes, not the pixels: the real media type."""
    actual = check_type(data, declared)
    with _decode(data, actual, rules=rules, draft=256):
        pass
    return actual


def _decode(data: bytes, actual: str, *, rules: FrameRules, draft: int) -> Image.Image:
    image = _open_header(data, ACCEPTED_TYPES[actual])
    check_size(*image.size, rules=rules)
    if image.format == "JPEG":
        image.draft("RGB", (draft, draft))
    try:
        image.load()  # a truncated or corrupt body fails here (LOAD_TRUNCATED_IMAGES stays off)
    except Exception as exc:  # Pillow's decoders raise many types on hostile input
        raise FrameUnreadable(f"image does not decode (truncated or corrupt): {exc}") from exc
    return image


def check_size(width: int, height: int, *, rules: FrameRules = DEFAULT_RULES) -> None:
    """Step 3's sizes, from the header."""
    if width * height > rules.max_pixels:
        raise FrameTooLarge(
            f"{width}x{height} = {width * height} pixels is over the limit of "
            f"{rules.max_pixels} pixels"
        )
    if min(width, height) < rules.min_side:
        raise FrameUnreadable(f"{width}x{height} is too small: at least {rules.min_side} px a side")
    if max(width, height) > rules.max_aspect * min(width, height):
        raise FrameUnreadable(
            f"{width}x{height} is too thin: at most {rules.max_aspect:g}:1 long side to short"
        )


def _open_header(data: bytes, image_format: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=[image_format])
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise FrameTooLarge(f"decompression bomb: {exc}") from exc
    except Exception as exc:  # untrusted bytes: any failure to parse the header means "not it"
        raise FrameUnreadable(f"image header does not decode: {exc}") from exc


def _other_format(data: bytes) -> str | None:
    """The format Pillow identifies in bytes that are not JPEG/PNG/WebP (GIF, BMP, TIFF...)."""
    try:
        with (
            warnings.catch_warnings(action="ignore", category=Image.DecompressionBombWarning),
            Image.open(io.BytesIO(data)) as other,
        ):
            return other.format
    except Exception:  # any failure to identify means: not an image at all
        return None

"""Frame checks, directly: one framework-free reader, each check once, bombs are 413 not 500."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest

from camera_ingest.errors import (
    FrameTooLarge,
    ImageTooLarge,
    UndecodableImage,
    UnsupportedMediaType,
)
from camera_ingest.frames import MAX_PIXELS, read_frame
from shelter_kit.errors import BodyTooLarge
from tests.camera_ingest.conftest import jpeg, png, png_header

pytestmark = pytest.mark.anyio


async def chunks(*parts: bytes, seen: list[bytes] | None = None) -> AsyncIterator[bytes]:
    for part in parts:
        if seen is not None:
            seen.append(part)
        yield part


async def read(
    *parts: bytes, content_type: str | None = "image/jpeg", length: str | None = None
) -> object:
    return await read_frame(
        chunks(*parts), content_type=content_type, content_length=length, max_bytes=4096
    )


async def test_a_good_frame_is_read_once_and_identified() -> None:
    data = jpeg(3)
    frame = await read_frame(
        chunks(data[:100], data[100:]),
        content_type="image/jpeg; q=1",
        content_length=str(len(data)),
        max_bytes=4096,
    )
    assert frame.data == data
    assert frame.content_type == "image/jpeg"
    assert frame.sha256 == hashlib.sha256(data).hexdigest()


async def test_a_generic_type_is_decided_by_the_magic_bytes() -> None:
    frame = await read_frame(chunks(png()), content_type=None, content_length=None, max_bytes=4096)
    assert frame.content_type == "image/png"


async def test_the_declared_type_is_refused_before_a_byte_is_read() -> None:
    seen: list[bytes] = []
    with pytest.raises(UnsupportedMediaType, match="text/plain"):
        await read_frame(
            chunks(b"hello", seen=seen),
            content_type="text/plain",
            content_length="5",
            max_bytes=4096,
        )
    assert seen == []


async def test_a_declared_oversize_is_refused_before_reading() -> None:
    seen: list[bytes] = []
    with pytest.raises(FrameTooLarge) as caught:
        await read_frame(
            chunks(b"x", seen=seen), content_type="image/jpeg", content_length="5000", max_bytes=10
        )
    assert seen == []
    assert isinstance(caught.value, BodyTooLarge)  # the kit's 413, with its limit
    assert caught.value.limit == 10


async def test_a_streamed_oversize_without_a_length_is_refused() -> None:
    with pytest.raises(FrameTooLarge, match="4096"):
        await read(b"\xff\xd8\xff" + b"x" * 3000, b"y" * 3000)


@pytest.mark.parametrize(
    ("parts", "content_type", "match"),
    [
        ((b"",), "image/jpeg", "empty"),
        ((b"not an image",), "image/jpeg", "magic bytes"),
        ((jpeg(1),), "image/png", "declared image/png"),
        ((b"\xff\xd8\xff\xe0 truncated",), "image/jpeg", "does not decode"),
        ((png_header(0, 5),), "image/png", "does not decode|no pixels"),
    ],
)
async def test_undecodable_bytes_are_422(
    parts: tuple[bytes, ...], content_type: str, match: str
) -> None:
    with pytest.raises(UndecodableImage, match=match):
        await read(*parts, content_type=content_type)


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (20_000, 20_000),  # Pillow's own DecompressionBombError (over twice its limit)
        (10_000, 9_000),  # Pillow only warns here; refused as an error all the same
        (7_000, 7_000),  # under Pillow's limit, over ours
    ],
)
async def test_a_decompression_bomb_is_image_too_large(width: int, height: int) -> None:
    assert width * height > MAX_PIXELS
    with pytest.raises(ImageTooLarge):
        await read(png_header(width, height), content_type="image/png")

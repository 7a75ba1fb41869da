"""The one definition of a valid frame (`shelter_kit.images`), rule by rule."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib

import pytest
from PIL import Image

from shelter_kit import images, magic
from shelter_kit.errors import FrameTooLarge, FrameTypeRefused, FrameUnreadable


def encode(size: tuple[int, int], fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (120, 60, 30)).save(buf, fmt)
    return buf.getvalue()


def png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.mark.parametrize(("fmt", "kind"), [("JPEG", "image/jpeg"), ("PNG", "image/png"),
                                           ("WEBP", "image/webp")])  # fmt: skip
def test_a_valid_frame_of_each_type(fmt: str, kind: str) -> None:
    data = encode((64, 48), fmt)
    assert images.validate(data, kind) == kind
    assert images.validate(data, "") == kind  # generic: decided by the bytes
    assert images.validate(data, "application/octet-stream") == kind


def test_a_declared_type_that_is_not_an_image_is_refused() -> None:
    with pytest.raises(FrameTypeRefused):
        images.declared_type("text/plain")


def test_a_mislabelled_frame_is_unreadable() -> None:
    with pytest.raises(FrameUnreadable, match="mislabelled"):
        images.validate(encode((64, 48), "PNG"), "image/jpeg")


def test_another_format_is_refused_as_a_type() -> None:
    with pytest.raises(FrameTypeRefused, match="GIF"):
        images.validate(encode((64, 48), "GIF"), "")


@pytest.mark.parametrize("data", [b"", b"not an image", b"\xff\xd8\xff\xe0" + b"\x00" * 64])
def test_garbage_is_unreadable(data: bytes) -> None:
    with pytest.raises(FrameUnreadable):
        images.validate(data, "image/jpeg")


def test_a_truncated_frame_is_unreadable() -> None:
    data = encode((640, 480), "JPEG")
    with pytest.raises(FrameUnreadable, match="truncated"):
        images.validate(data[: len(data) // 2], "image/jpeg")


def test_a_bomb_is_too_large_from_its_header() -> None:
    with pytest.raises(FrameTooLarge):
        images.validate(png_header(20_000, 20_000), "image/png")


@pytest.mark.parametrize(("size", "why"), [((4, 64), "too small"), ((400, 10), "too thin")])
def test_sizes_outside_the_rules_are_unreadable(size: tuple[int, int], why: str) -> None:
    with pytest.raises(FrameUnreadable, match=why):
        images.validate(encode(size, "PNG"), "image/png")


def test_the_pixel_budget_is_a_rule() -> None:
    rules = images.FrameRules(max_pixels=1000)
    with pytest.raises(FrameTooLarge):
        images.open_frame(encode((64, 48), "PNG"), rules=rules)


@pytest.mark.parametrize(("fmt", "kind"), [("JPEG", "image/jpeg"), ("PNG", "image/png"),
                                           ("WEBP", "image/webp")])  # fmt: skip
def test_magic_names_each_accepted_type_from_its_first_bytes(fmt: str, kind: str) -> None:
    head = encode((32, 32), fmt)[: magic.HEAD_BYTES]
    assert magic.image_type(head) == kind
    assert images.sniff(head) == kind


@pytest.mark.parametrize("head", [b"", b"\xff\xd8", b"GIF89a", b"RIFF\0\0\0\0WAVE", b"PK\x03\x04"])
def test_magic_names_nothing_else(head: bytes) -> None:
    assert magic.image_type(head) is None


def test_magic_needs_no_pillow() -> None:
    """The batch service pins the kit without the `[images]` extra."""
    code = "import sys; sys.modules['PIL'] = None; import shelter_kit.magic as m; print(m.__name__)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr

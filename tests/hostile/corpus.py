"""The hostile corpus: what a careless or malicious client sends, generated here (the big items
are built in memory, never committed).

- `frames()`: image bodies with the Content-Type they are sent with: valid frames of each type,
  each type mislabelled, truncated and corrupt ones, header-only and real decompression bombs,
  polyglots, zero bytes, too small and too thin frames, other formats.
- `json_bodies()`: malformed, deeply nested, huge-key-count JSON, huge strings, control
  characters, non-finite numbers, wrong content types.
- `path_ids()`: ids that must never reach a store or a file system: `.`, `..`, `%2e%2e`, `%00`,
  CRLF, unicode, control characters, 10,000 characters.
- `query_values()`: negative, zero, enormous and non-finite numbers, huge strings.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from dataclasses import dataclass
from functools import cache

from PIL import Image

MB = 1024 * 1024


@dataclass(frozen=True)
class Body:
    name: str
    data: bytes
    content_type: str | None


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


@cache
def photo(size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A picture with some texture (gradients), so that its encodings are not trivially small."""
    width, height = size
    row = bytes(range(256)) * (width // 256 + 1)
    data = b"".join(row[y % 97 : y % 97 + width] * 3 for y in range(height))
    return Image.frombytes("RGB", size, data[: width * height * 3])


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels and carries none."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A tiny real JPEG whose SOF header is rewritten to claim width x height."""
    data = bytearray(encode(photo((64, 48)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@cache
def png_bomb() -> bytes:
    """A real 1-bit PNG of 20,000 x 20,000 px (400 M px: 400 MB once Pillow decodes it) whose
    deflated rows weigh about 48 KB: the header alone must refuse it."""
    side = 20_000
    row = b"\x00" + b"\x00" * (side // 8)  # filter byte + one bit per pixel
    compressor = zlib.compressobj(9)
    rows = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", rows)
        + png_chunk(b"IEND", b"")
    )


def valid_frames() -> list[Body]:
    """One valid frame of each accepted type, declared as what it is."""
    return [
        Body("jpeg", encode(photo(), "JPEG", quality=85), "image/jpeg"),
        Body("png", encode(photo(), "PNG"), "image/png"),
        Body("webp", encode(photo(), "WEBP", quality=80), "image/webp"),
    ]


def frames() -> list[Body]:
    """Every hostile image body, with the type it is sent as. None of them is a valid frame."""
    jpeg, png, webp = (body.data for body in valid_frames())
    types = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
    by_name = {"jpeg": jpeg, "png": png, "webp": webp}
    mislabelled = [
        Body(f"{name}-as-{other}", data, types[other])
        for name, data in by_name.items()
        for other in types
        if other != name
    ]
    return [
        *mislabelled,
        Body("empty", b"", "image/jpeg"),
        Body("zero-bytes", b"\x00" * 4096, "image/jpeg"),
        Body("text", b"this is not an image at all" * 20, "image/png"),
        Body("jpeg-magic-garbage", b"\xff\xd8\xff\xe0" + b"\x00" * 500, "image/jpeg"),
        Body("jpeg-truncated", jpeg[: len(jpeg) // 2], "image/jpeg"),
        Body("jpeg-header-only", jpeg[:200], "image/jpeg"),
        Body("png-truncated", png[: len(png) // 2], "image/png"),
        Body("png-corrupt-idat", _corrupt_middle(png), "image/png"),
        Body("webp-truncated", webp[: len(webp) // 2], "image/webp"),
        Body("bomb-jpeg-header-20000", jpeg_claiming(20_000, 20_000), "image/jpeg"),
        Body("bomb-png-header-20000", png_header_only(20_000, 20_000), "image/png"),
        Body("bomb-png-real-48kb", png_bomb(), "image/png"),
        Body("tiny-2x2", encode(photo((2, 2)), "PNG"), "image/png"),
        Body("thin-4000x4", encode(photo((4000, 4)), "PNG"), "image/png"),
        Body("thin-2000x40", encode(photo((2000, 40)), "PNG"), "image/png"),
        Body("gif", encode(photo((64, 48)), "GIF"), "image/jpeg"),
        Body("bmp", encode(photo((64, 48)), "BMP"), "image/png"),
        Body("polyglot-jpeg-zip", jpeg[:300] + b"PK\x03\x04" + b"\x00" * 200, "image/jpeg"),
        Body("polyglot-html-png", b"<html><script>alert(1)</script>" + png, "image/png"),
    ]


def _corrupt_middle(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 64]) + data[middle + 64 :]


def content_types() -> list[str | None]:
    """Content-Types a frame route must refuse (415) or decide from the bytes."""
    return [None, "", "text/plain", "application/json", "image/gif", "image/svg+xml", "x/y;;;"]


def deep_json(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


@cache
def json_bodies() -> list[Body]:
    """Bodies every JSON route must answer with a 4xx problem (or a documented 2xx)."""
    huge_keys = json.dumps({f"k{i}": i for i in range(100_000)}).encode()
    return [
        Body("malformed", b'{"space_id": "k1",', "application/json"),
        Body("not-utf8", b"\xff\xfe\xb1!\x00", "application/json"),
        Body("empty", b"", "application/json"),
        Body("null", b"null", "application/json"),
        Body("array", b"[1, 2, 3]", "application/json"),
        Body("depth-10000-objects", deep_json(10_000), "application/json"),
        Body("depth-10000-arrays", b"[" * 10_000 + b"]" * 10_000, "application/json"),
        Body("keys-100000", huge_keys, "application/json"),
        Body("huge-string", json.dumps({"id": "x" * 2_000_000}).encode(), "application/json"),
        Body("nan", b'{"interval_s": NaN, "confidence": NaN}', "application/json"),
        Body("infinity", b'{"interval_s": Infinity, "limit": -Infinity}', "application/json"),
        Body(
            "enormous", b'{"interval_s": 1e999, "count": 1' + b"0" * 5000 + b"}", "application/json"
        ),
        Body(
            "control-chars", json.dumps({"id": "a\u0000b\r\nc\u001b"}).encode(), "application/json"
        ),
        Body("unicode", json.dumps({"id": "ǅ𝔘\u202e\ufeff猫"}).encode(), "application/json"),
        Body("as-text-plain", b'{"space_id": "k1", "mode": "bogus"}', "text/plain"),
        Body("no-content-type", b'{"space_id": "k1", "mode": "bogus"}', None),
        Body("as-form", b"space_id=k1&mode=bogus", "application/x-www-form-urlencoded"),
    ]


def path_ids() -> list[str]:
    """Raw (already percent-encoded) path segments to put in place of every path id."""
    return [
        ".",
        "..",
        "%2e%2e",
        "%2E",
        "..%2f..%2fetc",
        "%00",
        "a%00b",
        "a%0d%0aSet-Cookie:x=1",
        "%20",
        "a:b:c",
        "%E7%8C%AB",  # unicode
        "%C0%AE",  # overlong UTF-8 '.'
        "%1b%5b31m",  # an ANSI escape
        "x" * 10_000,
        "-1",
        "0",
        "NaN",
    ]


def query_values() -> list[str]:
    """Raw query values to put in every query parameter."""
    return ["-1", "0", "1e308", "9" * 400, "NaN", "Infinity", "-Infinity", "%00", "x" * 20_000]

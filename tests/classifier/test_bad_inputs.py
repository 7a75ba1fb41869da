"""Hostile and unusual images over HTTP: clear 4xx problem+json, never a 500; odd modes work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from classifier.config import Settings
from tests.classifier.conftest import AppClient, encode

PROBLEM = "application/problem+json"
TYPE_BASE = "https://shelter-watch.example/problems/"


def post_image(client: AppClient, data: bytes, content_type: str = "image/jpeg") -> dict[str, Any]:
    response = client.post("/v1/predict", content=data, headers={"Content-Type": content_type})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def expect_problem(
    response: httpx.Response, status: int, words: str = "", code: str | None = None
) -> dict[str, Any]:
    """A problem+json answer in the one dialect; `code` is the end of its `type`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith(TYPE_BASE)
    kind = body["type"].removeprefix(TYPE_BASE)
    assert body["title"] == kind.replace("-", " ").capitalize()
    if code is not None:
        assert kind == code
    assert body["instance"] == response.request.url.path
    assert body["request_id"] == response.headers["x-request-id"]
    assert words.lower() in body["detail"].lower()
    return body


@pytest.mark.parametrize(
    ("mode", "fmt", "content_type"),
    [
        ("L", "JPEG", "image/jpeg"),
        ("CMYK", "JPEG", "image/jpeg"),
        ("P", "PNG", "image/png"),
        ("RGBA", "PNG", "image/png"),
        ("LA", "PNG", "image/png"),
        ("I;16", "PNG", "image/png"),
        ("RGB", "WEBP", "image/webp"),
    ],
)
def test_pixel_modes_and_formats_classify(
    client: AppClient, cat_photo: Image.Image, mode: str, fmt: str, content_type: str
) -> None:
    if mode == "I;16":
        gray = np.asarray(cat_photo.convert("L"), dtype=np.uint16) * 257
        image = Image.fromarray(gray.astype("<u2"))
    elif mode in ("RGBA", "LA"):
        image = cat_photo.convert(mode)
        alpha = np.full(image.size[::-1], 255, dtype=np.uint8)
        alpha[:20, :20] = 0  # a transparent corner, outside the centre crop
        image.putalpha(Image.fromarray(alpha, "L"))
    else:
        image = cat_photo.convert(mode)
    assert image.mode == mode
    body = post_image(client, encode(image, fmt), content_type)
    assert body["label"] == "cat", body


def test_exif_orientation_is_applied(client: AppClient, cat_photo: Image.Image) -> None:
    upright = post_image(client, encode(cat_photo, quality=95))["probabilities"]
    turned = cat_photo.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to view": undoes the turn above
    tagged = post_image(client, encode(turned, quality=95, exif=exif))["probabilities"]
    untagged = post_image(client, encode(turned, quality=95))["probabilities"]

    def distance(a: dict[str, float], b: dict[str, float]) -> float:
        return sum(abs(a[k] - b[k]) for k in a)

    assert distance(tagged, upright) < 0.02
    assert distance(tagged, upright) < distance(untagged, upright)


def test_body_over_the_limit_by_content_length(client: AppClient, settings: Settings) -> None:
    body = b"\xff\xd8" + bytes(settings.max_body_bytes)
    response = client.post("/v1/predict", content=body, headers={"Content-Type": "image/jpeg"})
    expect_problem(response, 413, "limit", "body-too-large")


def test_body_over_the_limit_while_streaming(client: AppClient, settings: Settings) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield bytes(65536)

    response = client.post("/v1/predict", content=chunks(), headers={"Content-Type": "image/jpeg"})
    assert "content-length" not in response.request.headers
    expect_problem(response, 413, "limit", "body-too-large")


def test_multipart_over_the_limit(client: AppClient, settings: Settings) -> None:
    files = {"image": ("big.jpg", bytes(settings.max_body_bytes + 10), "image/jpeg")}
    expect_problem(client.post("/v1/predict", files=files), 413, code="body-too-large")


def test_too_many_pixels(client: AppClient, settings: Settings) -> None:
    side = int((settings.max_pixels * 1.2) ** 0.5)
    flat = encode(Image.new("RGB", (side, side), (40, 90, 160)), "PNG")
    assert len(flat) < settings.max_body_bytes  # small file, many pixels
    response = client.post("/v1/predict", content=flat, headers={"Content-Type": "image/png"})
    expect_problem(response, 413, "pixels", "image-too-large")


def test_thin_image_that_would_grow_too_large(client: AppClient, settings: Settings) -> None:
    """1 x 300000 px passes the pixel limit, but would be 256 x 76.8 M px once scaled: the kit's
    frame rules refuse it (under 8 px a side), as camera-ingest does."""
    thin = encode(Image.new("RGB", (1, 300_000), (40, 90, 160)), "PNG")
    assert len(thin) < 10_000
    assert settings.max_pixels > 300_000
    response = client.post("/v1/predict", content=thin, headers={"Content-Type": "image/png"})
    body = expect_problem(response, 422, "too small", "corrupt-image")
    assert "1x300000" in body["detail"]


def test_decompression_bomb_header(client: AppClient, cat_photo: Image.Image) -> None:
    """A JPEG whose header claims 30000 x 30000 pixels: refused before decoding."""
    data = bytearray(encode(cat_photo.resize((64, 48))))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = (30000).to_bytes(2, "big") * 2
    response = client.post(
        "/v1/predict", content=bytes(data), headers={"Content-Type": "image/jpeg"}
    )
    expect_problem(response, 413, code="image-too-large")


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("truncated", lambda jpeg: jpeg[: len(jpeg) // 2]),
        ("garbage", lambda jpeg: b"this is not an image" * 10),
        ("empty", lambda jpeg: b""),
        ("header only", lambda jpeg: jpeg[:200]),
    ],
)
def test_corrupt_images_are_422(client: AppClient, cat_photo: Image.Image, name: str, make) -> None:
    data = make(encode(cat_photo))
    response = client.post("/v1/predict", content=data, headers={"Content-Type": "image/jpeg"})
    expect_problem(response, 422, code="corrupt-image")


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_other_image_formats_are_415(client: AppClient, cat_photo: Image.Image, fmt: str) -> None:
    data = encode(cat_photo.resize((64, 48)), fmt)
    response = client.post("/v1/predict", content=data, headers={"Content-Type": "image/jpeg"})
    expect_problem(response, 415, fmt, "unsupported-image")


@pytest.mark.parametrize("content_type", ["text/plain", "application/json", "image/gif", ""])
def test_unsupported_content_types_are_415(
    client: AppClient, cat_photo: Image.Image, content_type: str
) -> None:
    response = client.post(
        "/v1/predict", content=encode(cat_photo), headers={"Content-Type": content_type}
    )
    expect_problem(response, 415, "content-type", "unsupported-media-type")


def test_multipart_without_image_part(client: AppClient, cat_photo: Image.Image) -> None:
    wrong_field = {"photo": ("x.jpg", encode(cat_photo), "image/jpeg")}
    expect_problem(client.post("/v1/predict", files=wrong_field), 422, "image", "bad-multipart")
    text_only = client.post("/v1/predict", files={"image": (None, "just text")})
    expect_problem(text_only, 422, "image", "bad-multipart")


def test_malformed_multipart(client: AppClient) -> None:
    no_boundary = client.post(
        "/v1/predict", content=b"--x\r\n", headers={"Content-Type": "multipart/form-data"}
    )
    expect_problem(no_boundary, 422, "boundary", "bad-multipart")
    garbage = client.post(
        "/v1/predict",
        content=b"\x00\x01garbage",
        headers={"Content-Type": "multipart/form-data; boundary=zzz"},
    )
    assert 400 <= garbage.status_code < 500


def test_two_images_in_a_single_predict(client: AppClient, cat_photo: Image.Image) -> None:
    data = encode(cat_photo)
    files = [("image", ("a.jpg", data, "image/jpeg")), ("image", ("b.jpg", data, "image/jpeg"))]
    expect_problem(client.post("/v1/predict", files=files), 413, code="too-many-images")


def test_unknown_route_and_method_are_problems(client: AppClient) -> None:
    expect_problem(client.get("/v1/nothing-here"), 404, code="not-found")
    expect_problem(client.get("/v1/predict"), 405, code="method-not-allowed")

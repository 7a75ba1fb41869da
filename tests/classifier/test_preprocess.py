"""Image bytes to tensor: formats, modes, orientation, and every way bytes can be bad."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tools.model_input import input_size, tensor_for

from classifier.errors import CorruptImage, ImageTooLarge, UnsupportedImage
from classifier.model import ModelInfo
from classifier.preprocess import load_image, preprocess, resize_for, to_tensor

LIMIT = 50_000_000


def encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def test_sample_photo_gives_normalised_nchw_tensor(sample_dir: Path) -> None:
    x = preprocess((sample_dir / "cat" / "oxpet-001.jpg").read_bytes(), max_pixels=LIMIT)
    assert x.shape == (3, 224, 224)
    assert x.dtype == np.float32
    assert x.min() >= -127 / 128
    assert x.max() <= 128 / 128
    assert x.std() > 0.1  # a real photo, not a flat tensor


def test_normalisation_and_center_crop() -> None:
    image = Image.new("RGB", (600, 300), (127, 127, 127))
    image.paste((255, 0, 0), (0, 0, 100, 300))  # a red band that the center crop removes
    x = to_tensor(image)
    np.testing.assert_array_equal(x, np.zeros((3, 224, 224), dtype=np.float32))


def test_exif_orientation_is_applied() -> None:
    image = Image.new("RGB", (400, 300), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 400, 30))  # white strip at the top
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    loaded = load_image(encode(image, "JPEG", exif=exif.tobytes()), max_pixels=LIMIT)
    assert loaded.size == (300, 400)
    assert np.asarray(loaded)[:, -10:].mean() > 200  # the strip is now on the right


def test_large_jpeg_is_drafted_down_but_stays_above_256() -> None:
    data = encode(Image.new("RGB", (2048, 1536), (10, 200, 30)), "JPEG")
    assert load_image(data, max_pixels=LIMIT).size == (512, 384)
    assert preprocess(data, max_pixels=LIMIT).shape == (3, 224, 224)


def test_lite2_size_crops_260_after_a_292_short_side() -> None:
    """EfficientNet-Lite2 takes 260x260: short side to 292 (crop + 32, as 224 <- 256), centre."""
    assert resize_for((224, 224)) == 256
    assert resize_for((260, 260)) == 292
    image = Image.new("RGB", (876, 292), (127, 127, 127))  # scale 1: a 260 crop at x 308..568
    image.paste((255, 0, 0), (0, 0, 308, 292))
    image.paste((0, 0, 255), (568, 0, 876, 292))
    x = to_tensor(image, crop=(260, 260), resize=292)
    np.testing.assert_array_equal(x, np.zeros((3, 260, 260), dtype=np.float32))
    wider = to_tensor(image, crop=(260, 262), resize=292)  # one more column each side: colour
    assert wider.shape == (3, 260, 262)
    assert wider[:, :, 0].any()
    assert wider[:, :, -1].any()


def test_lite2_size_drafts_large_jpegs_no_smaller_than_292() -> None:
    """Drafting for 256 would decode 1920x1080 at 480x270 and upscale it; at 292 it is 960x540."""
    data = encode(Image.new("RGB", (1920, 1080), (10, 200, 30)), "JPEG")
    assert load_image(data, max_pixels=LIMIT).size == (480, 270)
    assert load_image(data, max_pixels=LIMIT, resize=292).size == (960, 540)
    x = preprocess(data, max_pixels=LIMIT, crop=(260, 260), resize=292)
    assert x.shape == (3, 260, 260)
    assert np.allclose(x[:, 130, 130], (np.array([10, 200, 30]) - 127) / 128, atol=0.05)


def info_of(size: int, preprocessing: dict[str, object]) -> ModelInfo:
    return ModelInfo(
        name="m", version="1", sha256="0" * 64, path=Path("model.onnx"), input_name="images",
        input_shape=(None, 3, size, size), labels=("cat", "dog", "other"),
        preprocessing=preprocessing, other_threshold=0.2, precision="fp32", accuracy=None,
    )  # fmt: skip


def test_the_tools_preprocess_each_model_as_the_service_does(sample_dir: Path) -> None:
    """tools/model_input.py: the crop from input_shape, the short side from resize_to (else
    crop + 32); Lite0's metadata gives exactly the default preprocessing's bytes."""
    data = (sample_dir / "cat" / "oxpet-001.jpg").read_bytes()
    lite0 = info_of(224, {"resize_to": 256})
    np.testing.assert_array_equal(tensor_for(lite0, data), preprocess(data, max_pixels=LIMIT))
    assert input_size(info_of(260, {"resize_to": 292})) == ((260, 260), 292)
    assert input_size(info_of(260, {})) == ((260, 260), 292)
    assert input_size(info_of(260, {"resize_to": 320})) == ((260, 260), 320)
    assert tensor_for(info_of(260, {}), data).shape == (3, 260, 260)


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [
        ("L", "JPEG"),
        ("CMYK", "JPEG"),
        ("P", "PNG"),
        ("RGBA", "PNG"),
        ("LA", "PNG"),
        ("I;16", "PNG"),
        ("RGB", "WEBP"),
    ],
)
def test_pixel_modes_become_rgb(mode: str, fmt: str) -> None:
    image = Image.new("RGB", (64, 48), (200, 100, 50)).convert(mode)
    loaded = load_image(encode(image, fmt), max_pixels=LIMIT)
    assert loaded.mode == "RGB"
    assert loaded.size == (64, 48)
    assert to_tensor(loaded).shape == (3, 224, 224)


def test_transparent_pixels_become_white() -> None:
    image = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    assert np.asarray(load_image(encode(image, "PNG"), max_pixels=LIMIT)).min() == 255


def test_too_many_pixels_is_refused() -> None:
    data = encode(Image.new("RGB", (200, 100)), "PNG")
    with pytest.raises(ImageTooLarge, match="20000 pixels"):
        load_image(data, max_pixels=19_999)


@pytest.mark.parametrize(
    ("size", "why"),
    [((1, 300_000), "too small"), ((300_000, 1), "too small"), ((20, 60_000), "too thin")],
)
def test_thin_image_refused_by_the_frame_rules(size: tuple[int, int], why: str) -> None:
    """Few pixels, but scaling the short side to 256 would make billions: the kit's frame rules
    (min side, max aspect) refuse it from the header, as camera-ingest does."""
    data = encode(Image.new("RGB", size, (10, 20, 30)), "PNG")
    assert len(data) < 100_000
    assert size[0] * size[1] < LIMIT
    with pytest.raises(CorruptImage, match=why):
        load_image(data, max_pixels=LIMIT)


def test_thin_image_within_the_aspect_limit_still_classifies() -> None:
    image = Image.new("RGB", (40, 800), (10, 20, 30))  # 20:1, the widest frame allowed
    x = preprocess(encode(image, "PNG"), max_pixels=LIMIT)
    assert x.shape == (3, 224, 224)
    assert np.allclose(x[:, 0, 0], (np.array([10, 20, 30]) - 127) / 128)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height but carries only a few bytes of pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [20_000, 60_000])  # under and over Pillow's own bomb limit
def test_decompression_bomb_is_refused_from_the_header(side: int) -> None:
    with pytest.raises(ImageTooLarge):
        load_image(png_header_only(side, side), max_pixels=LIMIT)


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all", b"\xff\xd8\xff\xe0" + b"\x00" * 50],
    ids=["empty", "text", "jpeg-magic-garbage"],
)
def test_garbage_is_corrupt(data: bytes) -> None:
    with pytest.raises(CorruptImage):
        load_image(data, max_pixels=LIMIT)


def test_truncated_jpeg_is_corrupt(sample_dir: Path) -> None:
    data = (sample_dir / "dog" / "oxpet-001.jpg").read_bytes()
    with pytest.raises(CorruptImage):
        preprocess(data[: len(data) // 3], max_pixels=LIMIT)


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_other_formats_are_unsupported(fmt: str) -> None:
    with pytest.raises(UnsupportedImage, match=fmt):
        load_image(encode(Image.new("RGB", (16, 16)), fmt), max_pixels=LIMIT)

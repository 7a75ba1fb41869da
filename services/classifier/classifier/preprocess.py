"""Image bytes to the model's input tensor: the one preprocessing used to train, eval and serve.

Decode with the kit's frame rules (`shelter_kit.images`: the same formats, sizes and full-decode
check as camera-ingest's intake; JPEG draft at >= 256 px, which is what makes large photos cheap),
apply EXIF orientation, convert to RGB, resize the short side to 256 (bilinear), center-crop
224x224, ``(x - 127) / 128``, channels first. This matches the metadata's ``preprocessing`` and
the shipped head's training.

Another input size (EfficientNet-Lite2's 260, a tiny test model's 16) passes ``crop`` (height,
width) and ``resize`` (the short side before the crop); ``resize_for`` gives TF EfficientNet's
crop padding (crop + 32: 224 -> 256, 260 -> 292) unless the metadata names ``resize_to``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image, ImageOps

from classifier.errors import CorruptImage, ImageTooLarge, UnsupportedImage
from shelter_kit import images
from shelter_kit.errors import FrameRefused, FrameTooLarge, FrameTypeRefused

ACCEPTED_FORMATS = tuple(images.ACCEPTED_TYPES.values())
RESIZE_TO = 256
CROP = 224
CROP_PADDING = 32  # short side = crop + 32 before the centre crop
MEAN = 127.0
SCALE = 128.0


def _open(data: bytes, *, max_pixels: int, resize: int) -> Image.Image:
    """The kit's one definition of a valid frame (camera-ingest's too), decoded; our errors."""
    try:
        return images.open_frame(data, rules=_rules(max_pixels), draft=resize)
    except FrameTypeRefused as exc:
        raise UnsupportedImage(str(exc)) from exc
    except FrameTooLarge as exc:
        raise ImageTooLarge(str(exc)) from exc
    except FrameRefused as exc:
        raise CorruptImage(str(exc)) from exc


def _rules(max_pixels: int) -> images.FrameRules:
    if max_pixels == images.DEFAULT_RULES.max_pixels:
        return images.DEFAULT_RULES
    return dataclasses.replace(images.DEFAULT_RULES, max_pixels=max_pixels)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        return background
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16/32-bit grayscale: scale to 8 bits
        array = np.asarray(image, dtype=np.float64)
        peak = float(array.max()) or 1.0
        image = Image.fromarray((array * (255.0 / peak)).clip(0, 255).astype(np.uint8), "L")
    try:
        return image.convert("RGB")
    except ValueError as exc:
        raise UnsupportedImage(f"pixel mode {image.mode} is not supported") from exc


def resize_for(crop: tuple[int, int], resize_to: object = None) -> int:
    """The short side to resize to before a ``crop`` (height, width) centre crop."""
    if isinstance(resize_to, int) and not isinstance(resize_to, bool) and resize_to >= max(crop):
        return resize_to
    return max(crop) + CROP_PADDING


def scaled_size(width: int, height: int, resize: int = RESIZE_TO) -> tuple[int, int]:
    """The size after the short side is resized to ``resize`` (what to_tensor resizes to)."""
    scale = resize / min(width, height)
    return max(resize, round(width * scale)), max(resize, round(height * scale))


def load_image(data: bytes, *, max_pixels: int, resize: int = RESIZE_TO) -> Image.Image:
    """Decoded RGB image, upright per its EXIF orientation.

    Raises ImageTooLarge (checked from the header, before any pixel is decoded), UnsupportedImage
    or CorruptImage: the kit's frame rules (`shelter_kit.images`), with `max_pixels` as given.
    """
    image = _open(data, max_pixels=max_pixels, resize=resize)
    try:
        image = ImageOps.exif_transpose(image)
    except Exception as exc:  # a hostile EXIF block: corrupt, like any other decode failure
        raise CorruptImage(f"image does not decode: {exc}") from exc
    return _to_rgb(image)


def to_tensor(
    image: Image.Image, *, crop: tuple[int, int] = (CROP, CROP), resize: int = RESIZE_TO
) -> np.ndarray:
    """float32 [3, 224, 224]: short side to 256 (bilinear), center crop, (x - 127) / 128."""
    size = scaled_size(*image.size, resize)
    resized = image.resize(size, Image.Resampling.BILINEAR)
    height, width = crop
    left = round((size[0] - width) / 2)
    top = round((size[1] - height) / 2)
    crop_box = resized.crop((left, top, left + width, top + height))
    array = np.asarray(crop_box, dtype=np.float32)
    return np.ascontiguousarray(((array - MEAN) / SCALE).transpose(2, 0, 1))


def preprocess(
    data: bytes, *, max_pixels: int, crop: tuple[int, int] = (CROP, CROP), resize: int = RESIZE_TO
) -> np.ndarray:
    """Image bytes to float32 [3, 224, 224] (see load_image for the errors raised)."""
    image = load_image(data, max_pixels=max_pixels, resize=resize)
    return to_tensor(image, crop=crop, resize=resize)

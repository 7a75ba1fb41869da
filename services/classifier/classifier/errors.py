"""Domain errors of the classifier. They carry no HTTP; ``main.py`` maps each to a status.

ClassifierError
 +-- ImageError               the uploaded bytes cannot be classified
 |    +-- UnsupportedImage    not JPEG, PNG or WebP, or a pixel mode we cannot read (415)
 |    +-- CorruptImage        claims to be an image but does not decode (422)
 |    +-- ImageTooLarge       more pixels than allowed, checked before decoding (413)
 +-- InvalidInput             a raw inference request (Open Inference Protocol) with wrong
 |                            tensor names, shapes or types (422)
 +-- ModelError               the model cannot answer
      +-- ModelNotFound       no such model name / version (404)
      +-- ModelNotReady       not loaded or not warmed up yet (503)
"""

from __future__ import annotations


class ClassifierError(Exception):
    """Base of every error the classifier raises on purpose."""


class ImageError(ClassifierError):
    """The uploaded bytes cannot be turned into a model input."""


class UnsupportedImage(ImageError):
    """Not an image format (or pixel mode) the classifier accepts."""


class CorruptImage(ImageError):
    """Not decodable: truncated, damaged, or not an image at all."""


class ImageTooLarge(ImageError):
    """More pixels than the configured limit (decompression-bomb guard)."""


class InvalidInput(ClassifierError):
    """A raw inference request whose tensors do not fit the model's inputs."""


class ModelError(ClassifierError):
    """The model cannot be found, read or run."""


class ModelNotFound(ModelError):
    """No model with that name and version under the model directory."""


class ModelNotReady(ModelError):
    """The model exists but its session is not loaded and warmed up yet."""

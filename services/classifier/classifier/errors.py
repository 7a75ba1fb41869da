"""Domain errors of the classifier, and the one map from each to its HTTP status.

The exceptions carry no HTTP. `ERROR_STATUS` sits beside them (not in main.py) because the batch
route renders one problem per failed image with `shelter_kit.handlers.domain_problem`, and
`api.py` must not import `main.py`; `main.py` hands the same map to `shelter_kit.install`.

ClassifierError
 +-- ImageError                 the uploaded bytes cannot be classified
 |    +-- UnsupportedImage      not JPEG, PNG or WebP, or a pixel mode we cannot read   415
 |    +-- CorruptImage          claims to be an image but does not decode               422
 |    +-- ImageTooLarge         more pixels than allowed, checked before decoding       413
 +-- RequestError               the request around the image is wrong
 |    +-- UnsupportedMediaType  a Content-Type the route does not take                  415
 |    +-- TooManyImages         a batch with more images than allowed                   413
 |    +-- BadMultipart          malformed multipart, or no image part in it             422
 +-- InvalidInput               a raw inference request (Open Inference Protocol) with
 |                              wrong tensor names, shapes or types                     422
 +-- ModelError                 the model cannot answer                                 500
 |    +-- ModelNotFound         no such model name / version                            404
 |    +-- ModelNotReady         not loaded and warmed yet                               503
 +-- Overloaded                 more images wait for the model than the queue holds     503

Raised by shelter-kit, mapped by it (this module stays free of the web kit, so the model tools
that import `preprocess` do not need it):
 shelter_kit.errors.BodyTooLarge   a body over its limit, declared or streamed          413
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


class RequestError(ClassifierError):
    """The request around the image is wrong."""


class UnsupportedMediaType(RequestError):
    """The body's Content-Type is not one this route accepts."""


class TooManyImages(RequestError):
    """A batch request carries more images than the configured limit."""


class BadMultipart(RequestError):
    """A multipart body that does not parse, or lacks the expected file part."""


class InvalidInput(ClassifierError):
    """A raw inference request whose tensors do not fit the model's inputs."""


class ModelError(ClassifierError):
    """The model cannot be found, read or run."""


class ModelNotFound(ModelError):
    """No model with that name and version under the model directory."""


class ModelNotReady(ModelError):
    """The model exists but its session is not loaded and warmed up yet."""


class Overloaded(ClassifierError):
    """More images wait for the model than the queue holds; retry shortly."""


ERROR_STATUS: dict[type[Exception], int] = {
    UnsupportedImage: 415,
    CorruptImage: 422,
    ImageTooLarge: 413,
    UnsupportedMediaType: 415,
    TooManyImages: 413,
    BadMultipart: 422,
    InvalidInput: 422,
    ModelError: 500,
    ModelNotFound: 404,
    ModelNotReady: 503,
    Overloaded: 503,
    ClassifierError: 500,
}

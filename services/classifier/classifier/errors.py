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
 +-- RegistryError              a change to the model registry is refused
 |    +-- InvalidModel          an upload that fails validation (the reason is the detail)  422
 |    +-- VersionExists         that name/version is already registered with other bytes  409
 |    +-- VersionInUse          DELETE of a version the deployment routes traffic to      409
 |    +-- VersionBuiltIn        DELETE of a version built into the image (build/models)   409
 +-- DeploymentError            a deployment change is refused
 |    +-- InvalidDeployment     names an unknown or unready version, or breaks a rule     422
 |    +-- NothingToChange       promote without a candidate, rollback without a previous  409
 |    +-- DeploymentConflict    another replica changed the deployment meanwhile          409
 +-- FeedbackError
 |    +-- PredictionNotFound    no logged prediction with that id (unknown or expired)    404
 |    +-- FeedbackConflict      that prediction already has feedback with another label   409
 +-- NotConfigured              the feature needs a setting this process lacks
                                (CLASSIFIER_REDIS_URL, CLASSIFIER_STORE_DIR)              503

Raised by shelter-kit, mapped by it (this module stays free of the web kit, so the model tools
that import `preprocess` do not need it):
 shelter_kit.errors.BodyTooLarge      a body over its limit, declared or streamed          413
 shelter_kit.errors.StoreUnavailable  Redis (the deployment store) does not answer         503
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


class RegistryError(ClassifierError):
    """A change to the model registry is refused."""


class InvalidModel(RegistryError):
    """An uploaded model (or its metadata) that does not pass validation."""


class VersionExists(RegistryError):
    """The name/version is registered already, with other bytes or metadata."""


class VersionInUse(RegistryError):
    """The version plays a role in the deployment (it may receive traffic)."""


class VersionBuiltIn(RegistryError):
    """The version comes from the model directory (the image), not from an upload."""


class DeploymentError(ClassifierError):
    """A deployment change is refused."""


class InvalidDeployment(DeploymentError):
    """The new deployment names an unknown or unready version, or breaks a rule."""


class NothingToChange(DeploymentError):
    """Promote without a candidate, or rollback with no candidate and no previous primary."""


class DeploymentConflict(DeploymentError):
    """The deployment changed under us several times in a row; retry."""


class FeedbackError(ClassifierError):
    """Feedback that cannot be recorded."""


class PredictionNotFound(FeedbackError):
    """No logged prediction has that id (never made, or older than the retention)."""


class FeedbackConflict(FeedbackError):
    """That prediction already has feedback with another label."""


class NotConfigured(ClassifierError):
    """The feature needs a setting this process was started without."""


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
    InvalidModel: 422,
    VersionExists: 409,
    VersionInUse: 409,
    VersionBuiltIn: 409,
    InvalidDeployment: 422,
    NothingToChange: 409,
    DeploymentConflict: 409,
    PredictionNotFound: 404,
    FeedbackConflict: 409,
    NotConfigured: 503,
    ClassifierError: 500,
}

"""Domain errors of the batch service. They carry no HTTP; `ERROR_STATUS` maps them once
(`main.py` hands it to the kit).

Answered by the API (each one problem+json; the `type` names the leaf class):

BatchError
+-- NotFound                                                                    404
|   +-- JobNotFound               unknown (or expired) job id
+-- Conflict                                                                    409
|   +-- JobFinished               cancel of a job that is already done or failed
+-- InvalidJob                                                                  422
|   +-- UnknownModel              the target is no model (version) the classifier serves
|   +-- InvalidSource             no items, too many items, a bad frame-archive query
|   +-- ArchiveRefused            the upload is not read as a job at all:
|       +-- CorruptArchive        not a zip or tar, or damaged
|       +-- HostileArchive        a name that climbs out or is absolute; a link or device
|       +-- ArchiveTooLarge       more entries, or more expanded bytes, than the limits
+-- UploadTooLarge                over BATCH_MAX_UPLOAD_BYTES (also the kit's BodyTooLarge) 413
+-- UnsupportedMediaType          neither JSON nor an archive type                 415
+-- Unavailable                                                                 503
    +-- ClassifierUnavailable     the target cannot be resolved now
    +-- IngestUnavailable         the frame archive does not answer
StoreUnavailable                  the kit's: Redis does not answer                 503

Handled inside the workers, never reaching the API:

ItemFailed                        one item cannot be classified: its reason is its result
Transient                         the classifier / ingest / a URL fails for now: retry
+-- ServerErrorAnswer             the classifier answered 500: N in a row fail those items
RequestTooLarge                   the classifier refused the request's size (413): split it
RequestRefused                    the classifier refused the request itself (400/415/422)
ModelGone                         the job's model version is no longer served: the job fails
ChunkLost                         another consumer took the chunk over: stop working on it
"""

from __future__ import annotations

from shelter_kit.errors import BodyTooLarge, StoreUnavailable

__all__ = ["StoreUnavailable"]  # the kit's, raised by its `translated`; re-exported for the tree


class BatchError(Exception):
    """Base of every error the API answers on purpose."""


class NotFound(BatchError):
    pass


class JobNotFound(NotFound):
    pass


class Conflict(BatchError):
    pass


class JobFinished(Conflict):
    pass


class InvalidJob(BatchError):
    pass


class UnknownModel(InvalidJob):
    pass


class InvalidSource(InvalidJob):
    pass


class ArchiveRefused(InvalidJob):
    pass


class CorruptArchive(ArchiveRefused):
    pass


class HostileArchive(ArchiveRefused):
    pass


class ArchiveTooLarge(ArchiveRefused):
    pass


class UploadTooLarge(BatchError, BodyTooLarge):
    """A body over the upload limit; a kit `BodyTooLarge` too, with its `limit`."""


class UnsupportedMediaType(BatchError):
    pass


class Unavailable(BatchError):
    retry_after_s = 5


class ClassifierUnavailable(Unavailable):
    pass


class IngestUnavailable(Unavailable):
    pass


class ItemFailed(Exception):
    """`reason` is a short code (`not-an-image`, `egress-refused`, ...), counted per job."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class Transient(Exception):
    pass


class ServerErrorAnswer(Transient):
    pass


class RequestTooLarge(Exception):
    pass


class RequestRefused(Exception):
    pass


class ModelGone(Exception):
    pass


class ChunkLost(Exception):
    pass


ERROR_STATUS: dict[type[Exception], int] = {
    NotFound: 404,
    Conflict: 409,
    InvalidJob: 422,
    UploadTooLarge: 413,
    UnsupportedMediaType: 415,
    Unavailable: 503,
    StoreUnavailable: 503,
}

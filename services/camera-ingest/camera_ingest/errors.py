"""Domain errors of camera-ingest. They carry no HTTP; `main.ERROR_STATUS` maps them once.

Answered by the API (each one problem+json; the `type` names the leaf class):

IngestError
+-- NotFound                                                                  404
|   +-- CameraNotFound              unknown camera id
|   +-- FrameNotFound               unknown (or expired) frame id
|   +-- FrameNotRetained            a frame whose bytes the archive does not hold (any more)
|   +-- NoFrameYet                  latest of a camera that has no archived frame yet
+-- Conflict                                                                  409
|   +-- CameraExists                create of an id that is taken
|   +-- CameraDisabled              frame for a disabled camera
|   +-- NotRedrivable               redrive of a frame that is not dead
+-- InvalidCamera                   a patch that would make the camera invalid  422
|   +-- SnapshotUrlRefused          its snapshot URL reaches a refused address   422
+-- InvalidFrame
|   +-- FrameTooLarge               over INGEST_MAX_FRAME_BYTES (also the kit's BodyTooLarge) 413
|   +-- ImageTooLarge               more pixels than the kit's rules (a bomb)    413
|   +-- UnsupportedMediaType        not image/jpeg|png|webp                     415
|   +-- UndecodableImage            bytes are not the image they claim to be    422
+-- OutboxFull                      backpressure: depth over INGEST_OUTBOX_MAX_DEPTH  503
+-- ArchiveUnavailable              the archive's store cannot be read (disk error)   503
StoreUnavailable                    the kit's: Redis does not answer            503

Handled inside the poller, never reaching the API (each one the camera's `last_error`):

SnapshotError                       the camera did not answer with an image
+-- SnapshotRefused                 its address is refused at fetch time (after DNS resolution)

Raised by `egress.AddressGuard`, translated by its callers into the two above:

EgressRefused                       a host that resolves to a refused address (loopback, private..)
HostUnresolved                      a host name that does not resolve

Handled inside the delivery workers, never reaching the API:

EntryLost                           a worker's entry was taken over by another consumer
DownstreamError                     raised by clients.py
+-- TransientDownstreamError        5xx, timeout, connection refused: retry with backoff
|   +-- CircuitOpen                 the breaker refuses the call without trying it
|   +-- ServerErrorAnswer           answered 500 (not 502/503/504): maybe this frame is poison;
|                                   N in a row for one frame -> dead (INGEST_MAX_SERVER_ERRORS)
+-- PermanentDownstreamError        413/415/422...: the frame goes to the dead-letter set
    +-- FrameExpired                the frame's bytes expired before it was classified
"""

from __future__ import annotations

from shelter_kit.errors import BodyTooLarge, StoreUnavailable

__all__ = ["StoreUnavailable"]  # the kit's, raised by its `translated`; re-exported for the tree


class IngestError(Exception):
    """Base of every error the API answers on purpose."""


class NotFound(IngestError):
    pass


class CameraNotFound(NotFound):
    pass


class FrameNotFound(NotFound):
    pass


class FrameNotRetained(NotFound):
    pass


class NoFrameYet(NotFound):
    pass


class Conflict(IngestError):
    pass


class CameraExists(Conflict):
    pass


class CameraDisabled(Conflict):
    pass


class NotRedrivable(Conflict):
    pass


class InvalidCamera(IngestError):
    pass


class SnapshotUrlRefused(InvalidCamera):
    """A snapshot URL whose host is, or resolves to, an address the egress rules refuse."""


class InvalidFrame(IngestError):
    pass


class FrameTooLarge(InvalidFrame, BodyTooLarge):
    """A body over the byte limit; a kit `BodyTooLarge` too, with its `limit`."""


class ImageTooLarge(InvalidFrame):
    pass


class UnsupportedMediaType(InvalidFrame):
    pass


class UndecodableImage(InvalidFrame):
    pass


class OutboxFull(IngestError):
    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s  # the kit's handler sends it as Retry-After


class ArchiveUnavailable(IngestError):
    def __init__(self, detail: str, *, retry_after_s: int = 5) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class SnapshotError(Exception):
    """The camera did not answer with an image (status, timeout, connection). The message is
    the camera's `last_error`: it never holds the URL's credentials."""


class SnapshotRefused(SnapshotError):
    pass


class EgressRefused(Exception):
    """The host is, or resolves to, an address outside what snapshot fetches may reach."""


class HostUnresolved(Exception):
    pass


class EntryLost(Exception):
    """Our pending entry was reclaimed by another consumer (or finished): stop handling it."""


class DownstreamError(Exception):
    def __init__(self, service: str, detail: str) -> None:
        super().__init__(f"{service}: {detail}")
        self.service = service
        self.detail = detail


class TransientDownstreamError(DownstreamError):
    pass


class CircuitOpen(TransientDownstreamError):
    def __init__(self, service: str, retry_in_s: float) -> None:
        super().__init__(service, f"circuit open, next try in {retry_in_s:.1f}s")
        self.retry_in_s = retry_in_s


class ServerErrorAnswer(TransientDownstreamError):
    """The downstream answered a 5xx that may be about this frame (not an outage status)."""

    probe = False
    """Answered to the breaker's half-open probe: the downstream was failing every frame just
    before, so this 500 says it still is, not that this frame is poison."""


class PermanentDownstreamError(DownstreamError):
    pass


class FrameExpired(PermanentDownstreamError):
    def __init__(self, frame_id: str) -> None:
        super().__init__("ingest", f"frame {frame_id} bytes expired before classification")

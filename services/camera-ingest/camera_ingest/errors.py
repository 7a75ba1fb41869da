"""Domain errors of camera-ingest. They carry no HTTP; `main.ERROR_STATUS` maps them to statuses.

IngestError
+-- NotFound
|   +-- CameraNotFound              unknown camera id
|   +-- FrameNotFound               unknown (or expired) frame id
+-- Conflict
|   +-- CameraExists                create of an id that is taken
|   +-- CameraDisabled              frame for a disabled camera
|   +-- NotRedrivable               redrive of a frame that is not dead
+-- EntryLost                       a worker's entry was taken over; never reaches the API
+-- InvalidFrame
|   +-- FrameTooLarge               over INGEST_MAX_FRAME_BYTES
|   +-- UnsupportedMediaType        not image/jpeg|png|webp
|   +-- UndecodableImage            bytes are not the image they claim to be
+-- Unavailable
    +-- OutboxFull                  backpressure: depth over INGEST_OUTBOX_MAX_DEPTH
    +-- StoreUnavailable            Redis does not answer

DownstreamError                     raised by clients.py, handled inside delivery.py
+-- TransientDownstreamError        5xx, timeout, connection refused: retry with backoff
|   +-- CircuitOpen                 the breaker refuses the call without trying it
|   +-- ServerErrorAnswer           answered 500 (not 502/503/504): maybe this frame is poison;
|                                   N in a row for one frame -> dead (INGEST_MAX_SERVER_ERRORS)
+-- PermanentDownstreamError        413/415/422...: the frame goes to the dead-letter set
    +-- FrameExpired                the frame's bytes expired before it was classified
"""

from __future__ import annotations


class IngestError(Exception):
    """Base of every error the API turns into problem+json."""


class NotFound(IngestError):
    pass


class CameraNotFound(NotFound):
    pass


class FrameNotFound(NotFound):
    pass


class Conflict(IngestError):
    pass


class CameraExists(Conflict):
    pass


class CameraDisabled(Conflict):
    pass


class NotRedrivable(Conflict):
    pass


class EntryLost(IngestError):
    """Our pending entry was reclaimed by another consumer (or finished): stop handling it."""


class InvalidCamera(IngestError):
    pass


class InvalidFrame(IngestError):
    pass


class FrameTooLarge(InvalidFrame):
    pass


class UnsupportedMediaType(InvalidFrame):
    pass


class UndecodableImage(InvalidFrame):
    pass


class Unavailable(IngestError):
    def __init__(self, detail: str, *, retry_after_s: int = 1) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class OutboxFull(Unavailable):
    pass


class StoreUnavailable(Unavailable):
    pass


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


class PermanentDownstreamError(DownstreamError):
    pass


class FrameExpired(PermanentDownstreamError):
    def __init__(self, frame_id: str) -> None:
        super().__init__("ingest", f"frame {frame_id} bytes expired before classification")

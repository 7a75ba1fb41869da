"""The kit's own errors. They carry no HTTP; `handlers.KIT_STATUS` gives their statuses, and a
service may map them again in its own status map.

KitError
+-- BodyTooLarge        a request body over its limit (declared or streamed)     413
+-- StoreUnavailable    Redis does not answer, or answers that it cannot serve   503
+-- FrameRefused        not a valid frame (`images`); services map it to their own errors
    +-- FrameTypeRefused    not JPEG, PNG or WebP                                415
    +-- FrameTooLarge       more pixels than allowed                             413
    +-- FrameUnreadable     empty, mislabelled, too small/thin, truncated        422
"""

from __future__ import annotations


class KitError(Exception):
    """Base of the kit's errors."""


class BodyTooLarge(KitError):
    def __init__(self, detail: str, *, limit: int) -> None:
        super().__init__(detail)
        self.limit = limit


class StoreUnavailable(KitError):
    def __init__(self, detail: str, *, retry_after_s: int = 1) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class FrameRefused(KitError):
    """A frame that is not valid by `shelter_kit.images`' one definition."""


class FrameTypeRefused(FrameRefused):
    """Not JPEG, PNG or WebP, declared or by its bytes."""


class FrameTooLarge(FrameRefused):
    """More pixels than the rules allow (a decompression bomb)."""


class FrameUnreadable(FrameRefused):
    """Empty, garbage, mislabelled, too small or thin, truncated or corrupt."""

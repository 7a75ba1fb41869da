"""What a blob of bytes announces by its first bytes: an accepted image type, or None.

No Pillow here (the batch service sniffs archive members without decoding them); `images`, the
full valid-frame definition, starts from the same answer. The magic numbers are the formats'
own: JPEG's SOI marker + the next marker's 0xFF, PNG's 8-byte signature, WebP's RIFF....WEBP.
"""

from __future__ import annotations

HEAD_BYTES = 12  # enough for every signature below


def image_type(head: bytes) -> str | None:
    """`image/jpeg`, `image/png`, `image/webp`, or None (a prefix of `HEAD_BYTES` suffices)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None

"""What a blob of bytes is, from its first bytes: an image the classifier takes (the kit's
`magic.image_type`, the same answer camera-ingest and the classifier start from), an archive
(never expanded when it sits inside another), or neither. The full decode is the classifier's
job: an image that only looks like one fails there, per item (`corrupt-image`)."""

from __future__ import annotations

from batch.errors import ItemFailed
from shelter_kit.magic import image_type

SNIFF_BYTES = 512  # enough for the tar magic at offset 257

_ARCHIVES = (
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
)


def archive_type(head: bytes) -> str | None:
    """`zip`, `gzip`, `bzip2`, `xz`, `7z`, `rar`, `tar`, or None."""
    for magic, kind in _ARCHIVES:
        if head.startswith(magic):
            return kind
    if head[257:262] == b"ustar":
        return "tar"
    return None


def check_image(head: bytes) -> None:
    """ItemFailed unless `head` starts an image (an empty file, an archive, anything else)."""
    if not head:
        raise ItemFailed("empty-file", "the file is empty")
    if image_type(head) is not None:
        return
    nested = archive_type(head)
    if nested is not None:
        raise ItemFailed("nested-archive", f"a {nested} archive inside the job: not expanded")
    raise ItemFailed("not-an-image", "not a JPEG, PNG or WebP image (magic bytes)")

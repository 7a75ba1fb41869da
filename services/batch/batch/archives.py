"""Reading an uploaded archive (zip, or tar plain or gzip/bzip2/xz) into a job's items, safely.

Nothing from the archive ever names a path here: every file becomes item number N and its bytes
are written to the workspace as `items/../N`. Even so a hostile archive is refused as a whole
(`HostileArchive`, 422), because no honest tool makes one:

    a name with a `..` segment, an absolute name (`/x`, `\\x`, `C:x`), a NUL in a name
    a symlink, hardlink, character or block device, or FIFO (tar; a symlink in zip too)

Bombs and floods (`ArchiveTooLarge`, 422): more entries of any kind than `max_entries` (a zip:
the count its end record declares, before `zipfile` parses its directory, then the directory
itself; a tar: counted while streaming), more files than `max_items`, declared sizes summing
over `max_expanded_bytes` (a zip: the files that would be read, up front; a tar member: its
header, before its bytes), and the bytes actually decompressed passing `max_expanded_bytes`
(every byte read counts, tar headers and skipped members included), so a header that lies cannot
get past the cap. A damaged or unknown archive is `CorruptArchive` (422).

Per item, never failing the job (`ItemFailed`): an empty file, a file that is not an image, an
archive inside the archive (never expanded), a file over `max_item_bytes` (declared, or read: a
zip member that decompresses past its declared size fails its CRC check here), a damaged or
encrypted member. Directories are not items.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import re
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Protocol

from batch.errors import ArchiveTooLarge, CorruptArchive, HostileArchive, ItemFailed
from batch.images import SNIFF_BYTES, archive_type, check_image
from batch.items import Item

READ_CHUNK = 64 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
_S_IFMT, _S_IFLNK = 0o170000, 0o120000


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


_OPENERS: dict[str, Callable[[BinaryIO], Readable]] = {
    "gzip": lambda f: gzip.GzipFile(fileobj=f),
    "bzip2": lambda f: bz2.BZ2File(f),
    "xz": lambda f: lzma.LZMAFile(f),  # noqa: SIM115 - closed with the raw file, by `_tar`
    "tar": lambda f: f,
}
_MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError)
# bz2 says "Invalid data stream" with a bare OSError; a full disk is `SinkFailed`, never caught
_STREAM_ERRORS = (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError, ValueError)
Sink = Callable[[int, bytes], None]  # (item index, image bytes): where an image is written


@dataclass(frozen=True)
class Limits:
    max_entries: int
    max_items: int
    max_expanded_bytes: int
    max_item_bytes: int


class Budget:
    """Bytes that may still be decompressed, over the whole archive."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, n: int) -> None:
        self.used += n
        if self.used > self.limit:
            raise ArchiveTooLarge(
                f"the archive decompresses to more than {self.limit} bytes "
                "(BATCH_ARCHIVE_MAX_EXPANDED_BYTES)"
            )

    def declare(self, n: int, what: str) -> None:
        if self.used + n > self.limit:
            raise ArchiveTooLarge(
                f"{what} {n} bytes: the archive would expand past "
                f"{self.limit} bytes (BATCH_ARCHIVE_MAX_EXPANDED_BYTES)"
            )


def expand(path: Path, *, limits: Limits, sink: Sink) -> list[Item]:
    """Every file of the archive at `path` as an item, each image handed to `sink`."""
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    kind = archive_type(head)
    if kind == "zip":
        return _zip(path, limits, sink)
    if kind in _OPENERS:
        return _tar(path, kind, limits, sink)
    if kind is not None:
        raise CorruptArchive(f"a {kind} archive: only zip and tar (plain, gz, bz2, xz) are read")
    raise CorruptArchive("the upload is not a zip or tar archive (magic bytes)")


def checked_name(name: str) -> str:
    """The member's name, or HostileArchive when it climbs out, is absolute or has a NUL."""
    if "\x00" in name:
        raise HostileArchive(f"member {name!r} has a NUL byte in its name")
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        raise HostileArchive(f"member {name!r} has an absolute path")
    if ".." in re.split(r"[/\\]", name):
        raise HostileArchive(f"member {name!r} has a '..' segment (path traversal)")
    return name.removeprefix("./")


def _read_member(opened: IO[bytes], limits: Limits, count: Callable[[int], None]) -> bytes:
    """The member's bytes, checked to be an image, at most `max_item_bytes`; `count` is told of
    every byte decompressed (a zip's budget; a tar's whole stream is counted by `_Capped`)."""
    head = opened.read(SNIFF_BYTES)
    count(len(head))
    check_image(head)
    data = bytearray(head)
    while chunk := opened.read(READ_CHUNK):
        count(len(chunk))
        data += chunk
        if len(data) > limits.max_item_bytes:
            raise ItemFailed("too-large", f"over {limits.max_item_bytes} bytes when decompressed")
    return bytes(data)


class SinkFailed(Exception):
    """Writing an image failed (disk full): not the archive's fault, never `CorruptArchive`."""


def _item(index: int, name: str, read: Callable[[], bytes], sink: Sink) -> Item:
    try:
        data = read()
    except ItemFailed as failed:
        return Item(index, name, reason=failed.reason, detail=failed.detail)
    try:
        sink(index, data)
    except OSError as exc:
        raise SinkFailed(f"writing item {index} failed: {exc}") from exc
    return Item(index, name)


def _too_large(index: int, name: str, size: int, limits: Limits) -> Item:
    detail = f"declares {size} bytes, over the limit of {limits.max_item_bytes}"
    return Item(index, name, reason="too-large", detail=detail)


def _count(n: int, limits: Limits) -> None:
    if n > limits.max_entries:
        raise ArchiveTooLarge(
            f"the archive has more than {limits.max_entries} entries (BATCH_ARCHIVE_MAX_ENTRIES)"
        )


def _files(n: int, limits: Limits) -> None:
    if n > limits.max_items:
        raise ArchiveTooLarge(f"the archive has more than {limits.max_items} files")


def declared_zip_entries(f: BinaryIO) -> int | None:
    """The entry count a zip's end-of-central-directory record declares (zip64 too), read from
    its last bytes, so a flood is refused before `zipfile` parses (and holds) its directory.
    None when the record is not found (`zipfile` then decides)."""
    size = f.seek(0, 2)
    f.seek(max(0, size - 22 - 65535))  # the record, and a comment of at most 64 KiB
    tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return None
    (total,) = struct.unpack_from("<H", tail, at + 10)
    if total != 0xFFFF:
        return int(total)
    locator = at - 20  # zip64: the locator before the record points at the zip64 record
    if locator < 0 or tail[locator : locator + 4] != b"PK\x06\x07":
        return None
    (offset,) = struct.unpack_from("<Q", tail, locator + 8)
    f.seek(offset)
    record = f.read(56)
    return int(struct.unpack_from("<Q", record, 32)[0]) if record[:4] == b"PK\x06\x06" else None


def _zip(path: Path, limits: Limits, sink: Sink) -> list[Item]:
    with path.open("rb") as f:
        declared = declared_zip_entries(f)
    if declared is not None:
        _count(declared, limits)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise CorruptArchive(f"the zip archive does not open: {exc}") from None
    with archive:
        infos = archive.infolist()
        _count(len(infos), limits)
        files = [info for info in infos if not info.is_dir()]
        _files(len(files), limits)
        for info in infos:
            checked_name(info.filename)
            if (info.external_attr >> 16) & _S_IFMT == _S_IFLNK:
                raise HostileArchive(f"member {info.filename!r} is a symbolic link")
        readable = [i.file_size for i in files if i.file_size <= limits.max_item_bytes]
        Budget(limits.max_expanded_bytes).declare(sum(readable), "its files declare, in all,")
        budget, items = Budget(limits.max_expanded_bytes), []
        for index, info in enumerate(files):
            name = checked_name(info.filename)
            if info.file_size > limits.max_item_bytes:
                items.append(_too_large(index, name, info.file_size, limits))
                continue

            def read(info: zipfile.ZipInfo = info) -> bytes:
                try:
                    with archive.open(info) as opened:
                        return _read_member(opened, limits, budget.take)
                except _MEMBER_ERRORS as exc:
                    raise ItemFailed("corrupt-member", f"the member does not read: {exc}") from None

            items.append(_item(index, name, read, sink))
        return items


def _uncounted(n: int) -> None:
    """A tar member's bytes: already counted by the stream they come from."""


class _Capped:
    """A file's decompressed stream, every byte counted against the budget."""

    def __init__(self, inner: Readable, budget: Budget) -> None:
        self.inner = inner
        self.budget = budget

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size)
        self.budget.take(len(data))
        return data


def _tar_members(archive: tarfile.TarFile, limits: Limits) -> Iterator[tarfile.TarInfo]:
    for count, member in enumerate(archive, start=1):
        _count(count, limits)
        name = checked_name(member.name)
        if member.issym() or member.islnk():
            raise HostileArchive(f"member {name!r} is a link (to {member.linkname!r})")
        if member.isdev():
            raise HostileArchive(f"member {name!r} is a device or FIFO")
        if member.isreg():
            yield member


def _tar(path: Path, kind: str, limits: Limits, sink: Sink) -> list[Item]:
    budget, items = Budget(limits.max_expanded_bytes), list[Item]()
    raw = path.open("rb")
    try:
        stream = _Capped(_OPENERS[kind](raw), budget)
        with tarfile.open(fileobj=stream, mode="r|") as archive:  # type: ignore[call-overload]
            for member in _tar_members(archive, limits):
                index, name = len(items), checked_name(member.name)
                _files(index + 1, limits)
                if member.size > limits.max_item_bytes:
                    items.append(_too_large(index, name, member.size, limits))
                    continue
                budget.declare(member.size, f"member {name!r} declares")
                opened = archive.extractfile(member)
                assert opened is not None  # a regular file
                read = lambda o=opened: _read_member(o, limits, _uncounted)  # noqa: E731
                items.append(_item(index, name, read, sink))
    except _STREAM_ERRORS as exc:
        raise CorruptArchive(f"the {kind} archive does not read: {exc}") from None
    finally:
        raw.close()
    return items

"""Reading uploaded archives: good ones become items, hostile ones are refused whole, bombs and
floods hit their limits, and what is wrong with one file fails only that file."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from batch.archives import Limits, checked_name, expand
from batch.errors import ArchiveTooLarge, CorruptArchive, HostileArchive
from batch.items import Item
from tests.batch.conftest import (
    empty_entries_tar_gz,
    empty_entries_zip,
    tar_of,
    tiny_jpeg,
    variants,
    zip_of,
)

MIB = 1024 * 1024
LIMITS = Limits(max_entries=1000, max_items=1000, max_expanded_bytes=20 * MIB, max_item_bytes=MIB)


@pytest.fixture(scope="module")
def jpegs(sample_dir: Path) -> list[bytes]:
    return variants(tiny_jpeg(sample_dir / "cat" / "oxpet-001.jpg"), 5)


def run(
    tmp_path: Path, data: bytes, limits: Limits = LIMITS
) -> tuple[list[Item], dict[int, bytes]]:
    path = tmp_path / "upload.part"
    path.write_bytes(data)
    written: dict[int, bytes] = {}
    items = expand(path, limits=limits, sink=written.__setitem__)
    return items, written


def reasons(items: list[Item]) -> dict[str, str | None]:
    return {item.name: item.reason for item in items}


@pytest.mark.parametrize("mode", ["zip", "w", "w:gz", "w:bz2", "w:xz"])
def test_every_file_is_an_item_and_each_image_is_written(
    tmp_path: Path, jpegs: list[bytes], mode: str
) -> None:
    files = {f"photos/{i}.jpg": data for i, data in enumerate(jpegs)}
    data = zip_of(files, zipfile.ZIP_DEFLATED) if mode == "zip" else tar_of(files, mode)
    items, written = run(tmp_path, data)
    assert [item.name for item in items] == list(files)
    assert all(item.reason is None for item in items)
    assert written == dict(enumerate(jpegs))


def test_directories_are_not_items_and_bad_files_fail_alone(
    tmp_path: Path, jpegs: list[bytes]
) -> None:
    files = {
        "a/": b"",
        "a/good.jpg": jpegs[0],
        "a/empty.jpg": b"",
        "a/readme.txt": b"not a photo at all",
        "a/inner.zip": zip_of({"x.jpg": jpegs[1]}),
        "a/inner.tar.gz": tar_of({"x.jpg": jpegs[2]}),
        "a/big.png": b"\x89PNG\r\n\x1a\n" + b"\0" * (2 * MIB),
    }
    items, written = run(tmp_path, zip_of(files, zipfile.ZIP_DEFLATED))
    assert reasons(items) == {
        "a/good.jpg": None,
        "a/empty.jpg": "empty-file",
        "a/readme.txt": "not-an-image",
        "a/inner.zip": "nested-archive",
        "a/inner.tar.gz": "nested-archive",
        "a/big.png": "too-large",
    }
    assert list(written.values()) == [jpegs[0]]  # nested archives are never expanded


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("../../etc/passwd", "'..' segment"),
        ("photos/../../x.jpg", "'..' segment"),
        ("..\\windows\\x.jpg", "'..' segment"),
        ("/etc/cron.d/x", "absolute path"),
        ("C:\\x.jpg", "absolute path"),
    ],
)
@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_a_name_that_climbs_out_refuses_the_whole_archive(
    tmp_path: Path, jpegs: list[bytes], name: str, said: str, kind: str
) -> None:
    files = {"ok.jpg": jpegs[0], name: jpegs[1]}
    data = zip_of(files) if kind == "zip" else tar_of(files)
    with pytest.raises(HostileArchive, match=said):
        run(tmp_path, data)


def test_checked_name_keeps_honest_names() -> None:
    assert checked_name("./photos/cat..1.jpg") == "photos/cat..1.jpg"


@pytest.mark.parametrize(
    ("kind", "said"),
    [(tarfile.SYMTYPE, "is a link"), (tarfile.LNKTYPE, "is a link"), (tarfile.CHRTYPE, "device"),
     (tarfile.BLKTYPE, "device"), (tarfile.FIFOTYPE, "device")],
)  # fmt: skip
def test_links_and_devices_in_a_tar_refuse_it(
    tmp_path: Path, jpegs: list[bytes], kind: bytes, said: str
) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("ok.jpg")
        info.size = len(jpegs[0])
        archive.addfile(info, io.BytesIO(jpegs[0]))
        odd = tarfile.TarInfo("odd")
        odd.type, odd.linkname = kind, "/etc/shadow"
        archive.addfile(odd)
    with pytest.raises(HostileArchive, match=said):
        run(tmp_path, buffer.getvalue())


def test_a_symlink_in_a_zip_refuses_it(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("link.jpg")
        link.external_attr = (0o120777 << 16) | 0x20
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(HostileArchive, match="symbolic link"):
        run(tmp_path, buffer.getvalue())


def test_a_zip_bomb_member_fails_by_its_declared_size(tmp_path: Path, jpegs: list[bytes]) -> None:
    bomb = b"\xff\xd8\xff" + bytes(50 * MIB)  # 50 MiB that deflate to about 50 KiB
    items, written = run(
        tmp_path, zip_of({"bomb.jpg": bomb, "ok.jpg": jpegs[0]}, zipfile.ZIP_DEFLATED)
    )
    assert reasons(items) == {"bomb.jpg": "too-large", "ok.jpg": None}
    assert "declares 52428803 bytes" in (items[0].detail or "")
    assert list(written.values()) == [jpegs[0]]


def test_a_zip_member_whose_header_lies_fails_alone(tmp_path: Path, jpegs: list[bytes]) -> None:
    """A member that decompresses past the size its headers declare: read only as far as
    declared, where its checksum fails."""
    big = b"\xff\xd8\xff" + bytes(3 * MIB)
    data = bytearray(zip_of({"liar.jpg": big, "ok.jpg": jpegs[0]}, zipfile.ZIP_DEFLATED))
    real = len(big).to_bytes(4, "little")
    for at in [i for i in range(len(data)) if data[i : i + 4] == real]:  # local + central headers
        data[at : at + 4] = (1000).to_bytes(4, "little")
    items, written = run(tmp_path, bytes(data))
    assert reasons(items) == {"liar.jpg": "corrupt-member", "ok.jpg": None}
    assert list(written.values()) == [jpegs[0]]


def test_declared_sizes_over_the_total_refuse_a_zip_before_reading(tmp_path: Path) -> None:
    files = {f"{i}.jpg": b"\xff\xd8\xff" + bytes(MIB - 10) for i in range(30)}  # 30 MiB in all
    with pytest.raises(ArchiveTooLarge, match="expand past"):
        run(tmp_path, zip_of(files, zipfile.ZIP_DEFLATED))


def test_a_tar_member_declaring_past_the_total_is_refused_before_it_is_read(
    tmp_path: Path,
) -> None:
    """Members under the per-item limit that are not images are skipped, yet the bytes the
    stream decompresses to skip them count: the next member's declared size no longer fits."""
    files = {f"{i}.bin": bytes(MIB - 1024) for i in range(25)}  # 25 MiB of zeros, ~25 KiB gzipped
    limits = Limits(
        max_entries=1000, max_items=1000, max_expanded_bytes=10 * MIB, max_item_bytes=MIB
    )
    with pytest.raises(ArchiveTooLarge, match=r"member '9\.bin' declares"):
        run(tmp_path, tar_of(files), limits)


def test_a_tar_bomb_is_stopped_by_the_bytes_actually_decompressed(tmp_path: Path) -> None:
    """No member declares a byte, yet 5,000 headers decompress to 2.5 MiB: every byte counts."""
    limits = Limits(
        max_entries=50_000, max_items=50_000, max_expanded_bytes=MIB, max_item_bytes=MIB
    )
    with pytest.raises(ArchiveTooLarge, match="decompresses to more than 1048576 bytes"):
        run(tmp_path, empty_entries_tar_gz(5000), limits)


def test_a_hundred_thousand_empty_entries_hit_the_entry_limit_before_zipfile_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The count the zip's end record declares refuses it: its directory is never parsed."""

    def parse(*args: object) -> None:
        raise AssertionError("zipfile parsed the directory of a flood")

    monkeypatch.setattr(zipfile, "ZipFile", parse)
    limits = Limits(
        max_entries=50_000, max_items=100_000, max_expanded_bytes=MIB, max_item_bytes=MIB
    )
    with pytest.raises(ArchiveTooLarge, match="more than 50000 entries"):
        run(tmp_path, empty_entries_zip(100_000), limits)


def test_a_hundred_thousand_empty_tar_entries_hit_the_entry_limit(tmp_path: Path) -> None:
    """Counted while streaming: refused at entry 10,001 (a lower limit keeps the test short)."""
    limits = Limits(
        max_entries=10_000, max_items=100_000, max_expanded_bytes=500 * MIB, max_item_bytes=MIB
    )
    with pytest.raises(ArchiveTooLarge, match="more than 10000 entries"):
        run(tmp_path, empty_entries_tar_gz(100_000), limits)


def test_empty_entries_under_the_limits_are_failed_items(tmp_path: Path) -> None:
    items, written = run(tmp_path, empty_entries_zip(300))
    assert len(items) == 300
    assert {item.reason for item in items} == {"empty-file"}
    assert written == {}


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"this is not an archive at all", "not a zip or tar"),
        (b"7z\xbc\xaf\x27\x1c" + bytes(100), "a 7z archive"),
        (b"\x1f\x8b\x08\x00" + bytes(100), "does not read"),
    ],
)
def test_what_is_not_a_readable_archive_is_corrupt(tmp_path: Path, data: bytes, said: str) -> None:
    with pytest.raises(CorruptArchive, match=said):
        run(tmp_path, data)


def test_a_truncated_zip_is_corrupt(tmp_path: Path, jpegs: list[bytes]) -> None:
    data = zip_of({f"{i}.jpg": d for i, d in enumerate(jpegs)})
    with pytest.raises(CorruptArchive, match="does not open"):
        run(tmp_path, data[: len(data) // 2])


def test_a_truncated_tar_gz_is_corrupt(tmp_path: Path, jpegs: list[bytes]) -> None:
    data = tar_of({f"{i}.jpg": d for i, d in enumerate(jpegs)})
    with pytest.raises(CorruptArchive, match="does not read"):
        run(tmp_path, data[: len(data) // 2])

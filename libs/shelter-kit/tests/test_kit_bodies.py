from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shelter_kit.bodies import read_bounded
from shelter_kit.errors import BodyTooLarge

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_reads_a_body_within_the_limit() -> None:
    assert await read_bounded(chunks(b"ab", b"cd"), limit=4) == b"abcd"


async def test_refuses_a_declared_oversize_before_reading() -> None:
    consumed = []

    async def watched() -> AsyncIterator[bytes]:
        consumed.append(True)
        yield b"x"

    with pytest.raises(BodyTooLarge, match="1000 bytes"):
        await read_bounded(watched(), limit=10, content_length="1000")
    assert consumed == []


async def test_refuses_a_streamed_oversize_without_a_length() -> None:
    with pytest.raises(BodyTooLarge) as caught:
        await read_bounded(chunks(b"x" * 6, b"y" * 6), limit=10)
    assert caught.value.limit == 10


async def test_a_lying_content_length_is_still_bounded() -> None:
    with pytest.raises(BodyTooLarge):
        await read_bounded(chunks(b"x" * 50), limit=10, content_length="3")

"""stack.ports' pickers: below the kernel's ephemeral range, never the same port twice."""

from __future__ import annotations

from stack.ports import LOWEST, ephemeral_low, free_block, free_port, port_free


def test_free_ports_lie_below_the_ephemeral_range_and_are_never_repeated() -> None:
    picked = [free_port() for _ in range(200)]
    assert len(set(picked)) == len(picked)
    assert all(LOWEST <= port < ephemeral_low() for port in picked)
    assert all(port_free(port) for port in picked)


def test_a_block_is_consecutive_free_and_not_handed_out_again() -> None:
    base = free_block()
    block = set(range(base, base + 10))
    assert all(port_free(port) for port in block)
    assert not block & {free_port() for _ in range(300)}
    assert free_block() != base

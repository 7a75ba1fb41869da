"""Stopping background tasks for sure.

On Python 3.11 a `Task.cancel()` can be lost: `asyncio.wait_for` returns the inner result and
drops the cancellation when both happen in the same loop iteration (fixed in 3.12), and
redis-py wraps every socket write in `wait_for`. A loop whose cancel was lost goes on forever
and the lifespan's shutdown waits on it; so cancel again until the task is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], *, every_s: float = 0.1) -> None:
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=every_s)
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: no "exception was never retrieved" warning

"""``cancel_requested``: the background loops' guard against a cancellation that a Redis call swallowed.

redis-py (8.2) can swallow a ``CancelledError`` that lands inside a command (seen on ``XGROUP CREATE``
while a worker shut down). A ``while True`` loop then goes on, and ``asyncio.run`` waits for it
forever: a ``dispatch serve`` that failed to bind its port hung, its embedded Redis with it.
"""
from __future__ import annotations

import asyncio


def cancel_requested() -> bool:
    """The running task was asked to stop, whether or not the ``CancelledError`` reached it."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0

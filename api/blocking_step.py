"""One blocking step of a background loop, run in a thread that stopping the loop waits for."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


async def run_blocking_step(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`run_in_threadpool(func, ...)`, except that cancelling the caller waits for `func` to return.

    Cancelling a task awaiting run_in_threadpool does not stop its thread: the lifespan would go on
    to dispose of the database engine (and a test to drop its schema) while the step's statement
    still runs. A step is short (a transaction, an index load, a digest post), so it is let finish,
    then the loop stops."""
    step = asyncio.ensure_future(run_in_threadpool(func, *args, **kwargs))
    try:
        return await asyncio.shield(step)
    except asyncio.CancelledError:
        await asyncio.wait([step])
        if (error := step.exception()) is not None:  # the stopping loop no longer logs it
            log.error("a background step failed while stopping", exc_info=error)
        raise

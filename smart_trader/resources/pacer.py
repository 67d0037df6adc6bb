"""The rate limit of one fetch: a token bucket whose waiters go in priority order."""

from __future__ import annotations

import asyncio
import heapq
import itertools


class Pacer:
    """A token bucket of one token at `rate` per second, shared by concurrent requests, whose
    waiters go in priority order (lower first, then first come).

    Why not aiolimiter's first-come bucket: a wallet's pages are sequential, so with many
    wallets queued a long history (a bot's 40 pages) waits a full queue length per page and
    ends up alone at the end of the fetch, running far below the plan's rate. Giving the next
    page of a long history priority over the first page of a new wallet keeps the fetch at the
    rate to the end. Slots are spaced from the previous slot, not from the late wake-up, so
    event-loop latency does not lower the rate; lateness is recovered only up to half a slot,
    so two requests are never closer than half an interval.
    """

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next_slot = 0.0
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    async def acquire(self, priority: float = 0.0) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), future))
        self._wake(loop)
        await future

    def _wake(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is not None:
            return
        while self._waiters and self._waiters[0][2].done():  # cancelled while waiting
            heapq.heappop(self._waiters)
        if not self._waiters:
            return
        now = loop.time()
        if now < self._next_slot:
            self._timer = loop.call_at(self._next_slot, self._fire, loop)
            return
        _, _, future = heapq.heappop(self._waiters)
        future.set_result(None)
        self._next_slot = max(self._next_slot, now - self._interval / 2) + self._interval
        if self._waiters:
            self._timer = loop.call_at(self._next_slot, self._fire, loop)

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        self._wake(loop)

"""Indexing progress on stderr: a tqdm bar per stage on a terminal; elsewhere (a log file, CI) a
plain line per stage at every tenth of the way, so lines never run together with carriage returns."""

from __future__ import annotations

import sys
from typing import IO, Any

STEPS = 10  # plain lines per stage


class IndexProgress:
    """The `progress(stage, done, total)` callback of `index_knowledge`."""

    def __init__(self, stream: IO[str] | None = None, *, bar: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.bar = self.stream.isatty() if bar is None else bar
        self._bars: dict[str, Any] = {}
        self._printed: dict[str, int] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.bar:
            self._draw(stage, done, total)
            return
        step = STEPS if done >= total else done * STEPS // max(total, 1)
        if step > self._printed.get(stage, 0):
            self._printed[stage] = step
            print(f"{stage}: {done}/{total} ({done * 100 // max(total, 1)}%)", file=self.stream, flush=True)

    def _draw(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        bar = self._bars.get(stage)
        if bar is None:
            bar = self._bars[stage] = tqdm(total=total, desc=stage, unit="passage", file=self.stream, dynamic_ncols=True)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    def close(self) -> None:
        """Close bars a stage left unfinished (an error stopped it), so the terminal is clean."""
        for bar in self._bars.values():
            bar.close()

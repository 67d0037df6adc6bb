"""Scans within contiguous segments of an array (a pair's events), fully vectorized.

Each segment's scan runs sequentially along its own values only (never across segments, so no
cancellation against other pairs' magnitudes), in the same order as a per-segment loop would.
Scans run in a "position-major" layout: segments ranked longest first, and the k-th element of
every segment long enough stored contiguously, so that step k of all scans at once is one slice
operation on contiguous memory (a Python loop over k, up to the longest segment, never over
segments or elements). `lay` and `unlay` move arrays into and out of that layout.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


class Segments:
    """Segments of an n-long array, given by their sorted start offsets (the first is 0)."""

    def __init__(self, starts: I64, n: int) -> None:
        self.n = n
        self.starts = starts
        self.lengths = np.diff(np.append(starts, n))
        longest = int(self.lengths.max()) if n else 0
        # rank[s]: segment s's row in the layout, longest first; width[k]: how many segments have
        # a k-th element, offset[k]: where their k-th elements start.
        rank = np.empty(len(starts), dtype=np.int64)
        rank[np.argsort(-self.lengths, kind="stable")] = np.arange(len(starts), dtype=np.int64)
        shorter = np.cumsum(np.bincount(self.lengths, minlength=longest + 1))
        self.width = len(starts) - shorter[:longest]
        self.offset = np.concatenate([[0], np.cumsum(self.width)]).astype(np.int64)
        position = np.arange(n, dtype=np.int64) - np.repeat(starts, self.lengths)
        self._index = self.offset[position] + np.repeat(rank, self.lengths)
        self.first = np.zeros(n, dtype=bool)
        if n:
            self.first[: self.width[0]] = True

    @classmethod
    def from_first_mask(cls, first: Bools) -> Segments:
        return cls(np.flatnonzero(first).astype(np.int64), len(first))

    def lay(self, values: np.ndarray) -> np.ndarray:
        """values (in segment order) in the scan layout."""
        out = np.empty_like(values)
        out[self._index] = values
        return out

    def unlay(self, laid: np.ndarray) -> np.ndarray:
        """The inverse of lay."""
        return laid[self._index]

    def _steps(self) -> list[tuple[slice, slice]]:
        """(step k's elements, their predecessors) for k = 1, 2, ..."""
        return [
            (
                slice(self.offset[k], self.offset[k] + self.width[k]),
                slice(self.offset[k - 1], self.offset[k - 1] + self.width[k]),
            )
            for k in range(1, len(self.width))
        ]

    def cumsum(self, laid: F64, restart: Bools | None = None) -> F64:
        """Cumulative sum inside each segment (laid out), starting afresh where `restart`."""
        out = laid.copy()
        for here, before in self._steps():
            if restart is None:
                out[here] += out[before]
            else:
                out[here] += np.where(restart[here], 0.0, out[before])
        return out

    def cummin(self, laid: F64, restart: Bools | None = None) -> F64:
        """Running minimum inside each segment (laid out), starting afresh where `restart`."""
        out = laid.copy()
        for here, before in self._steps():
            if restart is None:
                np.minimum(out[here], out[before], out=out[here])
            else:
                out[here] = np.where(restart[here], out[here], np.minimum(out[here], out[before]))
        return out

    def previous(self, laid: np.ndarray) -> np.ndarray:
        """Each element's predecessor inside its segment (laid out), 0 for a segment's first."""
        out = np.zeros_like(laid)
        for here, before in self._steps():
            out[here] = laid[before]
        return out

    def sums(self, values: npt.NDArray[np.float64] | npt.NDArray[np.int64]) -> F64:
        """Per segment, of values in segment order."""
        if self.n == 0:
            return np.zeros(0)
        return np.add.reduceat(values.astype(np.float64), self.starts)

    def counts(self, flags: Bools) -> I64:
        """Per segment, of flags in segment order."""
        if self.n == 0:
            return np.zeros(0, dtype=np.int64)
        return np.add.reduceat(flags.astype(np.int64), self.starts)

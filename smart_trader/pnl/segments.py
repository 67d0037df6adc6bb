"""Scans within contiguous segments of an array (a pair's events), fully vectorized.

Each segment's scan runs sequentially along its own values only (never across segments, so no
cancellation against other pairs' magnitudes): segments are grouped by length into power-of-two
width buckets, laid out as padded rows of a 2-D array and scanned along the rows with a numpy
ufunc's accumulate. Padding costs at most 2x memory, whatever the length skew.
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
        self.lasts = starts + self.lengths - 1
        self.first_mask = np.zeros(n, dtype=bool)
        self.first_mask[starts] = True
        self._buckets: list[tuple[I64, Bools, I64]] = []
        if n == 0:
            return
        widths = np.ceil(np.log2(self.lengths)).astype(np.int64)
        for exponent in np.unique(widths):
            chosen = np.flatnonzero(widths == exponent)
            cols = np.arange(1 << int(exponent), dtype=np.int64)
            mask = cols[None, :] < self.lengths[chosen][:, None]
            index = starts[chosen][:, None] + cols[None, :]
            index[~mask] = n  # the padding slot
            self._buckets.append((index, mask, index[mask]))

    @classmethod
    def from_first_mask(cls, first: Bools) -> Segments:
        return cls(np.flatnonzero(first).astype(np.int64), len(first))

    def ids(self) -> I64:
        """The segment number of each element."""
        return np.repeat(np.arange(len(self.starts), dtype=np.int64), self.lengths)

    def _accumulate(self, values: F64, ufunc: np.ufunc, pad: float) -> F64:
        padded = np.empty(self.n + 1)
        padded[: self.n] = values
        padded[self.n] = pad
        out = np.empty(self.n)
        for index, mask, positions in self._buckets:
            out[positions] = ufunc.accumulate(padded[index], axis=1)[mask]
        return out

    def cumsum(self, values: F64) -> F64:
        return self._accumulate(values, np.add, 0.0)

    def cummin(self, values: F64) -> F64:
        return self._accumulate(values, np.minimum, np.inf)

    def previous(self, values: F64) -> F64:
        """Each element's predecessor inside its segment, 0 for a segment's first element."""
        out = np.empty(self.n)
        if self.n:
            out[0] = 0.0
            out[1:] = values[:-1]
            out[self.first_mask] = 0.0
        return out

    def sums(self, values: npt.NDArray[np.float64] | npt.NDArray[np.int64]) -> F64:
        if self.n == 0:
            return np.zeros(0)
        return np.add.reduceat(values.astype(np.float64), self.starts)

    def counts(self, flags: Bools) -> I64:
        if self.n == 0:
            return np.zeros(0, dtype=np.int64)
        return np.add.reduceat(flags.astype(np.int64), self.starts)

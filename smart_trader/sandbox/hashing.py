"""Counter-based randomness: every random number is a pure function of (seed, tag, keys).

The market never carries a generator from one day to the next, so a day's answer cannot depend
on which days were asked for before it.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt
from solders.pubkey import Pubkey

U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: U64) -> U64:
    # splitmix64 finaliser; uint64 arithmetic wraps on purpose
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def hash64(seed: int, tag: int, *keys: npt.ArrayLike) -> U64:
    """One uint64 per element of the broadcast keys."""
    with np.errstate(over="ignore"):
        x = _mix(np.asarray([(seed * 1_000_003 + tag) & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))
        for key in keys:
            k = np.asarray(key).astype(np.int64).astype(np.uint64)
            x = _mix(x ^ (k + _GOLDEN))
    return x


def uniform(seed: int, tag: int, *keys: npt.ArrayLike) -> F64:
    """Uniform floats in [0, 1)."""
    return (hash64(seed, tag, *keys) >> np.uint64(11)).astype(np.float64) * (2.0**-53)


def value_noise(seed: int, tag: int, key: npt.ArrayLike, x: npt.ArrayLike) -> F64:
    """Smooth noise in [-1, 1] along x (lattice at the integers), one stream per key."""
    xf = np.asarray(x, dtype=np.float64)
    x0 = np.floor(xf)
    f = xf - x0
    s = f * f * (3.0 - 2.0 * f)
    i0 = x0.astype(np.int64)
    v0 = 2.0 * uniform(seed, tag, key, i0) - 1.0
    v1 = 2.0 * uniform(seed, tag, key, i0 + 1) - 1.0
    return v0 + (v1 - v0) * s


def digest(seed: int, label: str, size: int) -> bytes:
    return hashlib.blake2b(f"{seed}:{label}".encode(), digest_size=size).digest()


def on_curve_keys(rng: np.random.Generator, count: int) -> list[Pubkey]:
    """Random ed25519 points, like keypair-generated wallets and mints."""
    keys: list[Pubkey] = []
    seen: set[bytes] = set()
    while len(keys) < count:
        raw = rng.bytes(32)
        key = Pubkey(raw)
        if key.is_on_curve() and raw not in seen:
            seen.add(raw)
            keys.append(key)
    return keys

"""Per-token returns and skill_p_value (DATA_CONTRACT.md, silver/wallet_pnl "skill_p_value").

The one-sided Wilcoxon signed-rank test that a wallet's per-token returns r = realized_pnl_usd /
cost_basis_sold_usd (over its realized tokens, |r| <= epsilon dropped) are centred above 0:
|r| ranked 1..n ascending, tied |r| sharing their average rank; W = the sum of the ranks of the
positive r; p = P(W' >= W) with each rank's sign + or - with probability 1/2.
- n <= 50: exactly, by a dynamic programme over the wallet's own ranks doubled (so that average
  ranks are integers). Counts of sign patterns are integers below 2^50, exact in float64, and so
  is their quotient by 2^n.
- n > 50: 1 - Phi((W - n(n+1)/4) / sigma), sigma^2 = n(n+1)(2n+1)/24 - sum(t^3 - t)/48 over the
  groups of t tied |r|, no continuity correction.
Vectorized over wallets: the ranks come from one sort, and wallets with the same doubled ranks
(every untied wallet with the same n) share one dynamic programme.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import polars as pl
from scipy.special import ndtr

from smart_trader.pnl.fifo import DUST_EPSILON
from smart_trader.pnl.segments import F64

EXACT_MAX_N = 50


def is_realized() -> pl.Expr:
    """A wallet_token_pnl row of a realized token: at least one counted matched sell."""
    return pl.col("matched_sell_count") > 0


def is_profitable() -> pl.Expr:
    """A realized token whose realized PnL is above dust: > epsilon x its matched cost basis."""
    return is_realized() & (
        pl.col("realized_pnl_usd") > DUST_EPSILON * pl.col("cost_basis_sold_usd")
    )


def token_return() -> pl.Expr:
    """r = realized_pnl_usd / cost_basis_sold_usd of a realized token (null for the others)."""
    cost = pl.col("cost_basis_sold_usd")
    return pl.when(is_realized() & (cost > 0)).then(pl.col("realized_pnl_usd") / cost)


@lru_cache(maxsize=4096)
def _upper_tail(doubled_ranks: tuple[int, ...]) -> F64:
    """P(2W' >= k) for k = 0 .. sum(doubled_ranks), each rank's sign a fair coin."""
    counts = np.zeros(sum(doubled_ranks) + 1)
    counts[0] = 1.0
    for rank in doubled_ranks:
        # Sign patterns with this rank positive shift the sum by it (the right side is built
        # from the old counts before the assignment).
        counts[rank:] = counts[rank:] + counts[:-rank]
    tail = np.cumsum(counts[::-1])[::-1] / 2.0 ** len(doubled_ranks)
    tail.flags.writeable = False
    return tail


def skill_p_values(returns: pl.DataFrame) -> pl.DataFrame:
    """wallet_id, skill_p_value from per-token returns (columns wallet_id, r; one row per
    realized token). A wallet without a return beyond epsilon has no row (its value is null)."""
    kept = returns.filter(pl.col("r").abs() > DUST_EPSILON)
    rows = kept.height
    if rows == 0:
        return pl.DataFrame(schema={"wallet_id": pl.Int64, "skill_p_value": pl.Float64})
    r = kept.get_column("r").to_numpy()
    size = np.abs(r)
    # Order by (wallet, |r|) through one sort of |r| and a cheap sort of an integer key: the
    # wallet above the dense rank of |r| (ties keep equal keys). The input usually comes sorted
    # by wallet, which the stable sort of the key exploits.
    by_size = np.argsort(size)
    sorted_size = size[by_size]
    dense = np.empty(rows, dtype=np.int64)
    dense[by_size] = np.cumsum(np.append(True, sorted_size[1:] != sorted_size[:-1]))
    wallet_in = kept.get_column("wallet_id").to_numpy()
    order = np.argsort(wallet_in * (rows + 1) + dense, kind="stable")
    wallet = wallet_in[order]
    size = size[order]
    positive = r[order] > 0
    new_wallet = np.ones(rows, dtype=bool)
    new_wallet[1:] = wallet[1:] != wallet[:-1]
    new_run = new_wallet.copy()
    new_run[1:] |= size[1:] != size[:-1]
    index = np.arange(rows, dtype=np.int64)
    position = index - np.maximum.accumulate(np.where(new_wallet, index, 0)) + 1
    # A run of t tied |r| from position f holds ranks f .. f + t - 1: doubled average 2f + t - 1.
    run = np.cumsum(new_run) - 1
    run_length = np.bincount(run)
    doubled = (2 * position[new_run] + run_length - 1)[run]
    of_wallet = np.cumsum(new_wallet) - 1
    n = np.bincount(of_wallet)
    w2 = np.bincount(of_wallet, weights=np.where(positive, doubled, 0)).astype(np.int64)
    ties = np.bincount(of_wallet[new_run], weights=(run_length**3 - run_length).astype(float))

    p = np.empty(len(n))
    exact = n <= EXACT_MAX_N
    tied = ties > 0
    # Untied wallets of one n share the ranks 1..n; tied ones (rare: equal float returns) are
    # grouped by their own doubled ranks.
    for size_n in np.unique(n[exact & ~tied]):
        wallets = exact & ~tied & (n == size_n)
        p[wallets] = _upper_tail(tuple(range(2, 2 * int(size_n) + 1, 2)))[w2[wallets]]
    exact_tied = exact & tied
    by_ranks = (
        pl.DataFrame({"wallet": of_wallet, "doubled": doubled})
        .filter(pl.Series(exact_tied[of_wallet]))
        .group_by("wallet", maintain_order=True)
        .agg("doubled")
        .with_columns(w2=pl.Series(w2[exact_tied]))
        .group_by("doubled")
        .agg("wallet", "w2")
    )
    for ranks, wallets, sums in by_ranks.iter_rows():
        p[wallets] = _upper_tail(tuple(ranks))[sums]
    big = ~exact
    nb = n[big].astype(np.float64)
    sigma = np.sqrt(nb * (nb + 1) * (2 * nb + 1) / 24 - ties[big] / 48)
    p[big] = ndtr(-(w2[big] / 2 - nb * (nb + 1) / 4) / sigma)
    return pl.DataFrame(
        {"wallet_id": wallet[new_wallet].astype(np.int64), "skill_p_value": p},
        schema={"wallet_id": pl.Int64, "skill_p_value": pl.Float64},
    )

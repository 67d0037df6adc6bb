"""skill_p_value (DATA_CONTRACT.md, silver/wallet_pnl): hand-computed cases, the switch to the
normal approximation above n = 50, and the engine against the plain reference on random returns
with ties."""

from __future__ import annotations

import math
import statistics

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import wilcoxon

from smart_trader.pnl.skill import EXACT_MAX_N, skill_p_values
from smart_trader_tests.fifo_reference import reference_skill_p_value

EPS = 1e-9


def p_value(returns: list[float]) -> float | None:
    """skill_p_value of one wallet with these per-token returns."""
    out = skill_p_values(
        pl.DataFrame(
            {"wallet_id": [7] * len(returns), "r": returns},
            schema={"wallet_id": pl.Int64, "r": pl.Float64},
        )
    )
    assert out.height <= 1
    return out.get_column("skill_p_value").item() if out.height else None


def test_contract_examples() -> None:
    # 5 of 5 tokens up: only the all-positive pattern reaches W = 15.
    assert p_value([0.1, 0.5, 0.2, 2.0, 0.3]) == 1 / 32
    assert p_value([0.1, 0.5, 0.2, 2.0]) == 0.0625
    # 10 tokens, 7 up, the 3 losses the 3 smallest moves: W = 55 - (1 + 2 + 3) = 49, and
    # P(W' >= 49) = P(the negative ranks sum to <= 6) = 14 subsets of 1..10 out of 1024.
    returns = [-0.01, -0.02, -0.03, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    assert p_value(returns) == 14 / 1024


def test_one_token() -> None:
    assert p_value([0.4]) == 0.5  # W = 1: the + sign of rank 1
    assert p_value([-0.4]) == 1.0  # W = 0: every pattern reaches it


def test_tied_returns_share_their_average_rank() -> None:
    # |r| = 0.1 (rank 1) and three of 0.2 (ranks 2, 3, 4: average 3); W = 3 x 3 = 9. Doubled
    # ranks {2, 6, 6, 6}, 2W = 18: the patterns {6, 6, 6} and {2, 6, 6, 6} reach it, 2 of 16.
    assert p_value([0.2, -0.1, 0.2, 0.2]) == 2 / 16
    # A tie across signs: 0.1 is rank 1, +0.2 and -0.2 share 2.5, 0.4 is rank 4; W = 7.5.
    # Doubled ranks {2, 5, 5, 8}, 2W = 15: reached by {2, 5, 8} (twice), {5, 5, 8} and
    # {2, 5, 5, 8}, 4 of 16.
    assert p_value([0.1, 0.2, -0.2, 0.4]) == 4 / 16
    # Broken either way, the tie would give W = 7 (5 of 16 subsets of 1..4 sum to >= 7) or
    # W = 8 (3 of 16).
    assert p_value([0.1, 0.2, -0.200001, 0.4]) == 5 / 16
    assert p_value([0.1, 0.200001, -0.2, 0.4]) == 3 / 16
    # ... which is why the contract's exact test runs over the wallet's own (average) ranks.


def test_returns_within_epsilon_are_dropped() -> None:
    # |r| <= eps is no evidence either way: dropped before ranking.
    assert p_value([EPS, -EPS, 0.0, 0.3]) == 0.5
    # Just above eps they count: n = 3, W = 1 + 3 (the 2e-9 and the 0.3).
    assert p_value([2 * EPS, -2.5 * EPS, 0.3]) == 3 / 8
    # No nonzero return: null (the wallet gets no row).
    assert p_value([EPS, -EPS, 0.0]) is None
    assert p_value([]) is None


def _normal(returns: list[float]) -> float:
    """The contract's approximation, by hand: 1 - Phi((W - n(n+1)/4) / sigma), sigma^2 =
    n(n+1)(2n+1)/24 - sum(t^3 - t)/48, no continuity correction."""
    sizes = sorted(abs(r) for r in returns)
    n = len(sizes)
    rank = {s: statistics.mean(i + 1 for i, x in enumerate(sizes) if x == s) for s in sizes}
    w = sum(rank[abs(r)] for r in returns if r > 0)
    ties = sum(t**3 - t for t in (sizes.count(s) for s in set(sizes)))
    sigma = math.sqrt(n * (n + 1) * (2 * n + 1) / 24 - ties / 48)
    return 1 - statistics.NormalDist().cdf((w - n * (n + 1) / 4) / sigma)


def _alternating(n: int) -> list[float]:
    """r_i = (-1)^i x i / 100: the even ranks are the positive ones."""
    return [(-1) ** i * i / 100 for i in range(1, n + 1)]


def test_normal_approximation_above_fifty_tokens() -> None:
    assert EXACT_MAX_N == 50
    # n = 51: W = 2 + 4 + ... + 50 = 650, mean 663, sigma^2 = 51 x 52 x 103 / 24.
    at_51 = _alternating(51)
    expected = 1 - statistics.NormalDist().cdf((650 - 663) / math.sqrt(51 * 52 * 103 / 24))
    assert p_value(at_51) == pytest.approx(expected, rel=1e-12)
    assert p_value(at_51) == pytest.approx(_normal(at_51), rel=1e-12)
    no_ties = wilcoxon(at_51, alternative="greater", method="approx", correction=False)
    assert p_value(at_51) == pytest.approx(no_ties.pvalue, rel=1e-9)
    # With ties the variance shrinks by sum(t^3 - t) / 48: two groups of 2 and one of 3.
    tied = [*_alternating(45), 0.6, -0.6, 0.7, 0.7, -0.8, 0.8, 0.8]
    assert len(tied) == 52
    assert p_value(tied) == pytest.approx(_normal(tied), rel=1e-12)


def test_exact_up_to_fifty_tokens() -> None:
    # n = 50 is still exact: scipy's exact test agrees where no |r| are tied, and the normal
    # approximation would be visibly off.
    at_50 = _alternating(50)
    exact = wilcoxon(at_50, alternative="greater", method="exact").pvalue
    assert p_value(at_50) == pytest.approx(exact, rel=1e-12)
    assert abs(p_value(at_50) - _normal(at_50)) > 1e-3  # type: ignore[operator]


def test_many_wallets_at_once() -> None:
    # Each wallet ranks its own returns only.
    frame = pl.DataFrame(
        {
            "wallet_id": [3, 1, 3, 1, 3, 2, 1, 3, 3],
            "r": [0.1, -0.4, 0.5, 0.2, 0.2, 0.0, 0.9, 2.0, 0.3],
        }
    )
    out = dict(skill_p_values(frame).iter_rows())
    assert out == {1: 3 / 8, 3: 1 / 32}  # wallet 1: W = 1 + 3; wallet 2: no nonzero return


returns_lists = st.lists(
    st.one_of(
        st.sampled_from([-0.5, 0.5, 0.25, -0.25, 1.0, EPS, -EPS, 0.0]),  # ties and dust
        st.floats(-0.99, 10.0),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(by_wallet=st.lists(returns_lists, min_size=1, max_size=4))
def test_engine_equals_reference_on_random_returns(by_wallet: list[list[float]]) -> None:
    rows = [(w, r) for w, returns in enumerate(by_wallet) for r in returns]
    frame = pl.DataFrame(rows, schema={"wallet_id": pl.Int64, "r": pl.Float64}, orient="row")
    got = dict(skill_p_values(frame).iter_rows())
    for wallet, returns in enumerate(by_wallet):
        want = reference_skill_p_value(returns)
        if want is None:
            assert wallet not in got
        else:
            assert got[wallet] == pytest.approx(want, rel=1e-12, abs=1e-300)


def test_engine_is_exact_in_float64_for_fifty_tokens() -> None:
    # Counts of sign patterns stay below 2^53: the exact tail is a float with no rounding
    # beyond its final division by 2^n (a power of two). The smallest tail is 1 / 2^50.
    rng = np.random.default_rng(4)
    returns = list(rng.uniform(0.01, 1.0, 50))
    assert p_value(returns) == 2.0**-50
    assert p_value(returns) == reference_skill_p_value(returns)

"""Mark prices of day D (DATA_CONTRACT.md, silver/wallet_token_pnl "Mark price").

First that exists: token_metrics(D).price_usd (`token_metrics`); token_prices(D).price_usd
(`token_prices`); the median of the token's own leg prices over its last 5 priced legs among the
swaps silver reads, in event order (`last_trades`); the median of the implied unit prices (swap
value_usd / the token's amount) over its last 5 legs in swaps with a value (`implied_trades`),
for a token priced only through its counter-legs. Every token with an event has such a leg, so
mark_price_usd is never null.
"""

from __future__ import annotations

import polars as pl

from smart_trader.pnl.events import ORDER_COLUMNS, WindowEvents, strings_at, valid_price

LAST_PRICED_LEGS = 5
MARK_SOURCES = ("token_metrics", "token_prices", "last_trades", "implied_trades")


def _api_marks(prices: pl.DataFrame, source: str) -> pl.DataFrame:
    return (
        prices.select("token_address", price=valid_price(pl.col("price_usd").cast(pl.Float64)))
        .drop_nulls()
        .unique("token_address", keep="first", maintain_order=True)
        .select("token_address", mark_price_usd="price", mark_source=pl.lit(source))
    )


def _trade_marks(tokens: pl.DataFrame, swaps: pl.DataFrame, source: pl.LazyFrame) -> pl.DataFrame:
    """last_trades / implied_trades marks of `tokens` (token_key, token_address) from the
    swaps (WindowEvents.swaps); `source` gives the strings that order legs tied on block_time
    and block_number."""
    keys = tokens.get_column("token_key").implode()
    legs = pl.concat(
        [
            swaps.lazy()
            .filter(pl.col(f"{side}_h").is_in(keys))
            .select(
                "src",
                "block_time",
                "block_number",
                "ins_index",
                "inner_ins_index",
                token_key=f"{side}_h",
                own=valid_price(pl.col(f"{side}_price_usd")),
                implied=pl.col("value_usd") / pl.col(f"{side}_amount"),
            )
            for side in ("sold", "bought")
        ]
    ).collect()
    tied = legs.select(
        pl.struct("token_key", "block_time", "block_number").is_duplicated()
    ).to_series()
    rows = legs.get_column("src").filter(tied).to_numpy()
    strings = pl.DataFrame(
        {
            "src": rows,
            # Only legs tied on (block_time, block_number) need the strings; skip the read if none.
            "tx_hash": strings_at(source, "tx_hash", rows) if len(rows) else [],
            "wallet_address": strings_at(source, "wallet_address", rows) if len(rows) else [],
        },
        schema={"src": legs.schema["src"], "tx_hash": pl.String, "wallet_address": pl.String},
    ).unique("src")
    return (
        legs.join(strings, on="src", how="left")
        .sort(*ORDER_COLUMNS, "wallet_address", nulls_last=False)
        .group_by("token_key", maintain_order=True)
        .agg(
            own=pl.col("own").drop_nulls().tail(LAST_PRICED_LEGS).median(),
            implied=pl.col("implied").drop_nulls().tail(LAST_PRICED_LEGS).median(),
        )
        .join(tokens, on="token_key", how="left")
        .select(
            "token_address",
            mark_price_usd=pl.coalesce("own", "implied"),
            mark_source=pl.when(pl.col("own").is_not_null())
            .then(pl.lit("last_trades"))
            .when(pl.col("implied").is_not_null())
            .then(pl.lit("implied_trades")),
        )
    )


def mark_prices(
    tokens: pl.DataFrame,
    events: WindowEvents,
    *,
    metric_prices: pl.DataFrame,
    api_prices: pl.DataFrame,
) -> pl.DataFrame:
    """token_address, mark_price_usd, mark_source for each of `tokens` (distinct token_key,
    token_address); the window's swaps are read only for tokens without an API price."""
    marks = _api_marks(metric_prices, "token_metrics")
    api = _api_marks(api_prices, "token_prices")
    marks = pl.concat([marks, api.join(marks, on="token_address", how="anti")])
    missing = tokens.join(marks, on="token_address", how="anti")
    if missing.height > 0:
        marks = pl.concat([marks, _trade_marks(missing, events.swaps, events.source)])
    return tokens.select("token_address").join(marks, on="token_address", how="left")

"""Real-time monitoring's checks: live swaps against the trade history of the same day."""

import datetime as dt

import dagster as dg
import polars as pl

from smart_trader import schemas
from smart_trader.days import day_start
from smart_trader.defs.live.assets import WATCHED_POSITIONS
from smart_trader.defs.metadata import markdown_table
from smart_trader.defs.partitions import DAILY, day_of
from smart_trader.receiver.reconcile import MATCH, MISSING_LIVE, reconcile
from smart_trader.resources.lake import LakeResource

EXAMPLES = 5


def live_matches_history_check() -> dg.AssetChecksDefinition:
    name = "live_swaps_match_history"
    description = (
        "Once transaction_history(D) is fetched: every live swap of D of a wallet it holds is in "
        "it with the same tokens, amounts and direction (net per transaction and token). "
        "Trades only the history has are the gap of a receiver that was down: counted, not a "
        "failure; the history fills them in."
    )

    @dg.asset_check(
        asset=WATCHED_POSITIONS,
        name=name,
        description=description,
        blocking=False,
        partitions_def=DAILY,
    )
    def _run(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> dg.AssetCheckResult:
        day = day_of(context.partition_key)
        store = lake.lake()
        history = store.read_day(schemas.TRANSACTION_HISTORY, day)
        if history.is_empty():
            return dg.AssetCheckResult(
                passed=True,
                description=f"transaction_history({day}) not fetched yet: nothing to compare",
                metadata={"compared": False, "violations": 0, "examples": "none"},
            )
        live = store.read_day(schemas.LIVE_SWAPS, day)
        wallets = (
            live.select("wallet_address")
            .unique()
            .join(history.select("wallet_address").unique(), on="wallet_address", how="semi")
        )
        day_end = day_start(day + dt.timedelta(days=1))
        compared = reconcile(
            live.join(wallets, on="wallet_address", how="semi"),
            history.join(wallets, on="wallet_address", how="semi").filter(
                pl.col("block_time").is_between(day_start(day), day_end, closed="left")
            ),
        )
        counts = dict(compared.group_by("status").len().iter_rows())
        bad = compared.filter(~pl.col("status").is_in([MATCH, MISSING_LIVE]))
        return dg.AssetCheckResult(
            passed=bad.is_empty(),
            severity=dg.AssetCheckSeverity.WARN,
            description=description,
            metadata={
                "compared": True,
                "wallets": wallets.height,
                "status_counts": dg.MetadataValue.json({k: int(v) for k, v in counts.items()}),
                "gap_filled_from_history": int(counts.get(MISSING_LIVE, 0)),
                "violations": bad.height,
                "examples": dg.MetadataValue.md(
                    markdown_table(bad.head(EXAMPLES)) if bad.height else "none"
                ),
            },
        )

    return _run

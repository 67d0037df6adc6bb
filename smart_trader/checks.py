"""Asset checks: the contract's consistency rules, per daily partition.

Blocking (severity ERROR) where bad data would propagate downstream; WARN where it is worth
knowing but not stopping. Each check reads day D (or D's window) from the lake, applies a rule
from smart_trader.quality and reports how many rows broke it, with a few examples.
"""


import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
import polars as pl

from smart_trader import schemas
from smart_trader.assets.bronze import (
    COUNT_TERMS,
    ENDPOINTS,
    REJECTED_RECORDS,
    TOKEN_METRICS,
    TOKEN_PRICES,
    TRANSACTION_HISTORY,
    WHALE_HOLDERS,
    count_metadata_key,
)
from smart_trader.assets.gold import SMART_WALLETS
from smart_trader.assets.history import days_between, markdown_table
from smart_trader.assets.silver import WALLET_PNL, WALLET_TOKEN_PNL, unfetched_days
from smart_trader.ingest.fetch_plan import swap_fetch_ranges, tracked_wallets
from smart_trader.lake import Lake
from smart_trader.partitions import DAILY, day_of
from smart_trader.pnl.scoring import rank_smart_wallets
from smart_trader import quality
from smart_trader.resources.lake import LakeResource
from smart_trader.settings import Settings

EXAMPLES = 5

TABLE_OF: dict[dg.AssetKey, schemas.TableSpec] = {
    TOKEN_METRICS: schemas.TOKEN_METRICS,
    WHALE_HOLDERS: schemas.WHALE_HOLDERS,
    TRANSACTION_HISTORY: schemas.TRANSACTION_HISTORY,
    TOKEN_PRICES: schemas.TOKEN_PRICES,
    WALLET_TOKEN_PNL: schemas.WALLET_TOKEN_PNL,
    WALLET_PNL: schemas.WALLET_PNL,
    SMART_WALLETS: schemas.SMART_WALLETS,
}


@dataclass(frozen=True)
class CheckContext:
    """What a rule needs: the day, the lake, the settings and the Dagster instance."""

    day: dt.date
    lake: Lake
    settings: Settings
    instance: dg.DagsterInstance

    def read(self, spec: schemas.TableSpec, days: list[dt.date] | None = None) -> pl.DataFrame:
        return self.lake.scan(spec, days if days is not None else [self.day]).collect()

    def window(self, days: int) -> list[dt.date]:
        return days_between(self.day - dt.timedelta(days=days - 1), self.day)

    def tracked(self) -> pl.DataFrame:
        holders = self.read(schemas.WHALE_HOLDERS, self.window(self.settings.tracking_days))
        return tracked_wallets(holders, self.day, self.settings.tracking_days)


Rule = Callable[[CheckContext], pl.DataFrame]


def _result(
    violations: pl.DataFrame, severity: dg.AssetCheckSeverity, description: str
) -> dg.AssetCheckResult:
    examples = violations.head(EXAMPLES)
    return dg.AssetCheckResult(
        passed=violations.height == 0,
        severity=severity,
        description=description,
        metadata={
            "violations": violations.height,
            "examples": dg.MetadataValue.md(
                markdown_table(examples) if examples.height else "none"
            ),
        },
    )


def _check(
    asset_key: dg.AssetKey,
    name: str,
    description: str,
    rule: Rule,
    settings: Settings,
    blocking: bool = True,
) -> dg.AssetChecksDefinition:
    severity = dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN

    @dg.asset_check(
        asset=asset_key,
        name=name,
        description=description,
        blocking=blocking,
        partitions_def=DAILY,
    )
    def _run(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> dg.AssetCheckResult:
        check_context = CheckContext(
            day=day_of(context.partition_key),
            lake=lake.lake(),
            settings=settings,
            instance=context.instance,
        )
        return _result(rule(check_context), severity, description)

    return _run


def _schema_rule(spec: schemas.TableSpec) -> Rule:
    return lambda c: quality.schema_violations(c.read(spec), spec)


def _key_rule(spec: schemas.TableSpec) -> Rule:
    return lambda c: quality.duplicate_keys(c.read(spec), spec.key)


def _swap_key_table_wide(c: CheckContext) -> pl.DataFrame:
    spec = schemas.TRANSACTION_HISTORY
    day_rows = c.read(spec)
    others = (
        c.lake.scan(spec, None)
        .filter(pl.col("ingest_date") != c.day)
        .select(list(spec.key))
        .collect()
    )
    return pl.concat(
        [
            quality.duplicate_keys(day_rows, spec.key).drop("occurrences"),
            quality.keys_elsewhere(day_rows, others, spec.key),
        ]
    )


def _holders_reference_tokens(c: CheckContext) -> pl.DataFrame:
    tokens = c.read(schemas.TOKEN_METRICS).get_column("token_address")
    return quality.missing_references(c.read(schemas.WHALE_HOLDERS), "token_address", tokens)


def _wallets_tracked(spec: schemas.TableSpec) -> Rule:
    def rule(c: CheckContext) -> pl.DataFrame:
        wallets = c.tracked().get_column("wallet_address")
        rows = c.read(spec).select("wallet_address").unique()
        return quality.missing_references(rows, "wallet_address", wallets)

    return rule


def _gold_in_silver(c: CheckContext) -> pl.DataFrame:
    wallets = c.read(schemas.WALLET_PNL).get_column("wallet_address")
    return quality.missing_references(
        c.read(schemas.SMART_WALLETS).select("wallet_address"), "wallet_address", wallets
    )


def _swaps_in_range(c: CheckContext) -> pl.DataFrame:
    s = c.settings
    holders = c.read(
        schemas.WHALE_HOLDERS, c.window(s.lookback_days + s.tracking_days - 1)
    )
    ranges = swap_fetch_ranges(holders, c.day, s.lookback_days, s.tracking_days)
    return quality.swaps_outside_range(c.read(schemas.TRANSACTION_HISTORY), ranges, c.day)


def _window_fetched(c: CheckContext) -> pl.DataFrame:
    missing = unfetched_days(c.instance, c.day, c.settings.lookback_days)
    return pl.DataFrame({"day_without_transaction_history": missing}, schema={
        "day_without_transaction_history": pl.Date
    })


def _eligibility_and_ranks(c: CheckContext) -> pl.DataFrame:
    expected = rank_smart_wallets(
        c.read(schemas.WALLET_PNL), as_of_date=c.day, thresholds=c.settings.eligibility
    )
    return quality.rank_violations(c.read(schemas.SMART_WALLETS), expected)


def _bot_filter(c: CheckContext) -> pl.DataFrame:
    limits = c.settings.eligibility
    gold = c.read(schemas.SMART_WALLETS).select("wallet_address")
    silver = c.read(schemas.WALLET_PNL).join(gold, on="wallet_address", how="semi")
    return silver.filter(
        (pl.col("max_trades_per_day") > limits.max_trades_per_day)
        | ~(pl.col("avg_hold_seconds") >= limits.min_avg_hold_seconds).fill_null(False)
    ).select("wallet_address", "max_trades_per_day", "avg_hold_seconds")


def _accounting(c: CheckContext) -> pl.DataFrame:
    """received = stored + rejected + filtered + merged + duplicate, per endpoint, and the
    rejected term equals the rows stored in rejected_records."""
    rejected = (
        c.read(schemas.REJECTED_RECORDS).group_by("endpoint").len("rows")
    )
    rejected_rows = dict(rejected.iter_rows())
    problems = []
    for asset_key, endpoints in ENDPOINTS.items():
        event = c.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[c.day.isoformat()]),
            limit=1,
        ).records
        if not event or event[0].asset_materialization is None:
            continue
        metadata = event[0].asset_materialization.metadata
        for endpoint in endpoints:
            terms = {}
            for term in COUNT_TERMS:
                value = metadata.get(count_metadata_key(endpoint, term))
                terms[term] = int(value.value) if value is not None else 0  # type: ignore[arg-type]
            parts = sum(terms[t] for t in COUNT_TERMS[1:])
            if terms["received"] != parts:
                problems.append(
                    {"endpoint": endpoint, "problem": f"received {terms['received']} != {parts}"}
                )
            if terms["rejected"] != rejected_rows.get(endpoint, 0):
                problems.append(
                    {
                        "endpoint": endpoint,
                        "problem": f"rejected {terms['rejected']} but "
                        f"{rejected_rows.get(endpoint, 0)} rows in rejected_records",
                    }
                )
    return pl.DataFrame(problems, schema={"endpoint": pl.String, "problem": pl.String})


def _source_sanity(spec: schemas.TableSpec, columns: list[str], nullable: list[str]) -> Rule:
    def rule(c: CheckContext) -> pl.DataFrame:
        frame = c.read(spec)
        return pl.concat(
            [
                quality.invalid_values(frame, columns, nullable=False),
                quality.invalid_values(frame, nullable, nullable=True),
            ]
        ).unique(maintain_order=True)

    return rule


def _holder_ranks(c: CheckContext) -> pl.DataFrame:
    holders = c.read(schemas.WHALE_HOLDERS)
    expected = holders.sort(
        ["token_address", "ui_amount", "wallet_address"], descending=[False, True, False]
    ).with_columns(pl.int_range(1, pl.len() + 1).over("token_address").alias("expected_rank"))
    return expected.filter(pl.col("rank") != pl.col("expected_rank")).select(
        "token_address", "wallet_address", "rank", "expected_rank"
    )


def _token_count(c: CheckContext) -> pl.DataFrame:
    count = c.read(schemas.TOKEN_METRICS).height
    if count >= c.settings.tokens_per_day:
        return pl.DataFrame({"tokens": []}, schema={"tokens": pl.Int64})
    return pl.DataFrame({"tokens": [count]})


def build_checks(settings: Settings) -> list[dg.AssetChecksDefinition]:
    checks = []
    for key, spec in TABLE_OF.items():
        checks.append(
            _check(key, "schema", "Exact columns and types of the contract; no nulls where "
                   "the contract has none.", _schema_rule(spec), settings)
        )
        if key != TRANSACTION_HISTORY:
            checks.append(
                _check(key, "unique_key", f"The key {spec.key} is unique in the partition.",
                       _key_rule(spec), settings)
            )
    checks += [
        _check(TRANSACTION_HISTORY, "unique_key", "The key (tx_hash, ins_index, "
               "inner_ins_index, wallet_address) is unique across the whole table.",
               _swap_key_table_wide, settings),
        _check(WHALE_HOLDERS, "tokens_in_token_metrics", "Every token is in token_metrics(D).",
               _holders_reference_tokens, settings),
        _check(WHALE_HOLDERS, "holder_ranks", "rank is 1..n per token by ui_amount desc, "
               "then wallet_address.", _holder_ranks, settings, blocking=False),
        _check(TRANSACTION_HISTORY, "wallets_tracked", "Every wallet is tracked on D.",
               _wallets_tracked(schemas.TRANSACTION_HISTORY), settings),
        _check(TRANSACTION_HISTORY, "block_time_in_fetch_range", "Every swap lies in its "
               "wallet's fetch range [s_W(D), D+1 00:00).", _swaps_in_range, settings),
        _check(TRANSACTION_HISTORY, "valid_amounts_and_prices", "Amounts finite and > 0; "
               "prices null or finite and > 0.",
               _source_sanity(schemas.TRANSACTION_HISTORY, ["sold_amount", "bought_amount"],
                              ["sold_price_usd", "bought_price_usd"]), settings),
        _check(TOKEN_METRICS, "valid_prices", "price_usd finite and > 0.",
               _source_sanity(schemas.TOKEN_METRICS, ["price_usd"], []), settings),
        _check(TOKEN_METRICS, "full_top_list", "The day has tokens_per_day tokens.",
               _token_count, settings, blocking=False),
        _check(TOKEN_PRICES, "valid_prices", "price_usd finite and > 0.",
               _source_sanity(schemas.TOKEN_PRICES, ["price_usd"], []), settings),
        _check(WALLET_TOKEN_PNL, "wallets_tracked", "Every wallet is tracked on D.",
               _wallets_tracked(schemas.WALLET_TOKEN_PNL), settings),
        _check(WALLET_TOKEN_PNL, "fifo_invariants", "matched + unmatched = sold; open = bought "
               "− matched ≥ 0; winning ≤ matched ≤ sells.",
               lambda c: quality.fifo_invariant_violations(c.read(schemas.WALLET_TOKEN_PNL)),
               settings),
        _check(WALLET_PNL, "wallets_tracked", "Every wallet is tracked on D.",
               _wallets_tracked(schemas.WALLET_PNL), settings),
        _check(WALLET_PNL, "window_fetched", "Every day of the window with whale_holders has "
               "transaction_history.", _window_fetched, settings),
        _check(WALLET_PNL, "reconciles_with_tokens", "wallet_pnl sums equal the sums of "
               "wallet_token_pnl.",
               lambda c: quality.reconciliation_violations(
                   c.read(schemas.WALLET_PNL), c.read(schemas.WALLET_TOKEN_PNL)), settings),
        _check(SMART_WALLETS, "wallets_in_silver", "Every wallet is in wallet_pnl(D).",
               _gold_in_silver, settings),
        _check(SMART_WALLETS, "eligibility_tier_rank", "Every wallet meets eligibility; tier, "
               "score and rank (1..n by tier, score) follow the contract.",
               _eligibility_and_ranks, settings),
        _check(SMART_WALLETS, "ranks_without_gaps", "Ranks are exactly 1..n.",
               lambda c: quality.rank_gaps(c.read(schemas.SMART_WALLETS)), settings),
        _check(SMART_WALLETS, "bot_filter", "No wallet over max_trades_per_day or under "
               "min_avg_hold_seconds.", _bot_filter, settings),
        _check(REJECTED_RECORDS, "accounting", "received = stored + rejected + filtered + "
               "merged + duplicate per endpoint; rejected equals the stored rejected rows.",
               _accounting, settings),
    ]
    return checks


def blocking_check_keys(
    checks: list[dg.AssetChecksDefinition], asset_key: dg.AssetKey
) -> list[dg.AssetCheckKey]:
    return [
        spec.key
        for definition in checks
        for spec in definition.check_specs
        if spec.asset_key == asset_key and spec.blocking
    ]

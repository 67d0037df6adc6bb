"""Asset checks: the contract's consistency rules, per daily partition.

Blocking (severity ERROR) where bad data would propagate downstream: a failed blocking check
stops the assets below it in the same run, and automation (all_deps_blocking_checks_passed)
and the Helius sync refuse the partition afterwards. WARN where it is worth knowing but not
stopping. Each check reads day D (or D's window) from the lake, applies a rule from
smart_trader.quality and reports how many rows broke it, with a few examples.
"""

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import dagster as dg
import polars as pl

from smart_trader import quality, schemas
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
from smart_trader.assets.monitoring import HELIUS_SYNC_LOG
from smart_trader.assets.silver import WALLET_PNL, WALLET_TOKEN_PNL, unfetched_days
from smart_trader.ingest.fetch_plan import swap_fetch_ranges, tracked_wallets
from smart_trader.lake import Lake
from smart_trader.partitions import DAILY, day_of
from smart_trader.pnl.checks import fifo_invariant_violations, reconciliation_mismatches
from smart_trader.pnl.marks import MARK_SOURCES
from smart_trader.resources.lake import LakeResource
from smart_trader.settings import Settings

EXAMPLES = 5
SYNC_STATUSES = ("created", "updated", "unchanged", "skipped_empty", "skipped_stale", "failed")

TABLE_OF: dict[dg.AssetKey, schemas.TableSpec] = {
    TOKEN_METRICS: schemas.TOKEN_METRICS,
    WHALE_HOLDERS: schemas.WHALE_HOLDERS,
    TRANSACTION_HISTORY: schemas.TRANSACTION_HISTORY,
    TOKEN_PRICES: schemas.TOKEN_PRICES,
    REJECTED_RECORDS: schemas.REJECTED_RECORDS,
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

    def tracked(self) -> pl.Series:
        """The wallets tracked on D: whale_holders of [D - (tracking_days - 1), D]."""
        holders = self.read(schemas.WHALE_HOLDERS, self.window(self.settings.tracking_days))
        return tracked_wallets(holders, self.day, self.settings.tracking_days).get_column(
            "wallet_address"
        )


Rule = Callable[[CheckContext], pl.DataFrame]


def check_result(
    name: str,
    description: str,
    violations: pl.DataFrame,
    blocking: bool,
    asset_key: dg.AssetKey,
) -> dg.AssetCheckResult:
    """Passed when no row breaks the rule; else names the rule, counts and shows examples."""
    count = violations.height
    examples = violations.head(EXAMPLES)
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=name,
        passed=count == 0,
        severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
        description=description
        if count == 0
        else f"{name} FAILED: {count} violation(s) of the rule: {description}",
        metadata={
            "rule": dg.MetadataValue.text(description),
            "violations": count,
            "examples": dg.MetadataValue.md(markdown_table(examples) if count else "none"),
        },
    )


@dataclass(frozen=True)
class RuleCheck:
    """One rule on one asset: the check's name, what it demands, and how to find violations."""

    asset_key: dg.AssetKey
    name: str
    description: str
    rule: Rule
    blocking: bool = True

    @property
    def key(self) -> dg.AssetCheckKey:
        return dg.AssetCheckKey(self.asset_key, self.name)

    def evaluate(self, context: CheckContext) -> dg.AssetCheckResult:
        try:
            violations = self.rule(context)
        except Exception as exc:  # a table too broken to apply the rule fails the check, named
            violations = pl.DataFrame({"error": [f"{type(exc).__name__}: {exc}"[:500]]})
        return check_result(self.name, self.description, violations, self.blocking, self.asset_key)


def _asset_checks(
    asset_key: dg.AssetKey, rules: list[RuleCheck], settings: Settings
) -> dg.AssetChecksDefinition:
    """One op evaluates the asset's rules for day D: one step per asset, not per rule, since
    every step has a fixed cost (a process of its own under a multiprocess executor). A job
    may select any subset of the rules."""

    @dg.multi_asset_check(
        name=f"{asset_key.to_python_identifier()}_checks",
        specs=[
            dg.AssetCheckSpec(
                r.name,
                asset=asset_key,
                description=r.description,
                blocking=r.blocking,
                partitions_def=DAILY,
            )
            for r in rules
        ],
        can_subset=True,
    )
    def _run(
        context: dg.AssetCheckExecutionContext, lake: LakeResource
    ) -> Iterator[dg.AssetCheckResult]:
        check_context = CheckContext(
            day=day_of(context.partition_key),
            lake=lake.lake(),
            settings=settings,
            instance=context.instance,
        )
        selected = context.selected_asset_check_keys
        for r in rules:
            if r.key in selected:
                yield r.evaluate(check_context)

    return _run


def _sync_log_check() -> dg.AssetChecksDefinition:
    """helius_sync_log is not partitioned: its check reads the whole (small) audit table."""
    name = "schema_and_statuses"
    description = (
        "Exact columns and types of the contract, no nulls where it has none; status is one of "
        f"{', '.join(SYNC_STATUSES)}."
    )

    @dg.asset_check(asset=HELIUS_SYNC_LOG, name=name, description=description, blocking=False)
    def _run(lake: LakeResource) -> dg.AssetCheckResult:
        log = lake.lake().scan(schemas.HELIUS_SYNC_LOG).collect()
        violations = quality.schema_violations(log, schemas.HELIUS_SYNC_LOG)
        if "status" in log.columns:
            unknown = log.filter(~pl.col("status").is_in(list(SYNC_STATUSES)))
            violations = pl.concat(
                [
                    violations,
                    unknown.select(
                        column=pl.lit("status"),
                        problem=pl.concat_str(pl.lit("unknown status "), pl.col("status")),
                    ),
                ]
            )
        return check_result(name, description, violations, False, HELIUS_SYNC_LOG)

    return _run


def _schema_rule(spec: schemas.TableSpec) -> Rule:
    return lambda c: quality.schema_violations(c.read(spec), spec)


def _key_rule(spec: schemas.TableSpec) -> Rule:
    return lambda c: quality.duplicate_keys(c.read(spec), spec.key)


def _swap_key_table_wide(c: CheckContext) -> pl.DataFrame:
    """Duplicates within D, and D's keys found in any other partition."""
    spec = schemas.TRANSACTION_HISTORY
    day_rows = c.read(spec)
    others = (
        c.lake.scan(spec)
        .filter(pl.col("ingest_date") != c.day)
        .select(*spec.key, "ingest_date")
        .join(day_rows.lazy().select(spec.key), on=list(spec.key), how="semi")
        .collect()
    )
    within = quality.duplicate_keys(day_rows, spec.key).select(
        *spec.key, problem=pl.format("{} rows in {}", "occurrences", pl.lit(str(c.day)))
    )
    elsewhere = quality.keys_elsewhere(day_rows, others, spec.key, "ingest_date").select(
        *spec.key, problem=pl.format("also in {}", pl.col("also_in").cast(pl.String))
    )
    return pl.concat([within, elsewhere])


def _holders_reference_tokens(c: CheckContext) -> pl.DataFrame:
    tokens = c.read(schemas.TOKEN_METRICS).get_column("token_address")
    return quality.missing_references(
        c.read(schemas.WHALE_HOLDERS).select("token_address", "wallet_address", "rank"),
        "token_address",
        tokens,
    )


def _wallets_tracked(spec: schemas.TableSpec) -> Rule:
    def rule(c: CheckContext) -> pl.DataFrame:
        rows = c.read(spec).group_by("wallet_address").len("rows").sort("wallet_address")
        return quality.missing_references(rows, "wallet_address", c.tracked())

    return rule


def _gold_in_silver(c: CheckContext) -> pl.DataFrame:
    wallets = c.read(schemas.WALLET_PNL).get_column("wallet_address")
    return quality.missing_references(
        c.read(schemas.SMART_WALLETS).select("wallet_address", "rank"), "wallet_address", wallets
    )


def _swaps_in_range(c: CheckContext) -> pl.DataFrame:
    s = c.settings
    holders = c.read(schemas.WHALE_HOLDERS, c.window(s.lookback_days + s.tracking_days - 1))
    ranges = swap_fetch_ranges(holders, c.day, s.lookback_days, s.tracking_days)
    return quality.swaps_outside_range(c.read(schemas.TRANSACTION_HISTORY), ranges, c.day)


def _window_fetched(c: CheckContext) -> pl.DataFrame:
    missing = unfetched_days(c.instance, c.day, c.settings.lookback_days)
    return pl.DataFrame(
        {"day_with_whale_holders_but_no_transaction_history": missing},
        schema={"day_with_whale_holders_but_no_transaction_history": pl.Date},
    )


def _gold_and_silver(
    rule: Callable[[pl.DataFrame, pl.DataFrame, CheckContext], pl.DataFrame],
) -> Rule:
    return lambda c: rule(c.read(schemas.SMART_WALLETS), c.read(schemas.WALLET_PNL), c)


def _gold(rule: Callable[[pl.DataFrame], pl.DataFrame]) -> Rule:
    return lambda c: rule(c.read(schemas.SMART_WALLETS))


def _accounting(c: CheckContext) -> pl.DataFrame:
    """received = stored + rejected + filtered + merged + duplicate, per endpoint, from the
    latest materialization of each bronze asset for D; its rejected term equals the rows of
    that endpoint in rejected_records(D)."""
    stored = dict(c.read(schemas.REJECTED_RECORDS).group_by("endpoint").len("rows").iter_rows())
    problems = [
        {"endpoint": endpoint, "problem": f"{rows} rejected rows of an endpoint no asset reads"}
        for endpoint, rows in sorted(stored.items())
        if not any(endpoint in endpoints for endpoints in ENDPOINTS.values())
    ]
    for asset_key, endpoints in ENDPOINTS.items():
        records = c.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[c.day.isoformat()]),
            limit=1,
        ).records
        materialization = records[0].asset_materialization if records else None
        for endpoint in endpoints:
            rows = stored.get(endpoint, 0)
            if materialization is None:
                if rows:
                    problems.append(
                        {
                            "endpoint": endpoint,
                            "problem": f"{rows} rejected rows but {asset_key.to_user_string()}"
                            f"({c.day}) was never materialized",
                        }
                    )
                continue
            terms = {}
            for term in COUNT_TERMS:
                value = materialization.metadata.get(count_metadata_key(endpoint, term))
                terms[term] = int(value.value) if value is not None else 0  # type: ignore[arg-type]
            parts = sum(terms[t] for t in COUNT_TERMS[1:])
            if terms["received"] != parts:
                problems.append(
                    {
                        "endpoint": endpoint,
                        "problem": f"received {terms['received']} != stored {terms['stored']} "
                        f"+ rejected {terms['rejected']} + filtered {terms['filtered']} + merged "
                        f"{terms['merged']} + duplicate {terms['duplicate']} = {parts}",
                    }
                )
            if terms["rejected"] != rows:
                problems.append(
                    {
                        "endpoint": endpoint,
                        "problem": f"rejected {terms['rejected']} in the metadata but {rows} "
                        "rows in rejected_records",
                    }
                )
    return pl.DataFrame(problems, schema={"endpoint": pl.String, "problem": pl.String})


def _token_count(c: CheckContext) -> pl.DataFrame:
    count = c.read(schemas.TOKEN_METRICS).height
    wanted = c.settings.tokens_per_day
    if count == wanted:
        return pl.DataFrame(schema={"tokens": pl.Int64, "tokens_per_day": pl.Int64})
    return pl.DataFrame({"tokens": [count], "tokens_per_day": [wanted]})


def build_checks(settings: Settings) -> list[dg.AssetChecksDefinition]:
    s = settings
    quotes = s.quote_asset_set
    checks: list[RuleCheck] = []
    for key, spec in TABLE_OF.items():
        checks.append(
            RuleCheck(
                key,
                "schema",
                "Exact columns and types of the contract; no nulls where the contract has none.",
                _schema_rule(spec),
            )
        )
        if spec.key and key != TRANSACTION_HISTORY:
            checks.append(
                RuleCheck(
                    key,
                    "unique_key",
                    f"The key ({', '.join(spec.key)}) is unique in the partition.",
                    _key_rule(spec),
                )
            )
    checks += [
        # bronze/token_metrics
        RuleCheck(
            TOKEN_METRICS,
            "valid_prices",
            "price_usd is finite and > 0.",
            lambda c: quality.invalid_values(
                c.read(schemas.TOKEN_METRICS), ["price_usd"], ["token_address", "symbol"]
            ),
        ),
        RuleCheck(
            TOKEN_METRICS,
            "passes_filters",
            "Every token passes the token filters (inclusive bounds) and is not a quote asset.",
            lambda c: quality.token_filter_violations(
                c.read(schemas.TOKEN_METRICS), s.token_filters, quotes
            ),
            blocking=False,
        ),
        RuleCheck(
            TOKEN_METRICS,
            "full_top_list",
            "The day holds exactly tokens_per_day tokens (fewer: not enough passed the filters).",
            _token_count,
            blocking=False,
        ),
        # bronze/whale_holders
        RuleCheck(
            WHALE_HOLDERS,
            "tokens_in_token_metrics",
            "Every token_address is in token_metrics(D).",
            _holders_reference_tokens,
        ),
        RuleCheck(
            WHALE_HOLDERS,
            "valid_amounts",
            "ui_amount and value_usd are finite and > 0.",
            lambda c: quality.invalid_values(
                c.read(schemas.WHALE_HOLDERS),
                ["ui_amount", "value_usd"],
                ["token_address", "wallet_address"],
            ),
        ),
        RuleCheck(
            WHALE_HOLDERS,
            "holder_ranks",
            "rank is 1..n per token by ui_amount descending, then wallet_address ascending.",
            lambda c: quality.holder_rank_violations(c.read(schemas.WHALE_HOLDERS)),
            blocking=False,
        ),
        # bronze/transaction_history
        RuleCheck(
            TRANSACTION_HISTORY,
            "unique_key",
            "The key (tx_hash, ins_index, inner_ins_index, wallet_address) is unique across "
            "the whole table.",
            _swap_key_table_wide,
        ),
        RuleCheck(
            TRANSACTION_HISTORY,
            "wallets_tracked",
            "Every wallet_address is tracked on D (in whale_holders of the last tracking_days).",
            _wallets_tracked(schemas.TRANSACTION_HISTORY),
        ),
        RuleCheck(
            TRANSACTION_HISTORY,
            "block_time_in_fetch_range",
            "Every swap lies in its wallet's fetch range [s_W(D), D+1 00:00): none at or after "
            "D+1 00:00.",
            _swaps_in_range,
        ),
        RuleCheck(
            TRANSACTION_HISTORY,
            "valid_amounts_and_prices",
            "sold_amount and bought_amount are finite and > 0; prices are null or finite and > 0.",
            lambda c: pl.concat(
                [
                    quality.invalid_values(
                        c.read(schemas.TRANSACTION_HISTORY),
                        ["sold_amount", "bought_amount"],
                        ["tx_hash", "ins_index", "inner_ins_index", "wallet_address"],
                    ),
                    quality.invalid_values(
                        c.read(schemas.TRANSACTION_HISTORY),
                        ["sold_price_usd", "bought_price_usd"],
                        ["tx_hash", "ins_index", "inner_ins_index", "wallet_address"],
                        nullable=True,
                    ),
                ]
            ),
        ),
        RuleCheck(
            TRANSACTION_HISTORY,
            "legs_well_formed",
            "The two legs are different tokens; native SOL is stored as wSOL.",
            lambda c: quality.malformed_swaps(c.read(schemas.TRANSACTION_HISTORY)),
        ),
        RuleCheck(
            TRANSACTION_HISTORY,
            "one_block_per_transaction",
            "The swaps of one (wallet_address, tx_hash) share block_time and block_number: a "
            "transaction lies in one block (silver relies on it to find multi-swap transactions).",
            lambda c: quality.transactions_across_blocks(c.read(schemas.TRANSACTION_HISTORY)),
        ),
        # bronze/token_prices
        RuleCheck(
            TOKEN_PRICES,
            "valid_prices",
            "price_usd is finite and > 0.",
            lambda c: quality.invalid_values(
                c.read(schemas.TOKEN_PRICES), ["price_usd"], ["token_address"]
            ),
        ),
        # bronze/rejected_records
        RuleCheck(
            REJECTED_RECORDS,
            "accounting",
            "Per endpoint: received = stored + rejected + filtered + merged + duplicate in the "
            "bronze asset's metadata, and rejected equals the endpoint's rejected_records rows.",
            _accounting,
        ),
        # silver/wallet_token_pnl
        RuleCheck(
            WALLET_TOKEN_PNL,
            "wallets_tracked",
            "Every wallet_address is tracked on D.",
            _wallets_tracked(schemas.WALLET_TOKEN_PNL),
        ),
        RuleCheck(
            WALLET_TOKEN_PNL,
            "fifo_invariants",
            "matched_qty + unmatched_sell_qty = sold_qty; open_qty = bought_qty - matched_qty "
            ">= 0; winning_sell_count <= matched_sell_count <= sell_count (up to eps residue).",
            lambda c: fifo_invariant_violations(c.read(schemas.WALLET_TOKEN_PNL)),
        ),
        RuleCheck(
            WALLET_TOKEN_PNL,
            "no_quote_assets",
            "Quote assets are cash: no PnL row for a quote asset.",
            lambda c: quality.quote_asset_rows(c.read(schemas.WALLET_TOKEN_PNL), quotes),
        ),
        RuleCheck(
            WALLET_TOKEN_PNL,
            "valid_marks",
            "mark_price_usd is finite and > 0 with a known mark_source; unrealized_pnl_usd = "
            "open_qty * mark_price_usd - open_cost_usd.",
            lambda c: quality.mark_violations(c.read(schemas.WALLET_TOKEN_PNL), MARK_SOURCES),
        ),
        # silver/wallet_pnl
        RuleCheck(
            WALLET_PNL,
            "wallets_tracked",
            "Every wallet_address is tracked on D.",
            _wallets_tracked(schemas.WALLET_PNL),
        ),
        RuleCheck(
            WALLET_PNL,
            "window_fetched",
            "Every day P of the lookback window with whale_holders(P) has transaction_history(P).",
            _window_fetched,
        ),
        RuleCheck(
            WALLET_PNL,
            "reconciles_with_tokens",
            "Counts and sums of wallet_pnl equal the sums of the wallet's wallet_token_pnl rows "
            "(tokens_traded, tokens_realized included); every wallet_token_pnl wallet has a row.",
            lambda c: reconciliation_mismatches(
                c.read(schemas.WALLET_TOKEN_PNL), c.read(schemas.WALLET_PNL)
            ),
        ),
        RuleCheck(
            WALLET_PNL,
            "derived_metrics",
            "total_pnl_usd = realized + unrealized; roi_pct, win_rate_pct and "
            "best_token_realized_pnl_usd follow their definitions.",
            lambda c: quality.wallet_metric_violations(
                c.read(schemas.WALLET_PNL), c.read(schemas.WALLET_TOKEN_PNL)
            ),
        ),
        # gold/smart_wallets
        RuleCheck(
            SMART_WALLETS,
            "wallets_in_silver",
            "Every wallet is in wallet_pnl(D).",
            _gold_in_silver,
        ),
        RuleCheck(
            SMART_WALLETS,
            "matches_silver",
            "Every metric gold copies equals the wallet's wallet_pnl(D) value.",
            _gold_and_silver(lambda g, w, _: quality.gold_silver_mismatches(g, w)),
        ),
        RuleCheck(
            SMART_WALLETS,
            "eligibility",
            "Every wallet meets every eligibility rule on its wallet_pnl(D) row.",
            _gold_and_silver(
                lambda g, w, c: quality.eligibility_violations(g, w, c.day, s.eligibility)
            ),
        ),
        RuleCheck(
            SMART_WALLETS,
            "bot_filter",
            f"No wallet over max_trades_per_day ({s.eligibility.max_trades_per_day}) or under "
            f"min_avg_hold_seconds ({s.eligibility.min_avg_hold_seconds}).",
            _gold_and_silver(lambda g, w, _: quality.bot_violations(g, w, s.eligibility)),
        ),
        RuleCheck(
            SMART_WALLETS,
            "tier",
            "tier is the first of ELITE (realized >= 1000, roi >= 30, win rate >= 60), STRONG "
            "(>= 100, >= 15, >= 40), PROMISING that holds.",
            _gold(quality.tier_violations),
        ),
        RuleCheck(
            SMART_WALLETS,
            "score",
            "score is the contract's formula on the row's own columns, rounded to 9 decimals.",
            _gold(quality.score_violations),
        ),
        RuleCheck(
            SMART_WALLETS,
            "rank_order",
            "rank is 1..n without gaps in the order tier (ELITE, STRONG, PROMISING), score "
            "desc, realized_pnl_usd desc, wallet_address asc.",
            _gold(quality.rank_violations),
        ),
        RuleCheck(
            SMART_WALLETS,
            "eligible_wallets_ranked",
            "Every wallet of wallet_pnl(D) that meets every eligibility rule is ranked.",
            _gold_and_silver(
                lambda g, w, c: quality.eligible_but_unranked(g, w, c.day, s.eligibility)
            ),
            blocking=False,
        ),
    ]
    by_asset: dict[dg.AssetKey, list[RuleCheck]] = {}
    for check in checks:
        by_asset.setdefault(check.asset_key, []).append(check)
    return [
        *(_asset_checks(key, rules, s) for key, rules in by_asset.items()),
        _sync_log_check(),
    ]


def blocking_check_keys(
    checks: list[dg.AssetChecksDefinition], asset_key: dg.AssetKey
) -> list[dg.AssetCheckKey]:
    return [
        spec.key
        for definition in checks
        for spec in definition.check_specs
        if spec.asset_key == asset_key and spec.blocking
    ]

"""Bronze's asset checks: what the APIs gave is typed, keyed, in range and accounted for."""

import dagster as dg
import polars as pl

from smart_trader import quality, schemas
from smart_trader.defs.bronze.assets import (
    COUNT_TERMS,
    ENDPOINTS,
    PICK_SWAPS,
    REJECTED_RECORDS,
    TOKEN_METRICS,
    TOKEN_PRICES,
    TRANSACTION_HISTORY,
    WHALE_HOLDERS,
    count_metadata_key,
)
from smart_trader.defs.bronze.pick_swaps import picked_cohort
from smart_trader.defs.checks import (
    CheckContext,
    RuleCheck,
    check_result,
    table_rules,
    wallets_tracked,
)
from smart_trader.defs.partitions import DAILY, day_of, fetch_plan_days
from smart_trader.ingest.fetch_plan import swap_fetch_ranges
from smart_trader.pnl import forward
from smart_trader.resources.birdeye import BirdEyeClient
from smart_trader.resources.lake import LakeResource
from smart_trader.settings import Settings


def _holders_reference_tokens(c: CheckContext) -> pl.DataFrame:
    tokens = c.read(schemas.TOKEN_METRICS).get_column("token_address")
    return quality.missing_references(
        c.read(schemas.WHALE_HOLDERS).select("token_address", "wallet_address", "rank"),
        "token_address",
        tokens,
    )


def _swaps_in_range(c: CheckContext) -> pl.DataFrame:
    s = c.settings
    holders = c.read(schemas.WHALE_HOLDERS, c.window(fetch_plan_days(s)))
    ranges = swap_fetch_ranges(holders, c.day, s.lookback_days, s.tracking_days)
    return quality.swaps_outside_range(c.read(schemas.TRANSACTION_HISTORY), ranges, c.day)


# Every bronze fetch of day D and its endpoints: the daily ones, and pick_swaps(E = D).
FETCHES = {**ENDPOINTS, PICK_SWAPS: ENDPOINTS[TRANSACTION_HISTORY]}


def _rejected_rows(c: CheckContext) -> dict[tuple[str, str], int]:
    """Rejected rows of D per (asset, endpoint). A row without asset (written before the column
    existed) is its endpoint's daily fetch's."""
    owner = {endpoint: key.to_user_string() for key, eps in ENDPOINTS.items() for endpoint in eps}
    rows = c.read(schemas.REJECTED_RECORDS).with_columns(
        pl.col("asset").fill_null(pl.col("endpoint").replace_strict(owner, default=None))
    )
    return {
        (asset, endpoint): n
        for asset, endpoint, n in rows.group_by("asset", "endpoint").len("rows").iter_rows()
    }


def _accounting(c: CheckContext) -> pl.DataFrame:
    """received = stored + rejected + filtered + merged + duplicate, per endpoint, from the
    latest materialization of each bronze fetch for D; its rejected term equals that asset's
    rows of that endpoint in rejected_records(D)."""
    by_asset = _rejected_rows(c)
    fetched = {(k.to_user_string(), e) for k, endpoints in FETCHES.items() for e in endpoints}
    problems = [
        {
            "endpoint": endpoint,
            "problem": f"{rows} rejected rows of {asset or 'no bronze fetch'}, which does "
            "not read this endpoint",
        }
        for (asset, endpoint), rows in sorted(by_asset.items(), key=str)
        if (asset, endpoint) not in fetched
    ]
    for asset_key, endpoints in FETCHES.items():
        records = c.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[c.day.isoformat()]),
            limit=1,
        ).records
        materialization = records[0].asset_materialization if records else None
        for endpoint in endpoints:
            rows = by_asset.get((asset_key.to_user_string(), endpoint), 0)
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


def _pick_swaps_in_range(c: CheckContext) -> pl.DataFrame:
    picked = forward.picked_on(c.day, c.settings.forward_days)
    members = picked_cohort(
        c.instance,
        picked,
        c.read(schemas.SMART_WALLETS, [picked]),
        c.read(schemas.WALLET_PNL, [picked]),
        c.settings.baseline_size,
    )
    return forward.forward_range_violations(c.read(schemas.PICK_SWAPS), members, picked, c.day)


def _token_count(c: CheckContext) -> pl.DataFrame:
    count = c.read(schemas.TOKEN_METRICS).height
    wanted = c.settings.tokens_per_day
    if count == wanted:
        return pl.DataFrame(schema={"tokens": pl.Int64, "tokens_per_day": pl.Int64})
    return pl.DataFrame({"tokens": [count], "tokens_per_day": [wanted]})


def bronze_rules(settings: Settings) -> list[RuleCheck]:
    s = settings
    quotes = s.quote_asset_set
    return [
        *table_rules(TOKEN_METRICS, schemas.TOKEN_METRICS),
        *table_rules(WHALE_HOLDERS, schemas.WHALE_HOLDERS),
        # Within a partition only: out of order, two partitions may hold one swap (the contract's
        # out-of-order rule); silver reads such a key once, from the latest ingest_date.
        *table_rules(TRANSACTION_HISTORY, schemas.TRANSACTION_HISTORY),
        *table_rules(TOKEN_PRICES, schemas.TOKEN_PRICES),
        *table_rules(REJECTED_RECORDS, schemas.REJECTED_RECORDS),
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
        wallets_tracked(TRANSACTION_HISTORY, schemas.TRANSACTION_HISTORY),
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
        # bronze/pick_swaps
        *table_rules(PICK_SWAPS, schemas.PICK_SWAPS),
        RuleCheck(
            PICK_SWAPS,
            "cohort_forward_range",
            "Every swap is of a cohort wallet of D = E − forward_days, with block_time in "
            "[D+1 00:00, E+1 00:00).",
            _pick_swaps_in_range,
        ),
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
    ]


def data_source_check() -> dg.AssetChecksDefinition:
    """token_metrics(D).data_source is the mode the definitions decided (`birdeye` live,
    `sandbox` otherwise), read from the BirdEye resource: a live lake never passes sandbox
    rows downstream, nor a sandbox lake live ones."""
    name = "data_source_is_the_mode"
    description = (
        "Every data_source is this deployment's mode: `birdeye` when BirdEye is live, "
        "`sandbox` otherwise."
    )

    @dg.asset_check(
        asset=TOKEN_METRICS,
        name=name,
        description=description,
        blocking=True,
        partitions_def=DAILY,
    )
    def _run(
        context: dg.AssetCheckExecutionContext, lake: LakeResource, birdeye: BirdEyeClient
    ) -> dg.AssetCheckResult:
        rows = lake.lake().scan(schemas.TOKEN_METRICS, [day_of(context.partition_key)]).collect()
        violations = (
            rows.filter(pl.col("data_source") != birdeye.data_source)
            .group_by("data_source")
            .len("rows")
            .with_columns(mode=pl.lit(birdeye.data_source))
            .sort("data_source")
        )
        return check_result(name, description, violations, True, TOKEN_METRICS)

    return _run

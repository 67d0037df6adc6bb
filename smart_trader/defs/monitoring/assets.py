"""Monitoring: keep the Helius webhook on the top wallets of the newest gold partition."""

import datetime as dt

import dagster as dg
import polars as pl
from pydantic import Field

from smart_trader import schemas
from smart_trader.defs.automation import after_any_gold_update
from smart_trader.defs.gold.assets import SMART_WALLETS
from smart_trader.helius_sync import SyncPlan, addresses_sha256, plan_sync
from smart_trader.lake import Lake
from smart_trader.resources.helius import HeliusClient
from smart_trader.resources.lake import LakeResource
from smart_trader.resources.upstream_checks import (
    UpstreamGate,
    UpstreamNotChecked,
    whole_asset_graph,
)
from smart_trader.settings import Settings

HELIUS_SYNC_LOG = dg.AssetKey(["monitoring", "helius_sync_log"])


class HeliusSyncConfig(dg.Config):
    today: str = Field(
        default="",
        description="UTC date (ISO) the 3-day staleness rule counts from; empty means today.",
    )


def build_monitoring_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=HELIUS_SYNC_LOG,
        group_name="monitoring",
        kinds={"deltalake"},
        deps=[SMART_WALLETS],
        automation_condition=after_any_gold_update(),
        description=(
            "Every sync of the Helius webhook to the top wallets of the newest gold partition "
            "(append-only audit)."
        ),
    )
    def helius_sync_log(
        context: dg.AssetExecutionContext,
        config: HeliusSyncConfig,
        helius: HeliusClient,
        lake: LakeResource,
    ) -> dg.MaterializeResult:
        store = lake.lake()
        today = (
            dt.date.fromisoformat(config.today) if config.today else dt.datetime.now(dt.UTC).date()
        )
        done = context.instance.get_materialized_partitions(SMART_WALLETS)
        if not done:
            # Nothing to follow, and no gold day to log the attempt against.
            raise dg.Failure(
                "helius sync: no gold/smart_wallets partition is materialized yet; "
                "materialize one first"
            )
        gold_day = max(dt.date.fromisoformat(k) for k in done)
        # The webhook follows gold(D) only if it and everything it was computed from passed
        # their blocking checks (and were not changed since).
        graph = whole_asset_graph(context.job_def, lambda: context.repository_def)
        gate = UpstreamGate(context.instance, graph, store)
        try:
            gate.verify(SMART_WALLETS, [gold_day.isoformat()], "helius sync")
        except UpstreamNotChecked as refusal:
            _append(store, gold_day, None, SyncPlan("failed", [], [], []))
            raise dg.Failure(
                f"helius sync refuses gold({gold_day}): it or what it was computed from is not "
                f"vouched for by its blocking checks: {refusal.problems}"
            ) from None
        wanted = (
            store.scan(schemas.SMART_WALLETS, [gold_day])
            .sort("rank")
            .head(settings.helius_max_addresses)
            .collect()
            .get_column("wallet_address")
            .to_list()
        )
        try:
            webhook = helius.find_webhook_for_url(helius.webhook_url)
            plan = plan_sync(
                wanted,
                None if webhook is None else list(webhook.account_addresses),
                gold_day,
                today,
            )
            webhook_id = None if webhook is None else webhook.webhook_id
            if plan.status == "created":
                webhook_id = helius.create_webhook(plan.addresses).webhook_id
            elif plan.status == "updated" and webhook_id is not None:
                helius.edit_webhook(webhook_id, plan.addresses)
        except Exception:
            _append(store, gold_day, None, SyncPlan("failed", wanted, [], []))
            raise
        version = _append(store, gold_day, webhook_id, plan)
        context.log.info(
            f"helius sync: {plan.status} with {len(plan.addresses)} addresses "
            f"(+{len(plan.added)} −{len(plan.removed)}) from gold({gold_day})"
        )
        return dg.MaterializeResult(
            metadata={
                "status": plan.status,
                "gold_partition": str(gold_day),
                "address_count": len(plan.addresses),
                "added_count": len(plan.added),
                "removed_count": len(plan.removed),
                "webhook_id": webhook_id or "",
                "path": store.table_uri(schemas.HELIUS_SYNC_LOG),
                "delta_version": version,
            }
        )

    return [helius_sync_log]


def _append(store: Lake, gold_day: dt.date, webhook_id: str | None, plan: SyncPlan) -> int:
    row = pl.DataFrame(
        {
            "synced_at": [dt.datetime.now(dt.UTC)],
            "as_of_date": [gold_day],
            "webhook_id": [webhook_id],
            "status": [plan.status],
            "address_count": [len(plan.addresses)],
            "added_count": [len(plan.added)],
            "removed_count": [len(plan.removed)],
            "addresses_sha256": [addresses_sha256(plan.addresses)],
        }
    )
    return store.append(schemas.HELIUS_SYNC_LOG, schemas.conform(row, schemas.HELIUS_SYNC_LOG))

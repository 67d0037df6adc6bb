"""`smart-trader demo`: materialize the whole graph for one day and print the top wallets.

It runs the same asset graph as the UI and `dagster asset materialize`, in the Dagster instance
at DAGSTER_HOME (so the runs show up in the UI afterwards), on whatever the environment
configures: with no keys, the local lake and the sandbox market.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dagster as dg
import polars as pl

from smart_trader import schemas
from smart_trader.gold_rules import top_wallets
from smart_trader.resources.lake import LakeResource

DEFAULT_DAGSTER_HOME = Path("data/dagster_home")


def yesterday_utc() -> dt.date:
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)


def instance_for_demo() -> dg.DagsterInstance:
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(DEFAULT_DAGSTER_HOME.resolve())))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n")
    return dg.DagsterInstance.get()


def run_demo(day: dt.date, top: int) -> int:
    from smart_trader.definitions import defs

    instance = instance_for_demo()
    print(f"materializing every asset for {day} (DAGSTER_HOME={os.environ['DAGSTER_HOME']})")
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=instance,
        partition_key=day.isoformat(),
        raise_on_error=False,
        # progress and results, without Dagster's step-by-step debug events
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
    )
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.is_step_failure]
        print(f"the run failed at {', '.join(str(s) for s in failed)}; see the Dagster UI or logs")
        return 1
    lake = LakeResource().lake()
    gold = lake.scan(schemas.SMART_WALLETS, [day]).sort("rank").collect()
    where = lake.table_uri(schemas.SMART_WALLETS)
    print(f"\ngold/smart_wallets for {day}: {gold.height} wallets ({where})")
    with pl.Config(
        tbl_rows=top, tbl_width_chars=160, fmt_str_lengths=44, tbl_hide_dataframe_shape=True
    ):
        print(top_wallets(gold, top))
    return 0

"""Maintenance: the lake's Delta upkeep, weekly and by hand."""

import dagster as dg

from smart_trader.defs.maintenance.jobs import build_maintenance_job, build_maintenance_schedule
from smart_trader.settings import Settings


def maintenance_defs(settings: Settings) -> dg.Definitions:
    job = build_maintenance_job(settings)
    return dg.Definitions(jobs=[job], schedules=[build_maintenance_schedule(job)])

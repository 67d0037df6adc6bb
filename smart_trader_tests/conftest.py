"""Shared fixtures: a real S3 server (SeaweedFS on loopback), small pipeline settings."""

from __future__ import annotations

import warnings

import pytest

from smart_trader.settings import EligibilityThresholds, Settings

pytest_plugins = ["smart_trader_tests.fixtures_s3"]

# Partitioned asset checks are a Dagster preview feature; the warning says nothing about our code.
warnings.filterwarnings("ignore", message=".*is currently in preview.*")


@pytest.fixture
def small_settings() -> Settings:
    """The default rules on a smaller market slice, so a full graph run takes seconds."""
    return Settings(
        tokens_per_day=4,
        holders_per_token=12,
        max_holder_pages=3,
        helius_max_addresses=20,
        eligibility=EligibilityThresholds(),
    )

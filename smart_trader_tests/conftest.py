"""Shared fixtures: a real S3 server (SeaweedFS on loopback), small pipeline settings."""

from __future__ import annotations

import warnings

import pytest

from smart_trader.settings import EligibilityThresholds, Settings

pytest_plugins = ["smart_trader_tests.fixtures_s3"]

# Partitioned asset checks are a Dagster preview feature; the warning says nothing about our code.
warnings.filterwarnings("ignore", message=".*is currently in preview.*")


# A one-day slice of 3-4 tokens cannot give any wallet the 5+ realized tokens the skill test
# needs (p <= 0.05), so tests that need a non-empty gold waive the two evidence rules; the
# rules themselves are tested on hand-built wallets (test_scoring, test_fifo_skill).
SMALL_MARKET_ELIGIBILITY = {"max_skill_p_value": 1.0, "max_open_cost_share": 1.0}
SMALL_MARKET_ELIGIBILITY_ENV = '{"max_skill_p_value": 1.0, "max_open_cost_share": 1.0}'


@pytest.fixture
def small_settings() -> Settings:
    """The default rules on a smaller market slice, so a full graph run takes seconds."""
    return Settings(
        tokens_per_day=4,
        holders_per_token=12,
        max_holder_pages=3,
        helius_max_addresses=20,
        eligibility=EligibilityThresholds.model_validate(SMALL_MARKET_ELIGIBILITY),
    )

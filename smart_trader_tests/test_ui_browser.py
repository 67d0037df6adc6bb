"""The Dagster UI as a user sees it, in a real browser: the code server, dagster-webserver and
dagster-daemon on free loopback ports (smart_trader_tests/dagster_stack.py) against a temporary
DAGSTER_HOME holding smart_trader/deploy/dagster.local.yaml (the embedded default: SQLite
storage, the run queue, run monitoring), the lake in a temporary folder, the sandbox market;
headless Chromium driven by Playwright's sync API.

Chromium is Debian's /usr/bin/chromium (`make system-deps` installs it and fonts-liberation);
Playwright never downloads a browser. Without that binary the test fails, saying so (`make test`
installs it).

- The catalog (/assets) lists every asset the code location serves, each row showing its group.
- bronze/token_metrics' page: its Checks tab lists each of its asset checks, its Partitions tab
  shows every daily partition.
- A partition materialized by clicking (Materialize… → the partition typed in the launch
  dialog → Launch 1 run → the toast's View): the run page reaches Success, the run carries the
  UI's tag and the partition, the Partitions tab counts it materialized and the checks passed.

Screenshots of each step are test artifacts: written to test-artifacts/ui/ at the repository
root (gitignored; overwritten by each run), e.g. test-artifacts/ui/4-run-succeeded.png.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from smart_trader_tests.conftest import SMALL_MARKET_ELIGIBILITY_ENV
from smart_trader_tests.dagster_stack import REPO, Stack, clean_environment, dagster_stack

CHROMIUM = Path("/usr/bin/chromium")  # Debian's, from `make system-deps`; never a download
ARTIFACTS = REPO / "test-artifacts" / "ui"
LOCAL_INSTANCE = REPO / "smart_trader" / "deploy" / "dagster.local.yaml"
ASSET = "bronze/token_metrics"
# A settled day inside the launch dialog's default range (the last 90 days).
DAY = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)).isoformat()
UI_TIMEOUT_MS = 30_000
RUN_TIMEOUT_MS = 150_000

expect.set_options(timeout=UI_TIMEOUT_MS)

ASSET_NODES = """
{ assetNodes {
    assetKey { path } groupName
    assetChecksOrError { ... on AssetChecks { checks { name } } }
    partitionKeys
} }"""
RUNS = """
{ runsOrError { ... on Runs { results { runId status tags { key value } assetSelection {
    path } } } } }"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("ui_browser")
    env = clean_environment()
    env |= {
        "SMART_TRADER_LAKE_URI": str(work / "lake"),
        "SMART_TRADER_TOKENS_PER_DAY": "3",
        "SMART_TRADER_HOLDERS_PER_TOKEN": "8",
        "SMART_TRADER_ELIGIBILITY": SMALL_MARKET_ELIGIBILITY_ENV,
        "SMART_TRADER_SANDBOX_STATE_DIR": str(work / "sandbox"),
    }
    with dagster_stack(work, LOCAL_INSTANCE, env) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: `make system-deps` installs it"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # Tall enough that the catalog's virtualized table renders every row.
    context = browser.new_context(viewport={"width": 1400, "height": 2200})
    context.set_default_timeout(UI_TIMEOUT_MS)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def nodes(stack: Stack) -> dict[str, dict[str, Any]]:
    """What the code location serves, by asset path: the expectations for the pages."""
    found = stack.graphql(ASSET_NODES)["assetNodes"]
    return {"/".join(n["assetKey"]["path"]): n for n in found}


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def row(page: Page, containing: Locator) -> Locator:
    """The row of one of the UI's (virtualized) tables that holds `containing`."""
    return page.locator("[class*=VirtualizedTable_row]").filter(has=containing)


def asset_tab(page: Page, name: str) -> Locator:
    """A tab of the asset's page (a check's panel below has tabs of the same names)."""
    return page.get_by_role("tab", name=name, exact=True).and_(page.locator("a[href*='view=']"))


def test_the_catalog_shows_the_groups_assets_checks_and_partitions(
    stack: Stack, page: Page, nodes: dict[str, dict[str, Any]]
) -> None:
    groups = {n["groupName"] for n in nodes.values()}
    assert {"bronze", "silver", "gold", "live", "monitoring"} <= groups
    page.goto(f"{stack.url}/assets")
    for path in nodes:  # each asset's link, once the table has rendered
        expect(page.locator(f'a[href="/assets/{path}"]')).to_contain_text(path.replace("/", " / "))
    # Every row at once: the asset's name, then its code location and group.
    rows = {
        text.split("\n", 1)[0]: text
        for text in page.locator("[class*=VirtualizedTable_row]").all_inner_texts()
    }
    for path, node in nodes.items():
        shown = rows[path.replace("/", " / ")]
        assert f"\n{node['groupName']}\n" in f"{shown}\n", (path, shown)
    screenshot(page, "1-catalog")

    # The asset's page, through its tabs as a user clicks them.
    page.locator(f'a[href="/assets/{ASSET}"]').click()
    expect(page).to_have_url(re.compile(f"/assets/{ASSET}"))
    asset_tab(page, "Checks").click()
    checks = [c["name"] for c in nodes[ASSET]["assetChecksOrError"]["checks"]]
    assert len(checks) >= 5, checks
    expect(page.get_by_text(f"Checks ({len(checks)})", exact=True)).to_be_visible()
    for name in checks:
        expect(row(page, page.locator(f'[title="{name}"]')).first).to_be_visible()
    screenshot(page, "2-checks")

    asset_tab(page, "Partitions").click()
    partitions = nodes[ASSET]["partitionKeys"]
    assert partitions[0] == "2025-01-01" and DAY in partitions
    expect(page.get_by_text(f"{len(partitions)} Partitions Selected", exact=True)).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Missing \(\d+\)$"))).to_be_visible()
    expect(page.get_by_text(DAY, exact=True).first).to_be_visible()
    screenshot(page, "3-partitions")


def test_one_partition_materialized_by_clicking_succeeds(
    stack: Stack, page: Page, nodes: dict[str, dict[str, Any]]
) -> None:
    page.goto(f"{stack.url}/assets/{ASSET}")
    page.get_by_role("button", name="Materialize…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Launch runs to materialize {ASSET.replace('/', ' / ')}")
    partition = dialog.get_by_placeholder("No matching partitions")
    partition.fill(DAY)
    partition.press("Enter")
    expect(dialog).to_contain_text("1 partition")
    dialog.get_by_role("button", name="Launch 1 run").click()
    toast = page.locator("[class*=Toaster_toast]").filter(has_text="Launched run")
    toast.get_by_role("link", name="View", exact=True).click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]{36}"))
    run_id = page.url.rsplit("/runs/", 1)[1].split("?")[0]
    expect(page.get_by_text(f"partition: {DAY}").first).to_be_visible()
    expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=RUN_TIMEOUT_MS)
    screenshot(page, "4-run-succeeded")

    # The instance agrees: one run, launched from the UI, of this asset for this day.
    runs = stack.graphql(RUNS)["runsOrError"]["results"]
    assert [r["runId"] for r in runs] == [run_id]
    tags = {t["key"]: t["value"] for t in runs[0]["tags"]}
    assert runs[0]["status"] == "SUCCESS"
    assert tags["dagster/partition"] == DAY and tags["dagster/from_ui"] == "true"
    assert ["/".join(a["path"]) for a in runs[0]["assetSelection"]] == [ASSET]

    # The asset's page now shows the partition materialized and its checks passed.
    page.goto(f"{stack.url}/assets/{ASSET}")
    asset_tab(page, "Partitions").click()
    expect(page.get_by_text("Materialized (1)", exact=True)).to_be_visible()
    screenshot(page, "5-partition-materialized")
    asset_tab(page, "Checks").click()
    for check in nodes[ASSET]["assetChecksOrError"]["checks"]:
        expect(row(page, page.locator(f'[title="{check["name"]}"]')).first).to_contain_text(
            "Succeeded"
        )
    screenshot(page, "6-checks-passed")

"""Asset checks: the machinery every layer's checks use.

Each layer's `checks.py` lists its rules (smart_trader.quality holds their pure logic); this
module turns them into one multi-asset check per asset and day. Blocking (severity ERROR) where
bad data would propagate downstream: a failed blocking check stops the assets below it in the
same run, and automation (all_deps_blocking_checks_passed) and the Helius sync refuse the
partition afterwards. WARN where it is worth knowing but not stopping.
"""

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import dagster as dg
import polars as pl

from smart_trader import quality, schemas
from smart_trader.days import window_days
from smart_trader.defs.metadata import markdown_table
from smart_trader.defs.partitions import DAILY, day_of
from smart_trader.ingest.fetch_plan import tracked_wallets
from smart_trader.lake import Lake
from smart_trader.resources.lake import LakeResource
from smart_trader.settings import Settings

EXAMPLES = 5


@dataclass(frozen=True)
class CheckContext:
    """What a rule needs: the day, the lake, the settings and the Dagster instance.

    One context serves all the rules of one check step, and it reads each (table, days) once:
    the rules of a step share the scan instead of each reading the table again.
    """

    day: dt.date
    lake: Lake
    settings: Settings
    instance: dg.DagsterInstance
    _reads: dict[tuple[str, tuple[dt.date, ...]], pl.DataFrame] = field(
        default_factory=dict, repr=False, compare=False
    )

    def read(self, spec: schemas.TableSpec, days: list[dt.date] | None = None) -> pl.DataFrame:
        wanted = tuple(sorted(set(days if days is not None else [self.day])))
        key = (spec.path, wanted)
        if key not in self._reads:
            self._reads[key] = self.lake.scan(spec, list(wanted)).collect()
        return self._reads[key]

    def window(self, days: int) -> list[dt.date]:
        return window_days(self.day, days)

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


def asset_checks(
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


def table_rules(
    asset_key: dg.AssetKey, spec: schemas.TableSpec, unique_key: bool = True
) -> list[RuleCheck]:
    """The contract's schema rule and, for a keyed table, its unique-key rule."""
    rules = [
        RuleCheck(
            asset_key,
            "schema",
            "Exact columns and types of the contract; no nulls where the contract has none.",
            lambda c: quality.schema_violations(c.read(spec), spec),
        )
    ]
    if spec.key and unique_key:
        rules.append(
            RuleCheck(
                asset_key,
                "unique_key",
                f"The key ({', '.join(spec.key)}) is unique in the partition.",
                lambda c: quality.duplicate_keys(c.read(spec), spec.key).with_columns(
                    problem=pl.format("{} rows in {}", "occurrences", pl.lit(str(c.day)))
                ),
            )
        )
    return rules


def wallets_tracked(asset_key: dg.AssetKey, spec: schemas.TableSpec) -> RuleCheck:
    """Every wallet_address of the table's partition D is tracked on D."""

    def rule(c: CheckContext) -> pl.DataFrame:
        rows = c.read(spec).group_by("wallet_address").len("rows").sort("wallet_address")
        return quality.missing_references(rows, "wallet_address", c.tracked())

    return RuleCheck(
        asset_key,
        "wallets_tracked",
        "Every wallet_address is tracked on D (in whale_holders of the last tracking_days).",
        rule,
    )


def build_checks(rules: Iterable[RuleCheck], settings: Settings) -> list[dg.AssetChecksDefinition]:
    """One multi-asset check per asset, in the order the rules are given."""
    by_asset: dict[dg.AssetKey, list[RuleCheck]] = {}
    for rule in rules:
        by_asset.setdefault(rule.asset_key, []).append(rule)
    return [asset_checks(key, asset_rules, settings) for key, asset_rules in by_asset.items()]

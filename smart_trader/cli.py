"""`smart-trader` command line: `demo` (the whole graph for one day), `backfill`, `sql`,
`receiver serve`; and the commands other packages register under the `smart_trader.commands`
entry point (the sandbox's `sandbox serve|deliver` and `quality`, see sandbox/cli.py)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

COMMANDS = "smart_trader.commands"  # entry-point group: (subparsers) -> None


def _demo(args: argparse.Namespace) -> int:
    from smart_trader.demo import run_demo

    return run_demo(args.day, args.top)


def _add_demo(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from smart_trader.demo import yesterday_utc

    demo = subparsers.add_parser(
        "demo", help="materialize every asset for one day and print the top smart wallets"
    )
    demo.add_argument(
        "--day",
        type=dt.date.fromisoformat,
        default=yesterday_utc(),
        help="the UTC day to run (default: yesterday, the newest complete day)",
    )
    demo.add_argument("--top", type=int, default=20, help="how many wallets to print")
    demo.set_defaults(handler=_demo)


def _receiver(args: argparse.Namespace) -> int:
    from smart_trader.receiver.serve import receiver_config, serve

    config = receiver_config(args.spool_dir, args.max_body_bytes, args.flush_interval)
    serve(args.host, args.port, config, args.log_level)
    return 0


def _add_receiver(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    receiver = subparsers.add_parser(
        "receiver", help="the Helius webhook receiver (real-time monitoring)"
    )
    actions = receiver.add_subparsers(dest="receiver_command", required=True)
    serve = actions.add_parser(
        "serve",
        help="receive Helius deliveries on POST /helius (secret: env HELIUS_WEBHOOK_AUTH)",
        description="Answers 200 once a delivery is fsync'd to the spool, then writes "
        "bronze/webhook_events, bronze/live_swaps and rejected records to the lake "
        "(SMART_TRADER_LAKE_URI). GET /healthz answers 200 when ready.",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8900)
    serve.add_argument(
        "--spool-dir",
        default=None,
        help="default: $SMART_TRADER_RECEIVER_SPOOL or data/receiver_spool",
    )
    serve.add_argument("--max-body-bytes", type=int, default=8 * 1024 * 1024, help="larger: 413")
    serve.add_argument("--flush-interval", type=float, default=0.5, help="seconds")
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(handler=_receiver)


def _sql(args: argparse.Namespace) -> int:
    import duckdb
    from deltalake.exceptions import DeltaError

    from smart_trader.lake_sql import connect
    from smart_trader.resources.lake import LakeConfig

    query = sys.stdin.read() if args.query == "-" else args.query
    try:
        lake = LakeConfig().lake()
        con = connect(lake)
    except (ValueError, DeltaError, OSError) as exc:  # a bad setting or an unreachable lake
        print(f"error: cannot open the lake: {exc}", file=sys.stderr)
        return 1
    try:
        relation = con.sql(query)
        if relation is None:  # a statement without a result (SET, CREATE VIEW ...)
            return 0
        if args.format == "table":
            relation.show(max_rows=args.max_rows)
        elif args.format == "csv":
            sys.stdout.write(relation.pl().write_csv())
        else:
            sys.stdout.write(relation.pl().write_json() + "\n")
    except duckdb.Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _add_sql(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sql = subparsers.add_parser(
        "sql",
        help="query the lake in DuckDB SQL: every table is a view named after it",
        description="Query the lake (SMART_TRADER_LAKE_URI, default data/lake; an s3:// lake "
        "uses the AWS_* variables) in DuckDB SQL. Every table of the data contract is a view "
        "named after it (smart_wallets, wallet_pnl, transaction_history, ...); timestamps are "
        "UTC. A bad query prints DuckDB's message and exits 2.",
    )
    sql.add_argument("query", help='e.g. "SELECT * FROM smart_wallets LIMIT 5"; - reads stdin')
    sql.add_argument("--format", choices=["table", "csv", "json"], default="table")
    sql.add_argument(
        "--max-rows", type=int, default=100, help="rows the table format shows (default 100)"
    )
    sql.set_defaults(handler=_sql)


def _backfill(args: argparse.Namespace) -> int:
    import dagster as dg

    from smart_trader.backfill import submit_backfill, wait_for_backfill
    from smart_trader.definitions import defs

    with dg.DagsterInstance.get() as instance:
        backfill_id = submit_backfill(instance, defs, args.first, args.last)
        print(
            f"submitted backfill {backfill_id} of {args.first}..{args.last} (UI: Runs → Backfills)"
        )
        if not args.wait:
            return 0
        status = wait_for_backfill(instance, backfill_id, args.timeout)
    return 0 if status.value == "COMPLETED_SUCCESS" else 1


def _add_backfill(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backfill = subparsers.add_parser(
        "backfill",
        help="backfill every daily asset for FIRST..LAST (the daemon runs it, in dependency order)",
    )
    backfill.add_argument("first", type=dt.date.fromisoformat, help="first UTC day, YYYY-MM-DD")
    backfill.add_argument("last", type=dt.date.fromisoformat, help="last UTC day, YYYY-MM-DD")
    backfill.add_argument("--wait", action="store_true", help="wait until the backfill is over")
    backfill.add_argument("--timeout", type=float, default=6 * 3600, help="seconds to wait")
    backfill.set_defaults(handler=_backfill)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smart-trader")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_demo(subparsers)
    _add_backfill(subparsers)
    _add_sql(subparsers)
    _add_receiver(subparsers)
    for plugin in entry_points(group=COMMANDS):
        plugin.load()(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = args.handler
    result: int = handler(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())

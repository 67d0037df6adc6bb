"""The sandbox's commands, which `smart-trader` loads through the `smart_trader.commands` entry
point (pyproject.toml), so the production CLI never imports the sandbox: `sandbox serve` (the
market over HTTP), `sandbox deliver` (a day's webhook deliveries) and `quality` (gold judged by
the market's truth over N days)."""

from __future__ import annotations

import argparse
import datetime as dt

from smart_trader.sandbox.app import default_seed


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _add_sandbox(subparsers)
    _add_quality(subparsers)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from smart_trader.sandbox import FaultConfig, SandboxConfig, create_app

    config = SandboxConfig(
        seed=args.seed,
        api_key=args.api_key,
        helius_api_key=args.helius_api_key,
        rate_limit_rps=args.rate_limit_rps,
        rate_limit_burst=args.rate_limit_burst,
        compute_units=args.compute_units,
        faults=FaultConfig.parse(args.faults),
        strict_time_bounds=args.strict_time_bounds,
        helius_state_path=args.helius_state_path,
        allow_loopback_webhooks=not args.no_loopback_webhooks,
        helius_max_webhooks=args.helius_max_webhooks,
    )
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level=args.log_level)
    return 0


def _deliver(args: argparse.Namespace) -> int:
    import json
    import os
    from dataclasses import asdict
    from pathlib import Path

    from smart_trader.sandbox.webhooks import deliver_day

    # Where the embedded default keeps its webhooks (definitions.SANDBOX_STATE_DIR).
    state_dir = Path(os.environ.get("SMART_TRADER_SANDBOX_STATE_DIR", "data/sandbox"))
    state_path = args.state_path or str(state_dir / "helius_webhooks.json")
    print(json.dumps(asdict(deliver_day(args.seed, state_path, args.day))))
    return 0


def _add_sandbox(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sandbox = subparsers.add_parser("sandbox", help="the offline BirdEye/Helius market")
    actions = sandbox.add_subparsers(dest="sandbox_command", required=True)
    serve = actions.add_parser("serve", help="serve the sandbox over HTTP (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8899)
    serve.add_argument("--seed", type=int, default=default_seed())
    serve.add_argument("--faults", default=None, help='e.g. "server_error=0.1,fault_seed=3"')
    serve.add_argument("--api-key", default=None, help="require this X-API-KEY (default: any)")
    serve.add_argument("--helius-api-key", default=None, help="require this Helius api-key")
    serve.add_argument("--rate-limit-rps", type=float, default=None)
    serve.add_argument("--rate-limit-burst", type=int, default=None)
    serve.add_argument("--compute-units", type=int, default=None)
    serve.add_argument("--strict-time-bounds", action="store_true")
    serve.add_argument("--helius-state-path", default=None)
    serve.add_argument("--helius-max-webhooks", type=int, default=10)
    serve.add_argument(
        "--no-loopback-webhooks", action="store_true", help="require public https webhook URLs"
    )
    serve.add_argument("--log-level", default="warning")
    serve.set_defaults(handler=_serve)
    deliver = actions.add_parser(
        "deliver",
        help="post a UTC day's swaps of the watched wallets to the registered webhooks "
        "(e.g. the receiver on loopback), as Helius would have",
    )
    deliver.add_argument("--day", type=dt.date.fromisoformat, required=True)
    deliver.add_argument("--seed", type=int, default=default_seed())
    deliver.add_argument(
        "--state-path",
        default=None,
        help="the webhooks file (default: $SMART_TRADER_SANDBOX_STATE_DIR/helius_webhooks.json)",
    )
    deliver.set_defaults(handler=_deliver)


def _quality(args: argparse.Namespace) -> int:
    import json

    from smart_trader.sandbox.evaluation import render, run_quality
    from smart_trader.settings import load_settings

    report, _ = run_quality(args.seed, args.days, args.end_day, load_settings())
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render(report, args.end_day, args.seed))
    return 0


def _add_quality(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from smart_trader.demo import yesterday_utc

    quality = subparsers.add_parser(
        "quality",
        help="materialize N days on a fresh lake with the sandbox and judge gold by its truth",
    )
    quality.add_argument("--seed", type=int, default=default_seed(), help="sandbox seed")
    quality.add_argument("--days", type=int, default=10, help="consecutive days to materialize")
    quality.add_argument(
        "--end-day",
        type=dt.date.fromisoformat,
        default=yesterday_utc(),
        help="the last day, the one reported (default: yesterday UTC)",
    )
    quality.add_argument("--json", action="store_true", help="print the report as JSON")
    quality.set_defaults(handler=_quality)

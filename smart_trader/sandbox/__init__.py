"""The sandbox market: an offline BirdEye + Helius over a seeded synthetic Solana market."""

from smart_trader.sandbox.app import (
    RequestLogEntry,
    SandboxConfig,
    create_app,
    default_seed,
    shared_app,
)
from smart_trader.sandbox.faults import FaultConfig
from smart_trader.sandbox.market import Market, day_end, get_market, ground_truth
from smart_trader.sandbox.size import MarketSize, size_from_env

__all__ = [
    "FaultConfig",
    "Market",
    "MarketSize",
    "RequestLogEntry",
    "SandboxConfig",
    "create_app",
    "day_end",
    "default_seed",
    "get_market",
    "ground_truth",
    "shared_app",
    "size_from_env",
]

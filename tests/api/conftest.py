"""An in-process API (``create_api_app`` over a real Runtime on SQLite) and a signer.

``api.send(...)`` signs a Query request with botocore's own SigV4 signer, at the
real time, and posts it through Starlette's TestClient; ``api.key`` is an access
key of user ``alice``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode_sequence
from starlette.testclient import TestClient

from selfiam.api.backend import RuntimeBackend
from selfiam.api.endpoint import create_api_app
from selfiam.auth.secretbox import SecretBox
from selfiam.domain.identifiers import new_request_id
from selfiam.service.bootstrap import create_account, seed_aws_managed_policies
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.runtime import Runtime
from selfiam.store.engine import create_engine_for, transaction
from selfiam.store.migrate import upgrade_to_head
from support.seeded import seeded_sqlite

ACCOUNT = "123456789012"
HOSTS = {"iam": "iam.amazonaws.com", "sts": "sts.amazonaws.com"}


@dataclass
class Api:
    runtime: Runtime
    client: TestClient
    key_id: str
    secret: str

    def root(self, operation: str, **params: Any) -> dict[str, Any]:
        info = RequestInfo(request_id=new_request_id(), now=self.runtime.clock())
        return self.runtime.invoke("iam", operation, params, Caller.root(ACCOUNT), info)

    def new_key(self, user: str) -> tuple[str, str]:
        self.root("CreateUser", UserName=user)
        key = self.root("CreateAccessKey", UserName=user)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    def signed(
        self,
        params: dict[str, str],
        *,
        service: str = "sts",
        region: str = "us-east-1",
        key_id: str | None = None,
        secret: str | None = None,
        body: bytes | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers of a request signed by botocore."""
        data = body if body is not None else percent_encode_sequence(params).encode()
        request = AWSRequest(
            method="POST",
            url=f"https://{HOSTS[service]}/",
            data=data,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        creds = Credentials(key_id or self.key_id, secret or self.secret)
        SigV4Auth(creds, service, region).add_auth(request)
        headers = {k: v for k, v in request.headers.items()}
        headers["host"] = HOSTS[service]
        return data, headers

    def send(self, params: dict[str, str], **kw: Any) -> tuple[int, str]:
        data, headers = self.signed(params, **kw)
        response = self.client.post("/", content=data, headers=headers)
        return response.status_code, response.text


def error_code(text: str) -> str:
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0]


def error_message(text: str) -> str:
    return text.split("<Message>", 1)[1].split("</Message>", 1)[0]


@contextmanager
def built_api(url: str) -> Iterator[Api]:
    """An in-process API over the fresh database at ``url``, ``alice`` signing."""
    engine = create_engine_for(url)
    upgrade_to_head(engine)
    runtime = Runtime(engine, SecretBox(SecretBox.generate_key()))
    with transaction(engine) as conn:
        seed_aws_managed_policies(conn)
        create_account(conn, runtime.clock(), ACCOUNT)
    app = create_api_app(RuntimeBackend(runtime))
    # No ``with``: the API callable serves HTTP only (lifespan goes to the Starlette app).
    api = Api(runtime, TestClient(app, base_url="http://iam.amazonaws.com"), "", "")
    api.key_id, api.secret = api.new_key("alice")
    try:
        yield api
    finally:
        runtime.audit.flush()
        engine.dispose()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with built_api(seeded_sqlite(tmp_path / "api.db")) as built:
        yield built

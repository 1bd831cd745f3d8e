"""The service through falcon.testing, with real crypto and WeChat and the CMS mocked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import falcon.testing
import pytest
import responses
from dependency_injector import providers

from adapters.wechat_push.fields import PushFormat
from entrypoints.cli.push_simulator import Mode, PushSimulator, SignedPush
from entrypoints.service.bootstrap import app_for, start
from entrypoints.service.container import Container
from entrypoints.service.settings import Settings
from tests.documents import CONTRACT_DOCUMENT
from tests.images import JPEG, png

TOKEN = "kefuTestToken2026"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APPID = "wx0123456789abcdef"
APPSECRET = "appsecret-never-logged-0001"
ACCESS_TOKEN = "ACCESS-TOKEN-never-logged-0002"
CMS_URL = "http://127.0.0.1:9/cms/rules"
WECHAT = "http://127.0.0.1:9"
POSTER_URL = "https://example.com/cms/poster.jpg"


@dataclass
class Service:
    client: falcon.testing.TestClient
    wechat: responses.RequestsMock
    simulator: PushSimulator
    settings: Settings

    def push(self, text: str, fmt: PushFormat = PushFormat.JSON, mode: Mode = Mode.SAFE):
        return self.send(self.simulator.build(self.simulator.text(text, "o_user_1"), fmt, mode))

    def send(
        self, push: SignedPush, params: dict[str, str] | None = None, body: bytes | None = None
    ):
        return self.client.simulate_post(
            self.settings.callback_path,
            params=push.params if params is None else params,
            body=push.body if body is None else body,
            headers={"Content-Type": push.content_type},
        )

    def calls(self, path: str) -> list[responses.Call]:
        return [c for c in self.wechat.calls if str(c.request.url).split("?")[0].endswith(path)]

    def sent(self) -> list[dict[str, object]]:
        sends = self.calls("/cgi-bin/message/custom/send")
        return [json.loads(c.request.body or b"") for c in sends]

    def outbound_to_wechat(self) -> int:
        urls = [str(c.request.url) for c in self.wechat.calls]
        return len([url for url in urls if url.startswith(WECHAT + "/cgi-bin")])


def mock_wechat(rsps: responses.RequestsMock, document: object = CONTRACT_DOCUMENT) -> None:
    rsps.get(CMS_URL, json=document)
    rsps.post(
        f"{WECHAT}/cgi-bin/stable_token", json={"access_token": ACCESS_TOKEN, "expires_in": 7200}
    )
    rsps.post(
        f"{WECHAT}/cgi-bin/media/upload",
        json={
            "errcode": 0,
            "errmsg": "ok",
            "type": "image",
            "media_id": "MEDIA_1",
            "created_at": 1,
        },
    )
    rsps.post(f"{WECHAT}/cgi-bin/message/custom/send", json={"errcode": 0, "errmsg": "ok"})
    rsps.post(
        f"{WECHAT}/cgi-bin/message/custom/business/typing", json={"errcode": 0, "errmsg": "ok"}
    )
    rsps.get(POSTER_URL, body=JPEG, content_type="image/jpeg")


@pytest.fixture
def media_root(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    (root / "cms").mkdir(parents=True)
    (root / "cms" / "poster02.png").write_bytes(png())
    return root


def safe_mode_settings(media_root: Path, state_dir: Path) -> Settings:
    """Safe-mode settings with the rules from CMS_URL and WeChat at WECHAT."""
    return Settings(
        token=TOKEN,
        appid=APPID,
        encoding_aes_key=AES_KEY,
        appsecret=APPSECRET,
        rules_url=CMS_URL,
        media_root=media_root,
        wechat_api_base=WECHAT,
        state_dir=state_dir,
    )


@pytest.fixture
def settings(tmp_path: Path, media_root: Path) -> Settings:
    return safe_mode_settings(media_root, tmp_path / "state")


def start_with_rules(container: Container) -> None:
    """`start`, waiting for the first CMS fetch as `kefu status` does: the service fetches it
    behind, and these tests read at once what it brought (replies, the saved copy)."""
    container.rules_wait.override(providers.Object(True))
    start(container)


@contextmanager
def running_service(settings: Settings, rsps: responses.RequestsMock) -> Iterator[Service]:
    """The service as a worker runs it, its resources stopped again when the test is done.

    Replies go out inside the request here, so a test reads them as soon as it is answered;
    the queue between them is tested under real gunicorn (tests/e2e/test_reply_queue*.py).
    """
    container = Container(settings=replace(settings, senders=0))
    container.dispatcher.override(container.deliver_now)
    start_with_rules(container)
    try:
        client = falcon.testing.TestClient(app_for(container))
        simulator = PushSimulator(TOKEN, APPID, settings.encoding_aes_key)
        yield Service(client, rsps, simulator, settings)
    finally:
        container.shutdown_resources()
        container.reset_override()


@pytest.fixture
def service(settings: Settings):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_wechat(rsps)
        with running_service(settings, rsps) as service:
            yield service


@pytest.fixture
def plaintext_service(settings: Settings):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_wechat(rsps)
        with running_service(replace(settings, encoding_aes_key=None), rsps) as service:
            yield service

"""The real container and app with fakes plugged in through provider overrides."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import falcon.testing
import pytest

from adapters.wechat_push.fields import PushFormat
from domain.errors import DeliveryError
from domain.replies import MediaFile, TextReply
from entrypoints.cli.push_simulator import Mode, PushSimulator
from entrypoints.service.bootstrap import app_for, start
from entrypoints.service.container import Container
from entrypoints.service.settings import Settings
from tests.documents import CONTRACT_DOCUMENT
from tests.e2e.conftest import APPID, TOKEN
from tests.fakes import FakeMessenger, FakeRuleSource, FakeStateStore


@dataclass
class FakeWeChat(FakeMessenger):
    """The messenger plus the uploader role the API adapter also plays."""

    uploads: list[str] = field(default_factory=list)

    def upload_image(self, media: MediaFile) -> str:
        self.uploads.append(media.filename)
        return f"uploaded:{media.filename}"

    def check_token(self) -> None:
        """Readiness asks for an access token: the fake always has one."""


@dataclass
class Wired:
    client: falcon.testing.TestClient
    wechat: FakeWeChat
    simulator: PushSimulator

    def push(self, text: str, msg_id: int = 1) -> str:
        fields = self.simulator.text(text, "o_fake", msg_id=msg_id)
        push = self.simulator.build(fields, PushFormat.JSON, Mode.SAFE)
        answer = self.client.simulate_post("/wechat/callback", params=push.params, body=push.body)
        return f"{answer.status_code} {answer.text}"


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    container = Container(settings=replace(settings, senders=0))
    container.dispatcher.override(container.deliver_now)  # replies inside the request
    container.state_backend.override(FakeStateStore())
    container.rules.override(FakeRuleSource(CONTRACT_DOCUMENT))
    yield container
    # Nothing stays overridden or running for the next test.
    container.shutdown_resources()
    container.reset_override()


def wire(container: Container, wechat: FakeWeChat) -> Wired:
    container.wechat_api.override(wechat)
    start(container)
    client = falcon.testing.TestClient(app_for(container))
    key = container.settings().encoding_aes_key
    return Wired(client, wechat, PushSimulator(TOKEN, APPID, key))


def test_keyword_replies_reach_the_fake_messenger(container):
    wired = wire(container, FakeWeChat())
    assert wired.push("hello") == "200 success"
    assert wired.wechat.sent == [("o_fake", TextReply("再见"))]


def test_a_file_image_is_uploaded_through_the_fake_and_sent_by_its_id(container):
    wired = wire(container, FakeWeChat())
    assert wired.push("3") == "200 success"
    assert wired.wechat.uploads == ["poster02.png"]
    assert wired.wechat.typing == ["o_fake"]


def test_a_rules_outage_is_answered_success_and_sends_nothing(container):
    container.rules.override(FakeRuleSource(None))
    wired = wire(container, FakeWeChat())
    assert wired.push("1") == "200 success"
    assert wired.wechat.sent == []


def test_wechat_refusing_every_send_still_answers_success(container):
    refusal = DeliveryError("45015 out of window", transient=False, code=45015)
    wired = wire(container, FakeWeChat(failures=[refusal] * 3))
    assert [wired.push(text, msg_id=n) for n, text in enumerate(("1", "hello", "1"))] == [
        "200 success"
    ] * 3
    assert wired.wechat.sent == []


def test_a_broken_state_store_costs_no_push_and_no_unrecorded_send(container):
    # A send is made only once the store has recorded it (so a re-run cannot repeat it): with
    # the store broken the push is answered and its reply held back for the queue's retry.
    container.state_backend.override(FakeStateStore(broken=True))
    wired = wire(container, FakeWeChat())
    assert wired.push("hello") == "200 success"
    assert wired.wechat.sent == []

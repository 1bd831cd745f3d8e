"""The same messages through `kefu rules match`, the real service and the preview page give the
same replies: the page shows what users will get."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

from adapters.wechat_push.fields import PushFormat
from entrypoints.cli.push_simulator import Mode, PushSimulator
from entrypoints.cli.rules import match_text
from entrypoints.sandbox.main import serve_sandbox
from entrypoints.sandbox.state import SandboxState
from tests.e2e.browser import Page, chromium
from tests.e2e.conftest import APPID, APPSECRET, TOKEN
from tests.e2e.preview_env import image_host, kefu_preview, preview_document, write_rules
from tests.e2e.servers import gunicorn, kefu_settings

# What a user sees of one reply, however it is told: text, card fields, a picture's file name.
Seen = tuple[str, ...]
MESSAGES = ["1", "１", "2", "3", "hello", "人工", "怎么安装", "活动", "脚本"]


pytestmark = pytest.mark.browser


@dataclass
class ThreeWays:
    settings: dict[str, str]
    service_url: str
    sandbox: SandboxState
    page: Page


@pytest.fixture(scope="module")
def three_ways(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreeWays]:
    folder = tmp_path_factory.mktemp("three-ways")
    with image_host() as images, serve_sandbox("127.0.0.1", 0, APPID, APPSECRET) as sandbox:
        write_rules(folder, preview_document(images))
        # The image host is on loopback, which image URLs may reach only when listed.
        settings = kefu_settings(folder, sandbox.url, KEFU_MEDIA_ALLOW_HOSTS="127.0.0.1")
        del settings["KEFU_ENCODING_AES_KEY"]  # plaintext, so the hand-over reads as it is
        with (
            gunicorn(settings, folder / "kefu.log") as service,
            kefu_preview(settings) as url,
            chromium() as driver,
        ):
            page = Page(driver, url)
            page.open()
            yield ThreeWays(settings, service.url, sandbox.state, page)


def seen_in_body(body: Mapping[str, object], file_of: Mapping[str, str]) -> Seen:
    """A message/custom/send body as the user sees it."""
    kind = str(body["msgtype"])
    fields = body[kind]
    assert isinstance(fields, dict)
    if kind == "text":
        return ("text", fields["content"])
    if kind == "link":
        return ("link", fields["title"], fields["description"], fields["url"])
    if kind == "image":
        return ("image", file_of[fields["media_id"]])
    return (
        "miniprogrampage",
        fields["title"],
        fields["pagepath"],
        file_of[fields["thumb_media_id"]],
    )


def through_rules_match(text: str, settings: dict[str, str]) -> tuple[str, list[Seen]]:
    out, err = io.StringIO(), io.StringIO()
    assert match_text(text, settings, out, err) == 0
    rule, *lines = out.getvalue().splitlines()
    seen: list[Seen] = []
    for line in lines:
        if line.startswith("passive reply: "):
            assert json.loads(line.removeprefix("passive reply: "))["MsgType"] == (
                "transfer_customer_service"
            )
            seen.append(("transfer",))
        elif line.startswith("send: "):
            body = json.loads(line.removeprefix("send: "))
            seen.append(seen_in_body(body, _PlaceholderFiles()))
    return rule.removeprefix("rule: "), seen


class _PlaceholderFiles(dict[str, str]):
    """`kefu rules match` names a picture `<media id of REF>`: the file is REF's last part."""

    def __missing__(self, placeholder: str) -> str:
        ref = placeholder.removeprefix("<media id of ").removesuffix(">")
        return PurePosixPath(urlsplit(ref).path).name


def through_the_service(text: str, user: str, ways: ThreeWays, expected: int) -> list[Seen]:
    simulator = PushSimulator(TOKEN, APPID, None)
    push = simulator.build(simulator.text(text, user), PushFormat.JSON, Mode.PLAINTEXT)
    answer = requests.post(
        f"{ways.service_url}/wechat/callback", params=push.params, data=push.body, timeout=15
    )
    assert answer.status_code == 200
    deadline = time.monotonic() + 15
    while True:
        sent = [body for body in ways.sandbox.sent if body["touser"] == user]
        if len(sent) >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    files = {media.media_id: media.filename for media in ways.sandbox.media}
    seen = [seen_in_body(body, files) for body in sent]
    if answer.text != "success":
        assert json.loads(answer.text)["MsgType"] == "transfer_customer_service"
        seen.append(("transfer",))
    return seen


def seen_on_page(row: WebElement) -> Seen:
    kind = str(row.get_attribute("data-kind"))
    find = row.find_element
    if kind == "text":
        return ("text", find(By.CSS_SELECTOR, ".bubble").get_attribute("textContent") or "")
    if kind == "link":
        card = find(By.CSS_SELECTOR, ".card")
        title, desc = (find(By.CSS_SELECTOR, c).text for c in (".title", ".desc"))
        return ("link", title, desc, card.get_attribute("href") or "")
    if kind == "image":
        return ("image", find(By.TAG_NAME, "img").get_attribute("data-file") or "")
    if kind == "transfer":
        return ("transfer",)
    title, path = (find(By.CSS_SELECTOR, c).text for c in (".title", ".path"))
    return (
        "miniprogrampage",
        title,
        path,
        find(By.TAG_NAME, "img").get_attribute("data-file") or "",
    )


@pytest.mark.parametrize("text", MESSAGES)
def test_rules_match_the_service_and_the_page_give_the_same_replies(three_ways, text):
    rule, by_match = through_rules_match(text, three_ways.settings)
    user = f"o_three_ways_{MESSAGES.index(text)}"
    by_service = through_the_service(text, user, three_ways, len(by_match))
    calls_to_wechat = len(three_ways.sandbox.calls)
    hit = three_ways.page.type(text)
    on_page = [seen_on_page(row) for row in three_ways.page.replies_before(hit)]
    assert len(three_ways.sandbox.calls) == calls_to_wechat  # the preview sent WeChat nothing
    assert by_match  # every message here earns a reply
    assert by_service == by_match
    assert on_page == by_match
    assert hit.get_attribute("data-rule") == rule

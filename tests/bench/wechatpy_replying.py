"""The third baseline: the wechatpy handler that also sends each answer, as its user writes it.

Mini program customer service takes no passive text reply (reference section 5), so every
answer is a call to WeChat's API. The handler hands it to a thread pool and answers `success`
at once; the pool sends it with wechatpy's client, which keeps the access token in memory.
Nothing is durable: an answer still in the pool when the worker dies is lost, and a retry of
the push is answered twice. Whatever sends each answer costs at least this much, so its rate
is the most any handler that replies can reach on the machine.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from wechatpy import WeChatClient

from tests.bench.wechatpy_handler import Callback, callback_app

API_BASE = os.environ["KEFU_WECHAT_API_BASE"].rstrip("/")
SENDERS = 4  # as many as kefu's sender threads per worker


class SandboxClient(WeChatClient):  # type: ignore[misc]
    """wechatpy's client on the sandbox's address instead of api.weixin.qq.com."""

    API_BASE_URL = f"{API_BASE}/cgi-bin/"

    def fetch_access_token(self) -> Any:
        return self._fetch_access_token(
            url=f"{API_BASE}/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


CLIENT = SandboxClient(os.environ["KEFU_APPID"], os.environ["KEFU_APPSECRET"])
POOL = ThreadPoolExecutor(SENDERS)


class ReplyingCallback(Callback):
    def answer(self, message: dict[str, Any], text: str) -> None:
        POOL.submit(CLIENT.message.send_text, message["FromUserName"], text)


app = callback_app(ReplyingCallback())

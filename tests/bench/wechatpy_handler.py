"""The second baseline for the ack-path benchmark: what a wechatpy user writes by hand.

Verify the signature and decrypt with `wechatpy.crypto`, look the text up in a dict, answer
`success`: no dedup, no replay window, no queue, no statistics. Its settings are kefu's.
"""

from __future__ import annotations

import json
import os
from typing import Any

import falcon
from wechatpy.crypto import WeChatCrypto

CRYPTO = WeChatCrypto(
    os.environ["KEFU_TOKEN"], os.environ["KEFU_ENCODING_AES_KEY"], os.environ["KEFU_APPID"]
)
ANSWERS = {"1": "点击下载APP", "text": "文字回复"}


class Callback:
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        envelope = json.loads(req.bounded_stream.read())
        params = req.params
        plain = CRYPTO.decrypt_message(
            envelope, params["msg_signature"], params["timestamp"], params["nonce"]
        )
        message = json.loads(plain)
        answer = ANSWERS.get(message.get("Content", ""))
        if answer is not None:
            self.answer(message, answer)
        resp.content_type, resp.text = falcon.MEDIA_TEXT, "success"

    def answer(self, message: dict[str, Any], text: str) -> None:
        """Nothing is sent: the handler the ack-path goals are set against."""


def callback_app(callback: Callback) -> falcon.App[falcon.Request, falcon.Response]:
    app = falcon.App()
    app.add_route("/wechat/callback", callback)
    return app


app = callback_app(Callback())

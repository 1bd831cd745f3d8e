"""The baseline for the ack-path benchmark: a Falcon app that answers every POST `success`."""

from __future__ import annotations

import falcon


class Success:
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.bounded_stream.read()
        resp.content_type, resp.text = falcon.MEDIA_TEXT, "success"


app = falcon.App()
app.add_route("/wechat/callback", Success())

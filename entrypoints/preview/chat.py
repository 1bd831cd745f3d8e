"""One turn of the preview chat: the service's own use case answers, the page is shown what
WeChat would have been sent."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from adapters.media.sources import MediaSources
from domain.answering import Answer, Transfer
from domain.errors import MediaUnavailable
from domain.messages import EnterSessionEvent, Message, TextMessage
from domain.replies import (
    ImageRef,
    ImageSend,
    LinkReply,
    MiniProgramPageSend,
    Outbound,
    TextReply,
)
from domain.rules import DEFAULT_KEY, ENTER_KEY, PATTERN_PREFIX, normalise
from entrypoints.preview.recording import HitRecorder, logged_warnings
from entrypoints.preview.similar import SimilarExplainer
from entrypoints.preview.wechat import PreviewWeChat

MINI_PROGRAM = "gh_preview"
View = dict[str, object]


@dataclass(frozen=True)
class Turn:
    """What the page shows for one message: the rule, the replies, and anything kefu logged."""

    rule: str | None
    how: str
    normalised: str | None
    replies: list[View]
    notes: list[str] = field(default_factory=list)
    similar: View | None = None  # the closest keys by similar questions, when any were tried

    def as_json(self) -> View:
        return {
            "rule": self.rule,
            "how": self.how,
            "normalised": self.normalised,
            "replies": self.replies,
            "notes": self.notes,
            "similar": self.similar,
        }


class PreviewChat:
    """Turns run one at a time, so each sees only its own sends, hit and log lines."""

    def __init__(
        self,
        answer: Callable[[Message], Answer],
        wechat: PreviewWeChat,
        recorder: HitRecorder,
        thumbs: MediaSources,
        clock: Callable[[], float] = time.time,
        similar: SimilarExplainer | None = None,
    ) -> None:
        self._answer = answer
        self._wechat = wechat
        self._recorder = recorder
        self._thumbs = thumbs
        self._clock = clock
        self._similar = similar
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def say(self, text: str) -> Turn:
        """The turn of a user typing text."""
        number = next(self._numbers)
        message = TextMessage(
            to_user=MINI_PROGRAM,
            from_user=f"preview-user-{number}",
            create_time=int(self._clock()),
            msg_id=str(number),
            content=text,
        )
        return self._turn(message, normalise(text))

    def enter(self) -> Turn:
        """The turn of a user opening the chat."""
        number = next(self._numbers)
        event = EnterSessionEvent(
            to_user=MINI_PROGRAM, from_user=f"preview-user-{number}", create_time=int(self._clock())
        )
        return self._turn(event, None)

    def _turn(self, message: Message, normalised: str | None) -> Turn:
        with self._lock, logged_warnings() as notes:
            self._recorder.take()
            answer = self._answer(message)
            sent, hit = self._wechat.take_sent(), self._recorder.take()
            replies = [self._view(outbound, notes) for outbound in sent]
        if isinstance(answer, Transfer):
            replies.append({"kind": "transfer"})
        rule = hit.key if hit is not None else None
        how = "similar" if hit is not None and hit.similar else _how(rule)
        explained = None
        if self._similar is not None and normalised and how in ("similar", "default", "none"):
            explained = self._similar.verdict(normalised)
        return Turn(rule, how, normalised, replies, notes, explained)

    def _view(self, outbound: Outbound, notes: list[str]) -> View:
        if isinstance(outbound, TextReply):
            return {"kind": "text", "text": outbound.content}
        if isinstance(outbound, LinkReply):
            return {
                "kind": "link",
                "title": outbound.title,
                "description": outbound.description,
                "url": outbound.url,
                "thumb": self._thumb(outbound.thumb_url, notes),
            }
        if isinstance(outbound, ImageSend):
            return {"kind": "image", **self._media(outbound.media_id)}
        assert isinstance(outbound, MiniProgramPageSend)
        return {
            "kind": "miniprogrampage",
            "title": outbound.title,
            "pagepath": outbound.pagepath,
            **self._media(outbound.thumb_media_id),
        }

    def _media(self, media_id: str) -> View:
        media = self._wechat.media(media_id)
        name = media.filename if media is not None else ""
        return {"src": f"/media/{media_id}", "file": name}

    def _thumb(self, url: str, notes: list[str]) -> str | None:
        # NOTE: WeChat's client loads a link's thumb_url itself; the preview loads it through the
        # same media adapters, so the page never reaches out and a broken thumbnail is named.
        try:
            media = self._thumbs.load(ImageRef(url))
        except MediaUnavailable as missing:
            notes.append(f"link thumbnail {missing}")
            return None
        return f"/media/{self._wechat.upload_image(media)}"


def _how(rule: str | None) -> str:
    if rule is None:
        return "none"
    if rule == DEFAULT_KEY:
        return "default"
    if rule == ENTER_KEY:
        return "enter"
    return "pattern" if rule.startswith(PATTERN_PREFIX) else "keyword"

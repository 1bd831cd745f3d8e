"""One reply object of the rules document (contract section 4.1), checked field by field."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from domain.replies import (
    ImageRef,
    ImageReply,
    LinkReply,
    MiniProgramPageReply,
    Reply,
    TextReply,
    TransferReply,
)
from domain.wording import Words, not_text, words

MAX_TEXT_BYTES = 2048  # NOTE: undocumented; WeChat answers 45002 above this (reference section 10)

# Returns what is wrong with an image reference, or None when it is usable.
ImageCheck = Callable[[ImageRef], "Words | None"]


class InvalidRule(Exception):
    """What is wrong with one key of the document; parse_rules reports it as a RuleProblem."""

    def __init__(self, field: str, problem: Words, expected: Words) -> None:
        super().__init__(str(problem))
        self.field, self.problem, self.expected = field, problem, expected


def parse_reply(rule: Mapping[str, object], at: str, check: ImageCheck | None) -> Reply:
    """One reply object of a key; `at` prefixes field names, e.g. "[1].". Raises InvalidRule."""
    kind = rule.get("type")
    if kind == "text":
        field = "text" if "text" in rule else "description"
        content = _required(rule, field, at)
        if len(content.encode()) > MAX_TEXT_BYTES:
            size = len(content.encode())
            raise InvalidRule(
                at + field,
                words("{size} UTF-8 bytes", size=size),
                words("at most {limit}", limit=MAX_TEXT_BYTES),
            )
        return TextReply(content)
    if kind == "link":
        url = _required(rule, "url", at)
        if not ImageRef(url).is_url:
            not_web = words("{url!r} is not a web address", url=url)
            raise InvalidRule(at + "url", not_web, words("an http(s) URL"))
        title, desc = _required(rule, "title", at), _required(rule, "description", at)
        return LinkReply(title, desc, url, _required(rule, "thumb_url", at))
    if kind == "image":
        field = "imageurl" if "imageurl" in rule else "url"
        return ImageReply(_image(rule, field, at, check))
    if kind == "miniprogrampage":
        title, pagepath = _required(rule, "title", at), _required(rule, "pagepath", at)
        return MiniProgramPageReply(title, pagepath, _image(rule, "thumb", at, check))
    if kind == "transfer":
        return TransferReply()
    known = words("text, link, image, miniprogrampage or transfer")
    found = words("missing") if kind is None else words("unknown type {kind!r}", kind=kind)
    raise InvalidRule(at + "type", found, known)


def _required(rule: Mapping[str, object], field: str, at: str) -> str:
    value = rule.get(field)
    if not isinstance(value, str) or not value.strip():
        found = words("missing") if value is None else not_text(value)
        raise InvalidRule(at + field, found, words("a non-empty string"))
    return value


def _image(rule: Mapping[str, object], field: str, at: str, check: ImageCheck | None) -> ImageRef:
    ref = ImageRef(_required(rule, field, at).strip())
    if not ref.is_url and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", ref.value):
        raise InvalidRule(
            at + field,
            words("{ref!r} is not a web address or a path", ref=ref.value),
            words("an http(s) URL or a file path"),
        )
    problem = check(ref) if check is not None else None
    if problem:
        raise InvalidRule(at + field, problem, words("an image under the media root"))
    return ref

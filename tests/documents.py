"""The contract's rules documents (section 4 and 4.1), shared by every test that needs them."""

from __future__ import annotations

from adapters.rules.patterns import Re2Patterns
from domain.reply_parsing import ImageCheck
from domain.rules_document import ParsedRules, parse_rules

# Contract section 4, exactly as the CMS in use today serves it.
CONTRACT_DOCUMENT: dict[str, object] = {
    "1": {
        "type": "link",
        "title": "点击下载APP",
        "description": "注册领取红包",
        "url": "https://example.com/app.html",
        "thumb_url": "https://example.com/thumb.png",
    },
    "2": {"type": "image", "url": "https://example.com/cms/poster.jpg"},
    "3": {"type": "image", "url": "/cms/poster02.png"},
    "default": {"type": "text", "description": "再见"},
}

# What the link rule "1" above goes out as: the `link` object of message/custom/send.
CONTRACT_LINK_SEND = {
    "title": "点击下载APP",
    "description": "注册领取红包",
    "url": "https://example.com/app.html",
    "thumb_url": "https://example.com/thumb.png",
}


def parse_with_re2(document: object, check_image: ImageCheck | None = None) -> ParsedRules:
    """The rules document parsed as the service parses it: `re:` keys compiled with RE2."""
    return parse_rules(document, check_image, patterns=Re2Patterns())


def hostile_patterns(count: int) -> dict[str, object]:
    """The review's document: `count` patterns that make a DFA build a state per character."""
    rules: dict[str, object] = {
        f"re:[ab]*a[ab]{{12}}N{n:04d}": {"type": "text", "text": f"pattern {n}"}
        for n in range(count)
    }
    rules["default"] = {"type": "text", "text": "默认回复"}
    return rules

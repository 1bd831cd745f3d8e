"""A push body's top-level fields read from JSON or XML, refusing what WeChat never sends."""

from __future__ import annotations

import enum
import json
import re
import xml.etree.ElementTree as ET
from typing import Any

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from adapters.wechat_push.errors import MalformedPush

# A UTF-16 half on its own: JSON can spell one (\\ud800), no UTF-8 encoder can write it.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Pushes are flat; a few events nest a list of objects. Deeper is not WeChat.
MAX_DEPTH = 8
# The top-level fields kefu reads or trusts: one of them twice would let two readers of the same
# body disagree, so repeating one is refused. Any other field may repeat (it becomes a list).
RELIED_ON = frozenset(
    {
        "ToUserName",
        "FromUserName",
        "CreateTime",
        "MsgType",
        "Event",
        "MsgId",
        "Content",
        "Encrypt",
        "PicUrl",
        "MediaId",
        "Title",
        "AppId",
        "PagePath",
        "ThumbUrl",
        "ThumbMediaId",
        "SessionFrom",
    }
)


class PushFormat(enum.Enum):
    JSON = "json"
    XML = "xml"


def body_text(body: str | bytes) -> str:
    if isinstance(body, str):
        return body
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedPush("body is not UTF-8") from None


def read_fields(text: str, fmt: PushFormat) -> dict[str, object]:
    return _json_fields(text) if fmt is PushFormat.JSON else _xml_fields(text)


def _json_fields(text: str) -> dict[str, object]:
    try:
        value = _DECODER.decode(text)
    except (ValueError, RecursionError) as e:
        raise MalformedPush(f"invalid JSON: {e}") from None
    if not isinstance(value, dict):
        raise MalformedPush("JSON body is not an object")
    _check_depth(value, 1)
    # Text decoded from UTF-8 holds no surrogate: only a \u escape can spell a lone one.
    if "\\u" not in text:
        return value
    fields: dict[str, object] = _well_formed(value)
    return fields


def _well_formed(value: Any) -> Any:
    """value with each lone surrogate replaced by U+FFFD, as a UTF-8 decoder does with bad bytes.

    A JS client can send half an emoji; the push is still genuine and must get `success`, and
    every later step (push id, logs, stores, the reply) needs text that encodes.
    """
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_well_formed(k): _well_formed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_well_formed(item) for item in value]
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A repeated key would let a signed field and a used field differ; WeChat never repeats one.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise MalformedPush("a JSON key is repeated")
    return result


# One decoder for every push: json.loads given a hook builds a new one each call, which cost as
# much as the decoding itself (1.5 µs of 3.4 for a push's message). A decode keeps nothing
# for the next (its key memo is cleared), so threads share it, as json.loads shares its own.
_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys)


def _check_depth(value: dict[str, object] | list[object], depth: int) -> None:
    """Whether anything sits deeper than MAX_DEPTH, the object `value` at level `depth`."""
    for child in value.values() if isinstance(value, dict) else value:
        if depth >= MAX_DEPTH:
            raise MalformedPush(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(child, dict | list):  # only these nest: scalars need no call of their own
            _check_depth(child, depth + 1)


def _xml_fields(text: str) -> dict[str, object]:
    try:
        root = SafeET.fromstring(text, forbid_dtd=True)
    except (ET.ParseError, DefusedXmlException) as e:
        raise MalformedPush(f"invalid XML: {e}") from None
    if root.tag != "xml":
        raise MalformedPush("XML root is not <xml>")
    fields = _xml_value(root, 1)
    if not isinstance(fields, dict):
        raise MalformedPush("XML body has no fields")
    return fields


def _xml_value(elem: ET.Element, depth: int) -> object:
    if depth > MAX_DEPTH:
        raise MalformedPush(f"nested deeper than {MAX_DEPTH} levels")
    if len(elem) == 0:
        return elem.text or ""
    result: dict[str, object] = {}
    for child in elem:
        value = _xml_value(child, depth + 1)
        if child.tag not in result:
            result[child.tag] = value
        elif depth == 1 and child.tag in RELIED_ON:
            raise MalformedPush(f"field {child.tag} is repeated")
        else:
            # NOTE: repeated elements form a list: inside events (<List>) and at the top level
            # too, where the logistics add_express_path event repeats <Actions> (reference 12b).
            previous = result[child.tag]
            result[child.tag] = (
                [*previous, value] if isinstance(previous, list) else [previous, value]
            )
    return result

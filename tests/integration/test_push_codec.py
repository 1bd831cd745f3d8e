"""Push bodies and passive replies in JSON and XML, as in the reference's examples and vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.wechat_push.encoding import (
    encode_encrypted_reply,
    encode_envelope,
    encode_message,
    encode_transfer,
)
from adapters.wechat_push.envelope import Envelope, parse_envelope, parse_message
from adapters.wechat_push.errors import MalformedPush
from adapters.wechat_push.fields import PushFormat
from domain.messages import (
    EnterSessionEvent,
    ImageMessage,
    MiniProgramPageMessage,
    OtherMessage,
    TextMessage,
)

VECTORS: dict[str, dict[str, Any]] = {
    v["id"]: v
    for v in json.loads(
        (Path(__file__).parents[1] / "fixtures" / "wechat_vectors.json").read_text("utf-8")
    )
}
COMMON: dict[str, Any] = {"to_user": "toUser", "from_user": "fromUser", "create_time": 1482048670}
ID = "1234567890123456"

# Reference section 3: the official examples, JSON then XML, with the message each must give.
JSON_EXAMPLES = [
    (
        '{"ToUserName":"toUser","FromUserName":"fromUser","CreateTime":1482048670,'
        '"MsgType":"text","Content":"this is a test","MsgId":1234567890123456}',
        TextMessage(**COMMON, msg_id=ID, content="this is a test"),
    ),
    (
        '{"ToUserName":"toUser","FromUserName":"fromUser","CreateTime":1482048670,'
        '"MsgType":"image","PicUrl":"this is a url","MediaId":"media_id","MsgId":1234567890123456}',
        ImageMessage(**COMMON, msg_id=ID, pic_url="this is a url", media_id="media_id"),
    ),
    (
        '{"ToUserName":"toUser","FromUserName":"fromUser","CreateTime":1482048670,'
        '"MsgType":"miniprogrampage","MsgId":1234567890123456,"Title":"title","AppId":"appid",'
        '"PagePath":"path","ThumbUrl":"","ThumbMediaId":""}',
        MiniProgramPageMessage(
            **COMMON, msg_id=ID, title="title", app_id="appid", page_path="path"
        ),
    ),
    (
        '{"ToUserName":"toUser","FromUserName":"fromUser","CreateTime":1482048670,'
        '"MsgType":"event","Event":"user_enter_tempsession","SessionFrom":"sessionFrom"}',
        EnterSessionEvent(**COMMON, session_from="sessionFrom"),
    ),
]
HEAD = (
    "<xml><ToUserName><![CDATA[toUser]]></ToUserName><FromUserName><![CDATA[fromUser]]>"
    "</FromUserName><CreateTime>1482048670</CreateTime>"
)
XML_EXAMPLES = [
    (
        HEAD + "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[this is a test]]></Content>"
        "<MsgId>1234567890123456</MsgId></xml>",
        TextMessage(**COMMON, msg_id=ID, content="this is a test"),
    ),
    (
        HEAD + "<MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[this is a url]]></PicUrl>"
        "<MediaId><![CDATA[media_id]]></MediaId><MsgId>1234567890123456</MsgId></xml>",
        ImageMessage(**COMMON, msg_id=ID, pic_url="this is a url", media_id="media_id"),
    ),
    (
        HEAD + "<MsgType><![CDATA[miniprogrampage]]></MsgType><MsgId>1234567890123456</MsgId>"
        "<Title><![CDATA[Title]]></Title><AppId><![CDATA[AppId]]></AppId>"
        "<PagePath><![CDATA[PagePath]]></PagePath><ThumbUrl><![CDATA[ThumbUrl]]></ThumbUrl>"
        "<ThumbMediaId><![CDATA[ThumbMediaId]]></ThumbMediaId></xml>",
        MiniProgramPageMessage(
            **COMMON,
            msg_id=ID,
            title="Title",
            app_id="AppId",
            page_path="PagePath",
            thumb_url="ThumbUrl",
            thumb_media_id="ThumbMediaId",
        ),
    ),
    (
        HEAD + "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[user_enter_tempsession]]>"
        "</Event><SessionFrom><![CDATA[sessionFrom]]></SessionFrom></xml>",
        EnterSessionEvent(**COMMON, session_from="sessionFrom"),
    ),
]


@pytest.mark.parametrize(("body", "expected"), JSON_EXAMPLES)
def test_official_json_examples_parse_to_their_messages(body, expected):
    assert parse_message(body, PushFormat.JSON) == expected


@pytest.mark.parametrize(("body", "expected"), XML_EXAMPLES)
def test_official_xml_examples_parse_to_their_messages(body, expected):
    assert parse_message(body, PushFormat.XML) == expected


@pytest.mark.parametrize("body", [b for b, _ in JSON_EXAMPLES])
def test_official_json_examples_are_plaintext_json_envelopes(body):
    envelope = parse_envelope(body.encode())
    assert (envelope.format, envelope.encrypt) == (PushFormat.JSON, None)
    assert envelope.fields["FromUserName"] == "fromUser"


@pytest.mark.parametrize("body", [b for b, _ in XML_EXAMPLES])
def test_official_xml_examples_are_plaintext_xml_envelopes(body):
    envelope = parse_envelope(body.encode())
    assert (envelope.format, envelope.encrypt) == (PushFormat.XML, None)
    assert envelope.fields["CreateTime"] == "1482048670"


def test_plaintext_debug_push_v2_is_an_other_message():
    body = VECTORS["V2"]["body"].encode()
    envelope = parse_envelope(body)
    assert envelope.format is PushFormat.JSON and envelope.encrypt is None
    assert parse_message(body, envelope.format) == OtherMessage(
        to_user="gh_97417a04a28d",
        from_user="o9AgO5Kd5ggOC-bXrbNODIiE3bGY",
        create_time=1714037059,
        msg_type="event",
        event="debug_demo",
    )


def test_safe_mode_json_envelope_v3_gives_encrypt_exactly():
    v = VECTORS["V3"]
    envelope = parse_envelope(json.dumps(v["body_json"]).encode())
    assert envelope == Envelope(PushFormat.JSON, v["body_json"], v["encrypt"])


def test_decrypted_v3_message_is_the_debug_event():
    message = parse_message(VECTORS["V3"]["plaintext"], PushFormat.JSON)
    assert isinstance(message, OtherMessage) and message.event == "debug_demo"


def test_compatible_mode_xml_v7_gives_plain_fields_and_encrypt():
    v = VECTORS["V7"]
    envelope = parse_envelope(v["body_xml"].encode())
    assert envelope.format is PushFormat.XML
    assert envelope.encrypt == v["encrypt"]
    assert envelope.fields["MsgId"] == "6054768590064713728"


def test_decrypted_v7_xml_with_newlines_is_a_text_message():
    assert parse_message(VECTORS["V7"]["plaintext"], PushFormat.XML) == TextMessage(
        to_user="gh_10f6c3c3ac5a",
        from_user="oyORnuP8q7ou2gfYjqLzSIWZf0rs",
        create_time=1409735668,
        msg_id="6054768590064713728",
        content="abcdteT",
    )


def test_safe_mode_xml_envelope_round_trips():
    body = encode_envelope(PushFormat.XML, "gh_97417a04a28d", VECTORS["V3"]["encrypt"])
    assert body == (
        "<xml><ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName>"
        f"<Encrypt><![CDATA[{VECTORS['V3']['encrypt']}]]></Encrypt></xml>"
    )
    assert parse_envelope(body.encode()).encrypt == VECTORS["V3"]["encrypt"]


def test_string_create_time_and_msg_id_are_accepted():
    body = '{"FromUserName":"u","CreateTime":"1610969440","MsgType":"text","MsgId":"42"}'
    message = parse_message(body, PushFormat.JSON)
    assert (message.create_time, message.msg_id) == (1610969440, "42")


def test_msg_id_beyond_float_precision_stays_exact():
    huge = 2**63 - 1
    body = f'{{"FromUserName":"u","CreateTime":1,"MsgType":"text","MsgId":{huge}}}'
    assert parse_message(body, PushFormat.JSON).msg_id == str(huge)


def test_cloud_style_msg_id_is_kept_as_it_is():
    cloud = "49d72d67b16d115e7935ac386f2f0fa41535298877_1555684067"
    body = encode_message(
        PushFormat.JSON, {"FromUserName": "u", "CreateTime": 1, "MsgType": "text", "MsgId": cloud}
    )
    assert parse_message(body, PushFormat.JSON).msg_id == cloud


def test_unknown_message_type_is_kept_not_refused():
    message = parse_message(HEAD + "<MsgType><![CDATA[voice]]></MsgType></xml>", PushFormat.XML)
    assert message == OtherMessage(**COMMON, msg_type="voice")
    assert message.is_user_message


def test_event_with_nested_list_is_kept_as_other_event():
    body = (
        HEAD + "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_popup_event]]>"
        "</Event><SubscribeMsgPopupEvent><List><TemplateId>a</TemplateId></List>"
        "<List><TemplateId>b</TemplateId></List></SubscribeMsgPopupEvent></xml>"
    )
    envelope = parse_envelope(body.encode())
    assert envelope.fields["SubscribeMsgPopupEvent"] == {
        "List": [{"TemplateId": "a"}, {"TemplateId": "b"}]
    }
    message = parse_message(body, PushFormat.XML)
    assert isinstance(message, OtherMessage) and message.event == "subscribe_msg_popup_event"


@pytest.mark.parametrize(
    "body",
    [
        '{"CreateTime":1,"MsgType":"text"}',
        '{"FromUserName":"u","CreateTime":1}',
        '{"FromUserName":"","CreateTime":1,"MsgType":"text"}',
        '{"FromUserName":"u","CreateTime":"soon","MsgType":"text"}',
        '{"FromUserName":"u","CreateTime":1,"MsgType":"text","MsgId":1.5}',
        '{"FromUserName":"u","CreateTime":"9999999999999999999999","MsgType":"text"}',
    ],
)
def test_message_without_sender_type_or_sane_numbers_is_malformed(body):
    with pytest.raises(MalformedPush):
        parse_message(body, PushFormat.JSON)


def test_message_in_the_other_format_is_malformed():
    with pytest.raises(MalformedPush):
        parse_message(JSON_EXAMPLES[0][0], PushFormat.XML)


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
    '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    "<xml><FromUserName>&c;</FromUserName><MsgType>text</MsgType></xml>"
)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    "<xml><FromUserName>u</FromUserName><MsgType>text</MsgType><Content>&x;</Content></xml>"
)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(BILLION_LAUGHS.encode(), id="billion-laughs"),
        pytest.param(XXE.encode(), id="xxe"),
        pytest.param(b"<!DOCTYPE xml><xml><MsgType>text</MsgType></xml>", id="doctype"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
        pytest.param('{"Content":"中"}'.encode("gbk"), id="gbk"),
        pytest.param(b"", id="empty"),
        pytest.param(b"   ", id="blank"),
        pytest.param(b"success", id="not-json-or-xml"),
        pytest.param(b'{"a":', id="broken-json"),
        pytest.param(b"[1, 2]", id="json-list"),
        pytest.param(b"<xml><a></xml>", id="broken-xml"),
        pytest.param(b"<root><a>1</a></root>", id="root-not-xml"),
        pytest.param(b'{"Encrypt":12}', id="encrypt-not-text"),
        pytest.param(b'{"Encrypt":"a","Encrypt":"b"}', id="repeated-json-key"),
        pytest.param(b"<xml><Encrypt>a</Encrypt><Encrypt>b</Encrypt></xml>", id="repeated-tag"),
        pytest.param(b'{"a":' * 20 + b"1" + b"}" * 20, id="deep-json"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="very-deep-json"),
        pytest.param(b"<xml>" + b"<a>" * 20 + b"</a>" * 20 + b"</xml>", id="deep-xml"),
    ],
)
def test_body_that_is_not_a_well_formed_push_is_refused(body):
    with pytest.raises(MalformedPush) as caught:
        parse_envelope(body)
    assert caught.value.reason


def test_leading_white_space_and_xml_declaration_are_fine():
    body = b'\n  <?xml version="1.0" encoding="UTF-8"?>' + XML_EXAMPLES[0][0].encode()
    assert parse_envelope(body).format is PushFormat.XML


@pytest.mark.parametrize("fmt", list(PushFormat))
def test_encoded_message_parses_back_to_the_same_message(fmt):
    fields: dict[str, str | int] = {
        "ToUserName": "gh_97417a04a28d",
        "FromUserName": "o9AgO5Kd5ggOC-bXrbNODIiE3bGY",
        "CreateTime": 1714037059,
        "MsgType": "text",
        "Content": '您好 <b>&"1"</b> ]]> 再见',
        "MsgId": 2**63 - 1,
    }
    assert parse_message(encode_message(fmt, fields), fmt) == TextMessage(
        to_user="gh_97417a04a28d",
        from_user="o9AgO5Kd5ggOC-bXrbNODIiE3bGY",
        create_time=1714037059,
        msg_id=str(2**63 - 1),
        content='您好 <b>&"1"</b> ]]> 再见',
    )


def test_json_is_written_as_raw_utf8_not_escapes():
    assert "您好" in encode_message(PushFormat.JSON, {"Content": "您好"})


def test_xml_transfer_reply_has_the_official_shape():
    assert encode_transfer(PushFormat.XML, "touser", "fromuser", 1399197672) == (
        "<xml><ToUserName><![CDATA[touser]]></ToUserName>"
        "<FromUserName><![CDATA[fromuser]]></FromUserName><CreateTime>1399197672</CreateTime>"
        "<MsgType><![CDATA[transfer_customer_service]]></MsgType></xml>"
    )


def test_json_transfer_reply_has_the_cloud_function_shape():
    assert encode_transfer(PushFormat.JSON, "touser", "fromuser", 1399197672) == (
        '{"ToUserName":"touser","FromUserName":"fromuser","CreateTime":1399197672,'
        '"MsgType":"transfer_customer_service"}'
    )


def test_json_encrypted_reply_matches_the_official_v4_reply():
    v = VECTORS["V4"]
    body = encode_encrypted_reply(
        PushFormat.JSON, v["encrypt"], v["msg_signature"], int(v["timestamp"]), v["nonce"]
    )
    assert body == json.dumps(v["reply_json"], separators=(",", ":"))
    assert json.loads(body) == v["reply_json"]


def test_xml_encrypted_reply_has_the_official_shape():
    v = VECTORS["V6"]
    body = encode_encrypted_reply(
        PushFormat.XML, v["encrypt"], v["msg_signature"], int(v["timestamp"]), v["nonce"]
    )
    assert body == (
        f"<xml><Encrypt><![CDATA[{v['encrypt']}]]></Encrypt>"
        f"<MsgSignature><![CDATA[{v['msg_signature']}]]></MsgSignature>"
        f"<TimeStamp>{v['timestamp']}</TimeStamp><Nonce><![CDATA[{v['nonce']}]]></Nonce></xml>"
    )


def test_encoding_a_value_that_is_neither_text_nor_integer_is_refused():
    with pytest.raises(TypeError):
        encode_message(PushFormat.XML, {"Flag": True})

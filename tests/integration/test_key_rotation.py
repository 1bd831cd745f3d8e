"""Rotation: pushes opened with the current or the previous Token and EncodingAESKey."""

from __future__ import annotations

import logging

import pytest

from adapters.state.memory import MemoryStateStore
from adapters.wechat_push.crypto import AesMessageCrypto, signature
from adapters.wechat_push.errors import DecryptError, InvalidSignature
from adapters.wechat_push.keyring import KeyRing
from adapters.wechat_push.previous_use import PreviousUseLog, last_previous_use
from tests.fakes import FakeClock

APPID = "wx0123456789abcdef"
NEW_TOKEN, OLD_TOKEN, OTHER_TOKEN = "newToken2026", "oldToken2025", "strangerToken"
NEW_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
OLD_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
THIRD_KEY = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
TS, NONCE = "1714112445", "415670741"


def sealed(token: str, key: str, text: str = "<xml><Content>hi</Content></xml>") -> tuple[str, str]:
    """(msg_signature, Encrypt) of a push as WeChat seals it with that Token and key."""
    encrypt = AesMessageCrypto(token, key, APPID).encrypt(text)
    return signature(token, TS, NONCE, encrypt), encrypt


def rotating(used: list[str] | None = None) -> KeyRing:
    record = used.append if used is not None else None
    return KeyRing(NEW_TOKEN, NEW_KEY, APPID, OLD_TOKEN, OLD_KEY, on_previous=record)


def test_a_push_sealed_and_signed_with_the_current_credentials_opens_without_a_note(caplog):
    used: list[str] = []
    caplog.set_level(logging.WARNING)
    opened = rotating(used).open(*_args(sealed(NEW_TOKEN, NEW_KEY)))
    assert opened.text == "<xml><Content>hi</Content></xml>"
    assert used == [] and "previous" not in caplog.text.lower()


@pytest.mark.parametrize(
    ("token", "key", "which"),
    [
        (OLD_TOKEN, OLD_KEY, "KEFU_TOKEN_PREVIOUS and KEFU_ENCODING_AES_KEY_PREVIOUS"),
        (OLD_TOKEN, NEW_KEY, "KEFU_TOKEN_PREVIOUS"),
        (NEW_TOKEN, OLD_KEY, "KEFU_ENCODING_AES_KEY_PREVIOUS"),
    ],
)
def test_a_push_with_a_previous_credential_opens_and_is_noted_once(caplog, token, key, which):
    used: list[str] = []
    caplog.set_level(logging.WARNING)
    opened = rotating(used).open(*_args(sealed(token, key)))
    assert opened.text == "<xml><Content>hi</Content></xml>"
    assert used == [which]
    lines = [r for r in caplog.records if "previous" in r.getMessage().lower()]
    assert len(lines) == 1 and which in lines[0].getMessage()


def test_the_reply_is_sealed_with_the_key_and_token_that_opened_the_push():
    opened = rotating().open(*_args(sealed(OLD_TOKEN, OLD_KEY)))
    reply = opened.sealer.seal("<xml>reply</xml>", TS, NONCE)
    assert reply.msg_signature == signature(OLD_TOKEN, TS, NONCE, reply.encrypt)
    assert AesMessageCrypto(OLD_TOKEN, OLD_KEY, APPID).decrypt(reply.encrypt) == "<xml>reply</xml>"
    with pytest.raises(DecryptError):
        AesMessageCrypto(NEW_TOKEN, NEW_KEY, APPID).decrypt(reply.encrypt)


def test_a_push_sealed_with_a_third_key_is_refused():
    with pytest.raises(DecryptError):
        rotating().open(*_args(sealed(NEW_TOKEN, THIRD_KEY)))


def test_without_the_previous_setting_old_pushes_are_refused():
    current_only = KeyRing(NEW_TOKEN, NEW_KEY, APPID)
    with pytest.raises(InvalidSignature):
        current_only.open(*_args(sealed(OLD_TOKEN, OLD_KEY)))
    with pytest.raises(DecryptError):
        current_only.open(*_args(sealed(NEW_TOKEN, OLD_KEY)))


def test_a_bad_signature_says_the_same_whichever_token_it_was_checked_against():
    ring = rotating()
    messages = set()
    for token in (OTHER_TOKEN, NEW_TOKEN[:-1], OLD_TOKEN[:-1]):
        msg_signature, encrypt = sealed(token, NEW_KEY)
        with pytest.raises(InvalidSignature) as caught:
            ring.open(msg_signature, TS, NONCE, encrypt)
        messages.add(str(caught.value))
    assert messages == {"signature does not match"}


@pytest.mark.parametrize("token", [NEW_TOKEN, OLD_TOKEN])
def test_url_verification_accepts_either_token(token):
    rotating().verify_url_signature(signature(token, TS, NONCE), TS, NONCE)


def test_url_verification_refuses_a_third_token():
    with pytest.raises(InvalidSignature):
        rotating().verify_url_signature(signature(OTHER_TOKEN, TS, NONCE), TS, NONCE)


def test_a_plaintext_push_signed_with_the_previous_token_is_noted():
    used: list[str] = []
    ring = KeyRing(NEW_TOKEN, None, APPID, OLD_TOKEN, on_previous=used.append)
    ring.verify_plain_push(signature(OLD_TOKEN, TS, NONCE), TS, NONCE)
    ring.verify_plain_push(signature(NEW_TOKEN, TS, NONCE), TS, NONCE)
    assert used == ["KEFU_TOKEN_PREVIOUS"]


def test_the_last_use_of_a_previous_credential_is_kept_in_the_state_store():
    clock, store = FakeClock(1_800_000_000.0), MemoryStateStore()
    assert last_previous_use(store) is None
    record = PreviousUseLog(store, clock=clock)
    record("KEFU_ENCODING_AES_KEY_PREVIOUS")
    clock.advance(3 * 3600)
    use = last_previous_use(store)
    assert use is not None and use.which == "KEFU_ENCODING_AES_KEY_PREVIOUS"
    assert use.hours_ago(clock()) == pytest.approx(3.0)


def test_after_the_rotations_end_the_previous_token_and_key_are_refused():
    clock = FakeClock()
    ring = KeyRing(
        NEW_TOKEN, NEW_KEY, APPID, OLD_TOKEN, OLD_KEY, previous_until=clock.now + 60, clock=clock
    )
    assert ring.open(*_args(sealed(OLD_TOKEN, OLD_KEY))).text  # still within the rotation
    ring.verify_url_signature(signature(OLD_TOKEN, TS, NONCE), TS, NONCE)
    clock.advance(61)
    with pytest.raises(InvalidSignature):
        ring.open(*_args(sealed(OLD_TOKEN, NEW_KEY)))
    with pytest.raises(InvalidSignature):
        ring.verify_url_signature(signature(OLD_TOKEN, TS, NONCE), TS, NONCE)
    with pytest.raises(DecryptError):
        ring.open(*_args(sealed(NEW_TOKEN, OLD_KEY)))
    assert ring.open(*_args(sealed(NEW_TOKEN, NEW_KEY))).text  # the current ones still work


def _args(pair: tuple[str, str]) -> tuple[str, str, str, str]:
    msg_signature, encrypt = pair
    return msg_signature, TS, NONCE, encrypt

"""AesMessageCrypto against WeChat's official and peer-library vectors, and its failure modes."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from adapters.wechat_push.crypto import AesMessageCrypto, SealedReply, signature
from adapters.wechat_push.encoding import encode_encrypted_reply
from adapters.wechat_push.errors import (
    BadAesKey,
    BadCiphertext,
    BadLength,
    BadPadding,
    BadPlaintext,
    InvalidSignature,
    NoAesKey,
    WrongAppId,
)
from adapters.wechat_push.fields import PushFormat

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "wechat_vectors.json").read_text("utf-8")
)
BY_ID = {v["id"]: v for v in VECTORS}
KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
APPID = "wxba5fad812f8e6fb9"


def of_kind(kind: str) -> list[Any]:
    return [pytest.param(v, id=v["id"]) for v in VECTORS if v["kind"] == kind]


def crypto_for(v: dict[str, Any]) -> AesMessageCrypto:
    return AesMessageCrypto(v["token"], v.get("encoding_aes_key"), v["appid"])


def raw_encrypt(full: bytes, key: str = KEY) -> str:
    """Encrypt already padded bytes the way WeChat does, to build broken messages."""
    aes_key = base64.b64decode(key + "=")
    encryptor = Cipher(algorithms.AES(aes_key), modes.CBC(aes_key[:16])).encryptor()
    return base64.b64encode(encryptor.update(full) + encryptor.finalize()).decode()


def pad32(data: bytes) -> bytes:
    n = 32 - len(data) % 32
    return data + bytes([n]) * n


@pytest.mark.parametrize("v", of_kind("url_signature"))
def test_url_signature_vectors_are_accepted(v):
    crypto = AesMessageCrypto(v["token"], None, "wx-any")
    crypto.verify_url_signature(v["signature"], v["timestamp"], v["nonce"])
    assert signature(v["token"], v["timestamp"], v["nonce"]) == v["signature"]


@pytest.mark.parametrize("v", of_kind("url_signature"))
def test_url_signature_with_another_nonce_is_refused(v):
    crypto = AesMessageCrypto(v["token"], None, "wx-any")
    with pytest.raises(InvalidSignature):
        crypto.verify_url_signature(v["signature"], v["timestamp"], v["nonce"] + "1")


def test_url_signature_with_another_token_is_refused():
    v = BY_ID["V1"]
    with pytest.raises(InvalidSignature):
        AesMessageCrypto("BBBBB", None, "wx").verify_url_signature(
            v["signature"], v["timestamp"], v["nonce"]
        )


def test_url_signature_that_is_not_ascii_is_refused_not_crashed():
    with pytest.raises(InvalidSignature):
        AesMessageCrypto("AAAAA", None, "wx").verify_url_signature("签名", "1", "2")


def test_safe_mode_signature_field_is_the_plain_url_signature():
    v = BY_ID["V3"]
    assert signature(v["token"], v["timestamp"], v["nonce"]) == v["signature"]


@pytest.mark.parametrize("v", of_kind("decrypt"))
def test_decrypt_vectors_have_valid_msg_signatures(v):
    crypto_for(v).verify_msg_signature(v["msg_signature"], v["timestamp"], v["nonce"], v["encrypt"])


@pytest.mark.parametrize("v", of_kind("decrypt"))
def test_decrypt_vectors_open_to_their_plaintext(v):
    assert crypto_for(v).decrypt(v["encrypt"]) == v["plaintext"]


@pytest.mark.parametrize("v", of_kind("decrypt"))
def test_decrypt_vectors_encrypt_back_byte_for_byte_with_their_random(v):
    assert crypto_for(v).encrypt(v["plaintext"], v["random"].encode()) == v["encrypt"]


@pytest.mark.parametrize("v", of_kind("decrypt"))
def test_msg_signature_over_a_changed_encrypt_is_refused(v):
    changed = v["encrypt"].replace("+", "-", 1)
    with pytest.raises(InvalidSignature):
        crypto_for(v).verify_msg_signature(v["msg_signature"], v["timestamp"], v["nonce"], changed)


@pytest.mark.parametrize("v", of_kind("encrypt"))
def test_encrypt_vectors_match_byte_for_byte_with_their_random_and_appid(v):
    assert crypto_for(v).encrypt(v["plaintext"], v["random"].encode()) == v["encrypt"]


@pytest.mark.parametrize("v", of_kind("encrypt"))
def test_encrypt_vectors_have_valid_msg_signatures(v):
    crypto_for(v).verify_msg_signature(v["msg_signature"], v["timestamp"], v["nonce"], v["encrypt"])


@pytest.mark.parametrize("v", of_kind("encrypt"))
def test_encrypt_vectors_decrypt_to_their_plaintext(v):
    assert crypto_for(v).decrypt(v["encrypt"]) == v["plaintext"]


@pytest.mark.parametrize("v", of_kind("encrypt"))
def test_seal_gives_the_official_reply_fields_when_random_is_the_vectors(v):
    random = v["random"].encode()
    crypto = AesMessageCrypto(v["token"], v["encoding_aes_key"], v["appid"], lambda n: random)
    sealed = crypto.seal(v["plaintext"], v["timestamp"], v["nonce"])
    assert sealed == SealedReply(v["encrypt"], v["msg_signature"], v["timestamp"], v["nonce"])


def test_sealed_v4_reply_encodes_to_the_official_json_reply():
    v = BY_ID["V4"]
    random = v["random"].encode()
    crypto = AesMessageCrypto(v["token"], v["encoding_aes_key"], v["appid"], lambda n: random)
    sealed = crypto.seal(v["plaintext"], v["timestamp"], v["nonce"])
    body = encode_encrypted_reply(
        PushFormat.JSON, sealed.encrypt, sealed.msg_signature, int(sealed.timestamp), sealed.nonce
    )
    assert json.loads(body) == v["reply_json"]


def test_chinese_text_survives_a_round_trip():
    crypto = AesMessageCrypto("AAAAA", KEY, APPID)
    text = '{"Content":"您好！回复 1 下载 APP 🎉"}'
    assert crypto.decrypt(crypto.encrypt(text)) == text


@pytest.mark.parametrize("size", [0, 11, 12, 13, 43, 44, 45])
def test_every_message_length_around_the_32_byte_block_round_trips(size):
    crypto = AesMessageCrypto("AAAAA", KEY, APPID)
    text = "x" * size
    assert crypto.decrypt(crypto.encrypt(text)) == text


def test_one_crypto_opens_message_after_message_of_every_length_and_after_a_refusal():
    """The decryptor of a thread is kept from one push to the next: no push may see another's
    bytes, whatever came before it (a longer one, a broken one, a non-base64 one)."""
    crypto = AesMessageCrypto("AAAAA", KEY, APPID)
    texts = [f"{n}:" + "消息" * n for n in (0, 40, 3, 500, 1, 17)]
    broken = [raw_encrypt(pad32(b"0" * 10)), "QUJD", raw_encrypt(b"\xff" * 48)]
    for text, bad in zip(texts, [*broken, *broken], strict=True):
        assert crypto.decrypt(crypto.encrypt(text)) == text
        with pytest.raises((BadLength, BadCiphertext, BadPadding)):
            crypto.decrypt(bad)
    assert [crypto.decrypt(crypto.encrypt(text)) for text in texts] == texts


def test_threads_opening_messages_at_once_each_get_their_own_plaintext():
    crypto = AesMessageCrypto("AAAAA", KEY, APPID)
    sealed = {
        crypto.encrypt(f"{n}:" + "x" * (n % 97)): f"{n}:" + "x" * (n % 97) for n in range(400)
    }

    def open_all(offset: int) -> bool:
        items = list(sealed.items())
        items = items[offset:] + items[:offset]
        return all(crypto.decrypt(encrypt) == text for encrypt, text in items * 5)

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(open_all, range(0, 400, 50)))


def test_each_encryption_uses_fresh_random_bytes():
    crypto = AesMessageCrypto("AAAAA", KEY, APPID)
    assert crypto.encrypt("same") != crypto.encrypt("same")


def test_random_prefix_must_be_16_bytes():
    with pytest.raises(ValueError):
        AesMessageCrypto("AAAAA", KEY, APPID).encrypt("hi", b"short")


def test_message_for_another_appid_is_refused_naming_both_appids():
    v = BY_ID["V3"]
    crypto = AesMessageCrypto(v["token"], v["encoding_aes_key"], "wx0000000000000000")
    with pytest.raises(WrongAppId) as caught:
        crypto.decrypt(v["encrypt"])
    assert (caught.value.expected, caught.value.actual) == ("wx0000000000000000", v["appid"])


def test_tampered_ciphertext_is_refused():
    v = BY_ID["V3"]
    data = bytearray(base64.b64decode(v["encrypt"]))
    data[-20] ^= 0x01  # flips a byte of V3's 19 padding bytes in the last block
    with pytest.raises(BadPadding):
        crypto_for(v).decrypt(base64.b64encode(bytes(data)).decode())


def test_bad_padding_is_refused_as_bad_padding():
    body = b"0" * 16 + (3).to_bytes(4, "big") + b"abc" + APPID.encode()
    broken = pad32(body)[:-1] + b"\x21"  # pad byte 33 is beyond WeChat's 32
    with pytest.raises(BadPadding):
        AesMessageCrypto("AAAAA", KEY, APPID).decrypt(raw_encrypt(broken))


def test_padding_bytes_that_disagree_are_refused_as_bad_padding():
    full = pad32(b"0" * 16 + (3).to_bytes(4, "big") + b"abc" + APPID.encode())
    broken = full[:-2] + b"\x00" + full[-1:]
    with pytest.raises(BadPadding):
        AesMessageCrypto("AAAAA", KEY, APPID).decrypt(raw_encrypt(broken))


def test_message_length_running_past_the_buffer_is_refused_as_bad_length():
    full = pad32(b"0" * 16 + (500).to_bytes(4, "big") + b"abc" + APPID.encode())
    with pytest.raises(BadLength):
        AesMessageCrypto("AAAAA", KEY, APPID).decrypt(raw_encrypt(full))


def test_message_shorter_than_its_header_is_refused_as_bad_length():
    with pytest.raises(BadLength):
        AesMessageCrypto("AAAAA", KEY, APPID).decrypt(raw_encrypt(pad32(b"0" * 10)))


def test_message_that_is_not_utf8_is_refused():
    full = pad32(b"0" * 16 + (2).to_bytes(4, "big") + b"\xff\xfe" + APPID.encode())
    with pytest.raises(BadPlaintext):
        AesMessageCrypto("AAAAA", KEY, APPID).decrypt(raw_encrypt(full))


def test_truncated_ciphertext_is_refused_as_bad_ciphertext():
    data = base64.b64decode(BY_ID["V3"]["encrypt"])[:-5]
    with pytest.raises(BadCiphertext):
        crypto_for(BY_ID["V3"]).decrypt(base64.b64encode(data).decode())


@pytest.mark.parametrize("encrypt", ["", "not base64!", "QUJD", "+qdx1OKCy+5J PCBFW", "汉字"])
def test_encrypt_that_is_not_base64_blocks_is_refused_as_bad_ciphertext(encrypt):
    with pytest.raises(BadCiphertext):
        AesMessageCrypto("AAAAA", KEY, APPID).decrypt(encrypt)


@pytest.mark.parametrize("key", ["", KEY[:-1], KEY + "A", "!" * 43, "A" * 42 + "="])
def test_wrong_aes_key_is_refused_at_construction_without_echoing_it(key):
    with pytest.raises(BadAesKey) as caught:
        AesMessageCrypto("AAAAA", key, APPID)
    assert not key or key not in str(caught.value)


def test_without_a_key_signatures_still_work_but_encryption_is_refused():
    crypto = AesMessageCrypto("AAAAA", None, APPID)
    v = BY_ID["V1"]
    crypto.verify_url_signature(v["signature"], v["timestamp"], v["nonce"])
    assert not crypto.has_key
    with pytest.raises(NoAesKey):
        crypto.decrypt(BY_ID["V3"]["encrypt"])
    with pytest.raises(NoAesKey):
        crypto.encrypt("hi")


def test_crypto_with_a_key_says_so():
    assert AesMessageCrypto("AAAAA", KEY, APPID).has_key


def test_repr_shows_no_secret():
    crypto = AesMessageCrypto("secret-token", KEY, APPID)
    assert "secret-token" not in repr(crypto) and KEY not in repr(crypto)

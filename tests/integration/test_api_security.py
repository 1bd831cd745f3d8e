"""API security mode against the worked examples of WeChat's 服务端 API 签名加密指南.

Every value below is printed in the guide (3.1.2, 3.2.2, 4.1.2, 4.2.1): the risk-control call
getuserriskrank, its keys, plaintext, ciphertext and signatures. The tests check kefu both ways:
it reproduces the guide's request and opens the guide's answer, and a plain reading of the guide
written here with `cryptography` (not kefu's code) accepts what kefu produces.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from adapters.state.memory import MemoryStateStore
from adapters.wechat_api.api_keys import ApiKeys, ApiKeysError, load_api_keys
from adapters.wechat_api.errors import UnverifiedAnswer
from adapters.wechat_api.security import ApiSecurity
from tests.certificates import self_signed_pem

FIXTURES = Path(__file__).parents[1] / "fixtures" / "api_security"
APPID = "wxba6223c06417af7b"
URL = "https://api.weixin.qq.com/wxa/getuserriskrank"
AES_KEY, AES_SN = "otUpngOjU+nVQaWJIC3D/yMLV17RKaP6t4Ot9tbnzLY=", "fa05fe1e5bcc79b81ad5ad4b58acf787"
RSA_SN, CERT_SN = "97845f6ed842ea860df6fdf65941ff56", "79ba700ea147819f640941bceb38b1d1"
PARAMS = {
    "appid": APPID,
    "openid": "oEWzBfmdLqhFS2mTXCo2E4Y9gJAM",
    "scene": 0,
    "client_ip": "127.0.0.1",
}
REQUEST_TS, REQUEST_NONCE, REQUEST_IV = 1635927954, "o89QaPVsRu1yppIZzvSZc4", "fmW/zNxXlytUZBgj"
REQUEST_PLAIN = (
    '{"_n":"o89QaPVsRu1yppIZzvSZc4","_appid":"wxba6223c06417af7b","_timestamp":1635927954,'
    '"appid":"wxba6223c06417af7b","openid":"oEWzBfmdLqhFS2mTXCo2E4Y9gJAM","scene":0,'
    '"client_ip":"127.0.0.1"}'
)
REQUEST_BODY = (
    '{"iv":"fmW/zNxXlytUZBgj","data":"0IDVdrPtSPF/Oe2CTXCV2vVNPbVJdJlP2WaTMQnoYLh5iCrrSNfQFh25En'
    "StDMf0hLlVNBCZQtf9NaV0m4aRA4AAYIO7oR/Ge+4yY4EmZp5EVPB42xjScgMx5X3D4VdLCfynXIUKUtZHZvk1zmLVE3"
    "RauzJgiM1BB1CPmwcENo3MTJ0z8Vfkf5tMv54kOXobDLlV5rfqKdAX7gM/rP82DgZdt9vvZX44ipdbHIjJvw83ZXAFtv"
    'ftdVw2Qd8=","authtag":"5qeM/2vZv+6KtScN94IpMg=="}'
)
REQUEST_SIGNATURE = (
    "wcSSWHZunjz9VKl9q+If9deiyECXDAELfAJNZ4+5T+NhFr8zfhkwdQtlgQ7nN5xs99R57La9UjBTRBGge2KYyshWtw7H"
    "IMPAqWNsnpHvx0b2f7s6Bt7OpfOQLlIfNgepgTVmUwrqW8/7A12szj7tCe/bRFilwnaX6N0w4duHlfL7ic7IIZXouvy9"
    "dLRAa5GtEk1eD/LPWRiKh0SvJ3znPY/pSiQW9zSkXVdj9UGGM8qcKLzPGJ7gSmt3ZOPkFapk9wqFmhJwQj//xN5+hUlr"
    "2UiNPMNSHve5Y2ADLsNHqk5t7RfAZ8nW9/8lzhVt4t+toy1FeehxCGIC8qgmjIl1hg=="
)
ANSWER_TS = 1635927956
ANSWER_BODY = (
    b'{"iv":"r2WDQt56rEAmMuoR","data":"HExs66Ik3el+iM4IpeQ7SMEN934FRLFYOd3EmeaIrpP4EPTHckoco6O+Pao'
    b"RZRa3lqaPRZT7r52f7LUok6gLxc6cdR8C4vpIIfh4xfLC4L7FNy9GbuMK1hcoi8b7gkWJcwZMkuCFNEDmqn3T49oWzAQO"
    b'rY4LZnnnykv6oUJotdAsnKvmoJkLK7hRh7M2B1d2UnTnRuoIyarXc5Iojwoghx4BOvnV","authtag":"z2BFD8Qct'
    b'KXTuBlhICGOjQ=="}'
)
ANSWER_HEADERS = {
    "Wechatmp-Appid": APPID,
    "Wechatmp-TimeStamp": str(ANSWER_TS),
    "Wechatmp-Serial": CERT_SN,
    "Wechatmp-Signature": (
        "Ht0VfQkkEweJ4hU266C14Aj64H9AXfkwNi5zxUZETCvR2svU1ZYdosDhFX/voLj1TyszqKsVxAlENGt7PPZZ8RQX7"
        "jnA4SKhiPUhW4LTbyTenisHJ+ohSfDjYnXavjQsBHspFS+BlPHuSSJ2xyQzw1+HuC6nid09ZL4FnGSYo4OI5MJrSb9"
        "xLzIVZMIDuUQchGKi/KaB1KzxECLEZcfjqbAgmxC7qOmuBLyO1WkHYDM95NJrHJWba5xv4wrwPru9yYTJSNRnlM+zr"
        "W5w9pOubC4Jtj3szTAEuOz9AcqUmgaAvMLNAIa8hfODLRe3n/cu4SgYlN/ZkNRU4QXVNbPGMg=="
    ),
    "Wechatmp-Serial-Deprecated": "2171af9cdf1d7404423852e7e183d852",
    "Wechatmp-Signature-Deprecated": "ZP1OODikAOePc+YJUMLxunF6xV05kextO/T1fy5lWv/CwV6OCsPBRM2xRR",
}
ANSWER_H0 = "f797cafd9e323df336fb427569fbe67e20d5bc96dd68a3f54d66b54e6e08bb27"
ANSWER = {"errcode": 0, "errmsg": "getuserriskrank succ", "risk_rank": 0, "unoin_id": 2258658297}


def guide_keys(cert: Path = FIXTURES / "guide_platform_cert.pem") -> ApiKeys:
    return load_api_keys(AES_KEY, AES_SN, FIXTURES / "guide_app_key.pem", RSA_SN, cert, CERT_SN)


def queued(*chunks: bytes) -> Callable[[int], bytes]:
    """random_bytes that hands out the given chunks in order, each of the size asked for."""
    pending = list(chunks)

    def take(size: int) -> bytes:
        chunk = pending.pop(0)
        assert len(chunk) == size
        return chunk

    return take


def guide_request_security() -> ApiSecurity:
    iv = base64.b64decode(REQUEST_IV)
    return ApiSecurity(APPID, guide_keys(), lambda: REQUEST_TS, queued(iv), lambda: REQUEST_NONCE)


def at_answer_time() -> ApiSecurity:
    return ApiSecurity(APPID, guide_keys(), lambda: ANSWER_TS + 1)


def app_public_key() -> rsa.RSAPublicKey:
    return guide_keys().rsa_key.public_key()


def test_the_sealed_request_is_the_guides_byte_for_byte():
    sealed = guide_request_security().seal(URL, PARAMS)
    assert sealed.body.decode() == REQUEST_BODY
    assert sealed.headers["Wechatmp-Appid"] == APPID
    assert sealed.headers["Wechatmp-TimeStamp"] == str(REQUEST_TS)


def test_the_guides_request_signature_verifies_over_the_text_kefu_signs():
    sealed = guide_request_security().seal(URL, PARAMS)
    # The guide's text to sign: urlpath, appid, timestamp, postdata; no serial, no final newline.
    text = f"{URL}\n{APPID}\n{sealed.headers['Wechatmp-TimeStamp']}\n".encode() + sealed.body
    pss32 = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    app_public_key().verify(base64.b64decode(REQUEST_SIGNATURE), text, pss32, hashes.SHA256())
    # kefu's own signature (PSS is randomised, so not the guide's) verifies the same way.
    ours = base64.b64decode(sealed.headers["Wechatmp-Signature"])
    app_public_key().verify(ours, text, pss32, hashes.SHA256())


def test_a_plain_reading_of_the_guide_decrypts_what_kefu_sealed():
    sealed = json.loads(
        guide_request_security().seal(URL, {"touser": "o_用户", "command": "Typing"}).body
    )
    aad = f"{URL}|{APPID}|{REQUEST_TS}|{AES_SN}".encode()
    data = base64.b64decode(sealed["data"]) + base64.b64decode(sealed["authtag"])
    key = base64.b64decode(AES_KEY)
    plain = json.loads(AESGCM(key).decrypt(base64.b64decode(sealed["iv"]), data, aad))
    assert plain == {
        "_n": REQUEST_NONCE,
        "_appid": APPID,
        "_timestamp": REQUEST_TS,
        "touser": "o_用户",
        "command": "Typing",
    }


def test_the_guide_request_plaintext_decrypts_from_the_guides_body():
    body = json.loads(REQUEST_BODY)
    aad = f"{URL}|{APPID}|{REQUEST_TS}|{AES_SN}".encode()
    data = base64.b64decode(body["data"]) + base64.b64decode(body["authtag"])
    plain = AESGCM(base64.b64decode(AES_KEY)).decrypt(base64.b64decode(body["iv"]), data, aad)
    assert plain.decode() == REQUEST_PLAIN


def test_the_guides_answer_verifies_and_decrypts_to_its_original_fields():
    text = f"{URL}\n{APPID}\n{ANSWER_TS}\n".encode() + ANSWER_BODY
    assert hashlib.sha256(text).hexdigest() == ANSWER_H0
    assert at_answer_time().open(URL, ANSWER_HEADERS, ANSWER_BODY) == ANSWER


def flip(text: str, index: int) -> str:
    swapped = "A" if text[index] != "A" else "B"
    return text[:index] + swapped + text[index + 1 :]


def test_an_answer_with_one_byte_of_data_changed_is_refused():
    body = ANSWER_BODY.decode()
    at = body.index('"data":"') + 20
    with pytest.raises(UnverifiedAnswer, match="signature"):
        at_answer_time().open(URL, ANSWER_HEADERS, flip(body, at).encode())


def test_an_answer_with_one_byte_of_the_signature_changed_is_refused():
    headers = {
        **ANSWER_HEADERS,
        "Wechatmp-Signature": flip(ANSWER_HEADERS["Wechatmp-Signature"], 10),
    }
    with pytest.raises(UnverifiedAnswer, match="signature"):
        at_answer_time().open(URL, headers, ANSWER_BODY)


def test_an_answer_checked_against_another_certificate_is_refused(tmp_path: Path):
    other = tmp_path / "other.pem"
    other.write_bytes(
        self_signed_cert(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    )
    security = ApiSecurity(APPID, guide_keys(other), lambda: ANSWER_TS)
    with pytest.raises(UnverifiedAnswer, match="signature"):
        security.open(URL, ANSWER_HEADERS, ANSWER_BODY)


def test_an_answer_signed_under_another_certificate_number_is_refused():
    headers = {**ANSWER_HEADERS, "Wechatmp-Serial": "0" * 32}
    with pytest.raises(UnverifiedAnswer, match="KEFU_API_CERT_SN"):
        at_answer_time().open(URL, headers, ANSWER_BODY)


def test_during_a_certificate_change_the_deprecated_signature_of_our_certificate_is_used(caplog):
    headers = {
        **ANSWER_HEADERS,
        "Wechatmp-Serial": "a-new-certificate",
        "Wechatmp-Signature": "bm90IG91cnM=",
        "Wechatmp-Serial-Deprecated": CERT_SN,
        "Wechatmp-Signature-Deprecated": ANSWER_HEADERS["Wechatmp-Signature"],
    }
    assert at_answer_time().open(URL, headers, ANSWER_BODY) == ANSWER
    assert "download the new one" in caplog.text


def test_a_replayed_old_answer_is_refused():
    late = ApiSecurity(APPID, guide_keys(), lambda: ANSWER_TS + 3600)
    with pytest.raises(UnverifiedAnswer, match="clock"):
        late.open(URL, ANSWER_HEADERS, ANSWER_BODY)


def test_an_answer_for_another_url_is_refused():
    with pytest.raises(UnverifiedAnswer):
        at_answer_time().open(URL + "x", ANSWER_HEADERS, ANSWER_BODY)


@pytest.mark.parametrize(
    "unsigned",
    [
        b'{"errcode":0,"errmsg":"ok"}',
        b'{"errcode":40234,"errmsg":"invalid signature"}',
        b'{"errcode":45015,"errmsg":"response out of time limit"}',
        b'{"errcode":40001,"errmsg":"invalid credential"}',
    ],
)
def test_an_unsigned_answer_is_never_taken_as_wechats_verdict(unsigned: bytes):
    with pytest.raises(UnverifiedAnswer, match="not signed"):
        at_answer_time().open(URL, {}, unsigned)


def test_a_genuine_answer_is_taken_once_by_every_process_sharing_the_store():
    shared = MemoryStateStore()
    first = ApiSecurity(APPID, guide_keys(), lambda: ANSWER_TS + 1, answers=shared)
    other_worker = ApiSecurity(APPID, guide_keys(), lambda: ANSWER_TS + 2, answers=shared)
    assert first.open(URL, ANSWER_HEADERS, ANSWER_BODY) == ANSWER
    with pytest.raises(UnverifiedAnswer, match="replayed"):
        other_worker.open(URL, ANSWER_HEADERS, ANSWER_BODY)
    with pytest.raises(UnverifiedAnswer, match="replayed"):
        first.open(URL, ANSWER_HEADERS, ANSWER_BODY)


def test_refused_answers_are_logged_once_per_episode(caplog):
    caplog.set_level(logging.INFO, logger="adapters.wechat_api.security")
    security = at_answer_time()
    for _ in range(3):
        with pytest.raises(UnverifiedAnswer):
            security.open(URL, {}, b'{"errcode":45015}')
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert "claims errcode 45015" in caplog.text
    assert security.open(URL, ANSWER_HEADERS, ANSWER_BODY) == ANSWER
    assert "verify again" in caplog.records[-1].getMessage()
    with pytest.raises(UnverifiedAnswer):
        security.open(URL, {}, b"{}")
    assert [r.levelname for r in caplog.records] == ["ERROR", "INFO", "ERROR"]


@pytest.mark.parametrize(
    ("change", "setting"),
    [
        ({"aes_key": "c2hvcnQ="}, "KEFU_API_AES_KEY"),
        ({"aes_key": "not base64!"}, "KEFU_API_AES_KEY"),
        ({"rsa_key_file": FIXTURES / "missing.pem"}, "KEFU_API_RSA_KEY_FILE"),
        ({"rsa_key_file": FIXTURES / "guide_platform_cert.pem"}, "KEFU_API_RSA_KEY_FILE"),
        ({"cert_file": FIXTURES / "guide_app_key.pem"}, "KEFU_API_CERT_FILE"),
    ],
)
def test_an_unusable_key_names_its_setting_and_never_shows_key_material(change, setting):
    args = {
        "aes_key": AES_KEY,
        "aes_sn": AES_SN,
        "rsa_key_file": FIXTURES / "guide_app_key.pem",
        "rsa_sn": RSA_SN,
        "cert_file": FIXTURES / "guide_platform_cert.pem",
        "cert_sn": CERT_SN,
    }
    with pytest.raises(ApiKeysError) as caught:
        load_api_keys(**{**args, **change})
    assert str(caught.value).startswith(setting)
    assert "MII" not in str(caught.value) and AES_KEY[:10] not in str(caught.value)


def self_signed_cert(key: rsa.RSAPrivateKey) -> bytes:
    return self_signed_pem(key, "not WeChat")

"""Settings from the environment: one clear line per bad or missing variable, no secret shown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from entrypoints.service.settings import Settings, SettingsError

KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
GOOD = {"KEFU_TOKEN": "tok", "KEFU_APPID": "wx1", "KEFU_RULES_FILE": "rules.json"}


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as bad:
        Settings.from_env(env)
    return bad.value.problems


def test_defaults_follow_the_contract():
    settings = Settings.from_env(GOOD)
    assert settings.rules_ttl == 60
    assert settings.callback_path == "/wechat/callback"
    assert settings.wechat_api_base == "https://api.weixin.qq.com"
    assert settings.max_clock_skew == 300
    assert settings.encoding_aes_key is None
    assert settings.log_level == "INFO"
    assert (settings.senders, settings.reply_deadline) == (4, 3600)
    assert settings.log_format == "text"
    assert settings.metrics_addr == ("127.0.0.1", 9108)


def test_json_logs_and_a_metrics_address_or_none_are_read():
    env = {**GOOD, "KEFU_LOG_FORMAT": "JSON", "KEFU_METRICS_ADDR": "0.0.0.0:9200"}
    settings = Settings.from_env(env)
    assert (settings.log_format, settings.metrics_addr) == ("json", ("0.0.0.0", 9200))
    assert Settings.from_env({**GOOD, "KEFU_METRICS_ADDR": "off"}).metrics_addr is None


@pytest.mark.parametrize("value", ["9108", "localhost", "host:0", "host:99999", ":9108"])
def test_a_metrics_address_without_host_and_port_is_refused(value):
    (line,) = problems({**GOOD, "KEFU_METRICS_ADDR": value})
    assert line == f"KEFU_METRICS_ADDR={value!r} is malformed: expected HOST:PORT or off"


def test_an_unknown_log_format_is_refused():
    (line,) = problems({**GOOD, "KEFU_LOG_FORMAT": "xml"})
    assert line == "KEFU_LOG_FORMAT='xml' is malformed: expected text | json"


def test_image_hosts_allowed_to_be_private_are_read_as_a_list():
    settings = Settings.from_env({**GOOD, "KEFU_MEDIA_ALLOW_HOSTS": " CMS.intra , 10.0.0.5,[::1]"})
    assert settings.media_allow_hosts == {"cms.intra", "10.0.0.5", "::1"}
    assert Settings.from_env(GOOD).media_allow_hosts == frozenset()
    assert problems({**GOOD, "KEFU_MEDIA_ALLOW_HOSTS": "a b,"}) == [
        "KEFU_MEDIA_ALLOW_HOSTS='a b,' is malformed: expected host names, comma-separated"
    ]


@pytest.mark.parametrize(
    "value", ["ftp://admin:pw-9f3k@api.example.com", "not a url admin:pw-9f3k@host"]
)
def test_a_malformed_url_setting_is_never_echoed_with_its_user_info(value: str):
    [line] = problems({**GOOD, "KEFU_WECHAT_API_BASE": value})
    assert line.startswith("KEFU_WECHAT_API_BASE=")
    assert "pw-9f3k" not in line and "admin" not in line
    assert "***@" in line


def test_every_missing_required_variable_gets_its_own_line():
    lines = problems({})
    assert [line.split()[0] for line in lines] == ["KEFU_TOKEN", "KEFU_APPID", "KEFU_RULES_URL"]


def test_malformed_values_are_named_with_what_was_expected():
    env = {
        **GOOD,
        "KEFU_RULES_TTL": "soon",
        "KEFU_CALLBACK_PATH": "wechat",
        "KEFU_LOG_LEVEL": "LOUD",
    }
    lines = problems(env)
    assert len(lines) == 3
    assert "KEFU_RULES_TTL='soon' is malformed: expected seconds, 0 or more" in lines


@pytest.mark.parametrize(
    ("key", "found"),
    [(KEY + "=", "got 44"), (KEY[:-1], "got 42"), (KEY[:-1] + "!", "got a character that is not")],
)
def test_a_bad_aes_key_says_what_it_got_without_showing_it(key, found):
    (line,) = problems({**GOOD, "KEFU_ENCODING_AES_KEY": key})
    expected = "expected the 43 letters and digits of the EncodingAESKey, "
    assert line.startswith(f"KEFU_ENCODING_AES_KEY is malformed: {expected}{found}")
    assert KEY[:8] not in line


def test_a_bad_aes_key_is_reported_without_showing_it():
    (line,) = problems({**GOOD, "KEFU_ENCODING_AES_KEY": KEY[:-1] + "!"})
    assert line.startswith("KEFU_ENCODING_AES_KEY is malformed")
    assert KEY[:20] not in line


def test_both_rule_sources_at_once_is_an_error():
    (line,) = problems({**GOOD, "KEFU_RULES_URL": "https://cms.example.com/r"})
    assert "both set" in line


def test_secrets_stay_out_of_the_repr():
    settings = Settings.from_env({**GOOD, "KEFU_ENCODING_AES_KEY": KEY, "KEFU_APPSECRET": "s3cret"})
    assert (
        KEY not in repr(settings) and "s3cret" not in repr(settings) and "tok" not in repr(settings)
    )


def test_the_wsgi_module_stops_with_one_line_per_problem(tmp_path: Path):
    env = {"PATH": "/usr/bin:/bin", "KEFU_APPID": "wx1", "KEFU_RULES_TTL": "-1"}
    result = subprocess.run(
        [sys.executable, "-c", "import entrypoints.wsgi"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "kefu: KEFU_TOKEN is missing: set it to the Token from the mini program's 消息推送 page",
        "kefu: KEFU_RULES_TTL='-1' is malformed: expected seconds, 0 or more",
        "kefu: KEFU_RULES_URL is missing: set it to the CMS rules URL, or set KEFU_RULES_FILE",
    ]


def test_previous_token_and_key_are_read_and_kept_out_of_the_repr_and_logs():
    old_key = KEY[::-1]
    env = {
        **GOOD,
        "KEFU_ENCODING_AES_KEY": KEY,
        "KEFU_ENCODING_AES_KEY_PREVIOUS": old_key,
        "KEFU_TOKEN_PREVIOUS": "oldtok",
    }
    settings = Settings.from_env(env)
    assert (settings.token_previous, settings.encoding_aes_key_previous) == ("oldtok", old_key)
    assert old_key not in repr(settings) and "oldtok" not in repr(settings)
    assert {"oldtok", old_key} <= set(settings.secrets)


def test_a_bad_previous_key_is_reported_without_showing_it():
    env = {**GOOD, "KEFU_ENCODING_AES_KEY": KEY, "KEFU_ENCODING_AES_KEY_PREVIOUS": KEY[:-2]}
    (line,) = problems(env)
    assert line.startswith("KEFU_ENCODING_AES_KEY_PREVIOUS is malformed")
    assert KEY[:20] not in line


def test_a_previous_key_without_a_current_one_is_an_error():
    (line,) = problems({**GOOD, "KEFU_ENCODING_AES_KEY_PREVIOUS": KEY})
    assert line.startswith("KEFU_ENCODING_AES_KEY_PREVIOUS is set but KEFU_ENCODING_AES_KEY is not")


GUIDE_KEYS = Path(__file__).parents[1] / "fixtures" / "api_security"
API_AES_KEY = "otUpngOjU+nVQaWJIC3D/yMLV17RKaP6t4Ot9tbnzLY="
API = {
    "KEFU_API_AES_KEY": API_AES_KEY,
    "KEFU_API_AES_SN": "fa05fe1e5bcc79b81ad5ad4b58acf787",
    "KEFU_API_RSA_KEY_FILE": str(GUIDE_KEYS / "guide_app_key.pem"),
    "KEFU_API_RSA_SN": "97845f6ed842ea860df6fdf65941ff56",
    "KEFU_API_CERT_FILE": str(GUIDE_KEYS / "guide_platform_cert.pem"),
    "KEFU_API_CERT_SN": "79ba700ea147819f640941bceb38b1d1",
}


def test_api_security_mode_is_off_without_its_settings_and_on_with_all_six():
    assert Settings.from_env(GOOD).api_security is None
    settings = Settings.from_env({**GOOD, **API})
    assert settings.api_security is not None
    assert settings.api_security.cert_sn == API["KEFU_API_CERT_SN"]
    assert API_AES_KEY not in repr(settings) and API_AES_KEY in settings.secrets


def test_a_partial_api_security_set_is_one_line_naming_what_is_missing():
    partial = {k: v for k, v in API.items() if not k.startswith("KEFU_API_CERT")}
    (line,) = problems({**GOOD, **partial})
    assert line == (
        "API security mode needs all six KEFU_API_* settings or none: "
        "KEFU_API_CERT_FILE, KEFU_API_CERT_SN missing"
    )


@pytest.mark.parametrize(
    ("change", "start"),
    [
        ({"KEFU_API_RSA_KEY_FILE": "/nonexistent/key.pem"}, "KEFU_API_RSA_KEY_FILE"),
        ({"KEFU_API_CERT_FILE": API["KEFU_API_RSA_KEY_FILE"]}, "KEFU_API_CERT_FILE"),
        ({"KEFU_API_AES_KEY": API_AES_KEY[:-4]}, "KEFU_API_AES_KEY"),
    ],
)
def test_an_unreadable_api_security_set_is_one_line_without_key_material(change, start):
    (line,) = problems({**GOOD, **API, **change})
    assert line.startswith(f"API security mode: {start}")
    assert API_AES_KEY[:12] not in line and "MII" not in line


@pytest.mark.parametrize(("value", "stats"), [(None, True), ("on", True), ("OFF", False)])
def test_kefu_stats_is_on_unless_set_off(value, stats):
    env = GOOD if value is None else {**GOOD, "KEFU_STATS": value}
    assert Settings.from_env(env).stats is stats


def test_kefu_stats_other_than_on_or_off_is_malformed():
    assert problems({**GOOD, "KEFU_STATS": "maybe"}) == [
        "KEFU_STATS='maybe' is malformed: expected on or off"
    ]


def test_senders_and_reply_deadline_are_read():
    settings = Settings.from_env({**GOOD, "KEFU_SENDERS": "0", "KEFU_REPLY_DEADLINE": "90"})
    assert (settings.senders, settings.reply_deadline) == (0, 90)


def test_senders_and_reply_deadline_must_be_sensible_numbers():
    assert problems({**GOOD, "KEFU_SENDERS": "-1", "KEFU_REPLY_DEADLINE": "0"}) == [
        "KEFU_SENDERS='-1' is malformed: expected a whole number, 0 or more",
        "KEFU_REPLY_DEADLINE='0' is malformed: expected seconds, more than 0",
    ]


def test_the_rotations_end_is_read_as_iso_8601_utc_unless_an_offset_is_given():
    beijing = Settings.from_env({**GOOD, "KEFU_ROTATION_UNTIL": "2026-12-31T18:00+08:00"})
    utc = Settings.from_env({**GOOD, "KEFU_ROTATION_UNTIL": "2026-12-31T10:00:00"})
    assert beijing.rotation_until == utc.rotation_until == 1798711200.0
    assert Settings.from_env(GOOD).rotation_until is None
    assert problems({**GOOD, "KEFU_ROTATION_UNTIL": "next friday"}) == [
        "KEFU_ROTATION_UNTIL='next friday' is malformed: expected an ISO-8601 time, "
        "e.g. 2026-12-31T18:00+08:00"
    ]

"""`kefu preview` in real headless Chromium: the replies as WeChat shows them, safely."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By

from adapters.stats.disk import DiskHitStats
from domain.stats import Hit
from entrypoints.cli.gunicorn_process import ROOT
from tests.canned_http import canned
from tests.e2e.browser import Page, chromium
from tests.e2e.conftest import APPID
from tests.e2e.preview_env import (
    SCRIPT_TEXT,
    image_host,
    kefu_preview,
    preview_document,
    write_rules,
)
from tests.e2e.servers import kefu_settings

SCREENSHOT = ROOT / "docs" / "preview.png"
ACCESS = "editors-token-0123456789"
LABELLED = ["#enter", "#send", "#report-title", "#stats-title", "label.days"]
EVIL_FORM = """<!doctype html><form method="post" action="%s" enctype="text/plain">
<input name='{"text": "2", "x": "' value='"}'></form><script>document.forms[0].submit()</script>
"""
DIFFERENT_GLYPHS = """
    const font = getComputedStyle(document.body).font;
    const pixels = (text) => {
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = 40;
      const context = canvas.getContext("2d");
      context.font = font;
      context.fillText(text, 4, 30);
      return Array.from(context.getImageData(0, 0, 40, 40).data).join();
    };
    return pixels(arguments[0]) !== pixels(arguments[1]);
"""
PHONE = "在 App「我的 → 设置」里更换预留手机号"
SIMILAR_DOCUMENT = {
    "怎么更换手机号": {"similar": ["我想换手机号"], "reply": {"type": "text", "text": PHONE}},
    "怎么解绑银行卡": {
        "similar": ["如何取消绑定的银行卡"],
        "reply": {"type": "text", "text": "在 App「我的 → 银行卡」里解绑"},
    },
}
# What the service counted today before the preview opens.
USERS_ASKED = [
    *[Hit("1")] * 5,
    *[Hit("default", "怎么退款")] * 3,
    Hit("re:下载|安装"),
    *[Hit("default", "客服电话")] * 2,
]


pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    folder = tmp_path_factory.mktemp("preview")
    with image_host() as images, chromium() as driver:
        write_rules(folder, preview_document(images))
        # The image host is on loopback, which image URLs may reach only when listed.
        settings = kefu_settings(folder, "http://127.0.0.1:9", KEFU_MEDIA_ALLOW_HOSTS="127.0.0.1")
        counted = DiskHitStats(folder / "state" / "stats", APPID)
        for hit in USERS_ASKED:
            counted.record(hit)
        with kefu_preview(settings) as url:
            page = Page(driver, url)
            page.open()
            yield page


def png_size(data: bytes) -> tuple[int, int]:
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def jpeg_size(data: bytes) -> tuple[int, int]:
    at = 2
    while at < len(data):
        marker, length = data[at + 1], int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            return int.from_bytes(data[at + 7 : at + 9], "big"), int.from_bytes(
                data[at + 5 : at + 7], "big"
            )
        at += 2 + length
    raise ValueError("no JPEG frame header")


def test_the_contract_rules_show_a_link_card_two_real_pictures_and_the_default(page: Page):
    hit = page.type("1")
    (card,) = page.replies_before(hit)
    assert card.get_attribute("data-kind") == "link"
    assert card.find_element(By.CSS_SELECTOR, ".title").text == "点击下载APP"
    assert card.find_element(By.CSS_SELECTOR, ".desc").text == "注册领取红包"
    assert card.find_element(By.CSS_SELECTOR, "a.card").get_attribute("href") == (
        "https://example.com/app.html"
    )
    thumb = card.find_element(By.CSS_SELECTOR, "img.thumb")
    assert page.image_size(thumb) == png_size((ROOT / "config/demo/poster02.png").read_bytes())

    for typed, file in [("2", "poster.jpg"), ("3", "poster02.png")]:
        hit = page.type(typed)
        (row,) = page.replies_before(hit)
        img = row.find_element(By.CSS_SELECTOR, "img.picture")
        data = (ROOT / "config" / "demo" / file).read_bytes()
        expected = jpeg_size(data) if file.endswith(".jpg") else png_size(data)
        assert (img.get_attribute("data-file"), page.image_size(img)) == (file, expected)
        assert hit.get_attribute("data-rule") == typed

    hit = page.type("hello")
    (bubble,) = page.replies_before(hit)
    assert (bubble.text, hit.get_attribute("data-how")) == ("再见", "default")


def test_the_line_under_a_reply_names_the_exact_keyword_after_normalising(page: Page):
    hit = page.type(" １ ")
    assert (hit.get_attribute("data-rule"), hit.get_attribute("data-how")) == ("1", "keyword")
    assert "规范化后为 1" in hit.text


def test_a_pattern_hit_shows_its_pattern(page: Page):
    hit = page.type("怎么安装")
    assert hit.get_attribute("data-how") == "pattern"
    assert "在 怎么安装 中找到模式 下载|安装" in hit.text
    (bubble,) = page.replies_before(hit)
    assert bubble.text == "回复 1 获取下载链接"


def test_asking_for_a_human_shows_the_hand_over_notice(page: Page):
    hit = page.type("人工")
    (notice,) = page.replies_before(hit)
    assert notice.get_attribute("data-kind") == "transfer"
    assert notice.text == "会话已转给人工客服"


def test_a_mini_program_card_shows_title_picture_and_page(page: Page):
    hit = page.type("活动")
    (card,) = page.replies_before(hit)
    assert card.find_element(By.CSS_SELECTOR, ".title").text == "本月活动"
    assert card.find_element(By.CSS_SELECTOR, ".path").text == "pages/event/index?id=42"
    cover = card.find_element(By.CSS_SELECTOR, "img.cover")
    assert page.image_size(cover) == png_size((ROOT / "config/demo/poster02.png").read_bytes())


def test_entering_the_chat_shows_the_welcome_with_its_text_link(page: Page):
    hit = page.enter()
    (bubble,) = page.replies_before(hit)
    assert hit.get_attribute("data-how") == "enter"
    assert bubble.text == "您好！帮助"
    link = bubble.find_element(By.TAG_NAME, "a")
    assert (link.text, link.get_attribute("href")) == ("帮助", "https://example.com/help")


def test_rule_text_with_markup_shows_as_text_and_runs_nothing(page: Page):
    hit = page.type("脚本")
    (bubble,) = page.replies_before(hit)
    assert bubble.text == SCRIPT_TEXT
    assert bubble.find_elements(By.CSS_SELECTOR, "script, img") == []
    hit = page.type("<b>粗</b>")
    (bubble,) = page.replies_before(hit)
    assert bubble.text == "<i>斜</i>"
    time.sleep(0.2)  # an onerror handler would have run by now
    assert page.driver.title == "kefu 预览"


def test_the_rules_report_lists_every_key_as_text(page: Page):
    rows = page.driver.find_elements(By.CSS_SELECTOR, "#report tbody tr")
    keys = [row.find_element(By.TAG_NAME, "td").text for row in rows]
    assert keys[:3] == ["@enter", "1", "2"]
    assert "<b>粗</b>" in keys
    assert page.driver.find_elements(By.CSS_SELECTOR, "#report b") == []
    summary = page.driver.find_element(By.ID, "report-summary").text
    assert summary == "共 11 个关键词：10 个生效，1 个被拒绝"
    # What the report says of a key is in the page's language too.
    assert "人工 transfer 转人工客服" in [row.text for row in rows]
    rejected = page.driver.find_element(By.CSS_SELECTOR, "#report tr.rejected").text
    assert rejected.startswith("4 - url：媒体根目录 ")
    assert rejected.endswith(" 下没有这个文件（应为：媒体根目录下的图片）")


def test_the_statistics_panel_shows_todays_counts_and_tries_an_unmatched_text(page: Page):
    today = page.driver.find_element(By.CSS_SELECTOR, "#stats .day")
    hits, unmatched = today.find_elements(By.TAG_NAME, "table")
    assert [row.text for row in hits.find_elements(By.TAG_NAME, "tr")] == [
        "规则 命中",
        "1 5",
        "default 5",
        "re:下载|安装 1",
    ]
    rows = unmatched.find_elements(By.TAG_NAME, "tr")
    assert [row.text for row in rows] == [
        "未匹配的文字 次数",
        "怎么退款 3 试一试",
        "客服电话 2 试一试",
    ]
    before = page.turns()
    rows[1].find_element(By.CSS_SELECTOR, "button.try").click()
    hit = page.last_hit(before)
    (bubble,) = page.replies_before(hit)
    assert (bubble.text, hit.get_attribute("data-how")) == ("再见", "default")
    user = page.driver.find_elements(By.CSS_SELECTOR, "#chat .msg.user")[-1]
    assert user.text == "怎么退款"


def test_a_picture_that_cannot_be_loaded_shows_the_default_and_why(page: Page):
    hit = page.type("4")
    (bubble,) = page.replies_before(hit)
    assert bubble.text == "再见"
    note = page.driver.find_elements(By.CSS_SELECTOR, "#chat .note")[-1]
    assert "/cms/missing.png" in note.text
    assert "no such file under the media root" in note.text


def test_what_the_editor_types_is_not_counted(page: Page):
    for typed in ("1", "没有这个词"):
        page.type(typed)
    counted = requests.get(page.url + "api/stats?days=1", timeout=10).json()["days"][0]
    assert counted["hits"] == [["1", 5], ["default", 5], ["re:下载|安装", 1]]
    assert counted["unmatched"] == [["怎么退款", 3], ["客服电话", 2]]


def test_the_preview_listens_on_loopback_only(page: Page):
    port = int(page.url.rstrip("/").rsplit(":", 1)[1])
    listening = [
        line.split()[1]
        for name in ("/proc/net/tcp", "/proc/net/tcp6")
        for line in Path(name).read_text().splitlines()[1:]
        if line.split()[3] == "0A" and line.split()[1].endswith(f":{port:04X}")
    ]
    assert listening == [f"0100007F:{port:04X}"]


def test_the_page_takes_the_readmes_screenshot(page: Page, tmp_path: Path):
    """Written to docs/preview.png when KEFU_SCREENSHOT=docs (run once, then committed)."""
    for typed in ("1", "2", "怎么下载"):
        page.type(typed)
    target = SCREENSHOT if os.environ.get("KEFU_SCREENSHOT") == "docs" else tmp_path / "p.png"
    page.driver.save_screenshot(str(target))
    taken, kept = target.read_bytes(), SCREENSHOT.read_bytes()
    viewport = page.driver.execute_script("return [window.innerWidth, window.innerHeight]")
    assert png_size(taken) == png_size(kept) == tuple(viewport)


def test_a_draft_is_previewed_with_no_settings_at_all_and_its_report_follows_each_save(
    tmp_path: Path,
):
    draft = tmp_path / "draft.json"
    draft.write_text(json.dumps({"1": {"type": "text", "text": "草稿"}}), encoding="utf-8")
    empty = tmp_path / "editor"
    empty.mkdir()
    with chromium() as driver, kefu_preview({}, "--rules", str(draft), cwd=empty) as url:
        page = Page(driver, url)
        page.open()
        (bubble,) = page.replies_before(page.type("1"))
        assert bubble.text == "草稿"
        stats = driver.find_element(By.ID, "stats")
        page.wait(lambda: stats.text)
        assert stats.text.startswith("统计来自运行中的服务，需要服务的设置（KEFU_APPID")
        broken = {"1": {"type": "text", "text": "草稿"}, "视频": {"type": "video"}}
        draft.write_text(json.dumps(broken, ensure_ascii=False), encoding="utf-8")
        summary = driver.find_element(By.ID, "report-summary")
        page.wait(lambda: summary.text == "共 2 个关键词：1 个生效，1 个被拒绝")
        rejected = driver.find_element(By.CSS_SELECTOR, "#report tr.rejected")
        assert rejected.text.startswith("视频 -")
        kinds = "text、link、image、miniprogrampage 或 transfer"
        assert rejected.text.endswith(f"type：未知类型 'video'（应为：{kinds}）")
        hit = page.type("2")
        assert (page.replies_before(hit), hit.text) == ([], "没有规则命中：不回复")
    assert list(empty.iterdir()) == []  # no state folder left in the editor's folder


def test_a_paraphrase_shows_its_key_by_similar_question_and_the_closest_keys(tmp_path: Path):
    draft = tmp_path / "draft.json"
    draft.write_text(json.dumps(SIMILAR_DOCUMENT, ensure_ascii=False), encoding="utf-8")
    with chromium() as driver, kefu_preview({}, "--rules", str(draft), cwd=tmp_path) as url:
        page = Page(driver, url)
        page.open()
        hit = page.type("手机号换了，怎么改")
        (bubble,) = page.replies_before(hit)
        assert (bubble.text, hit.get_attribute("data-how")) == (PHONE, "similar")
        assert hit.text.splitlines()[0] == "规则 怎么更换手机号：相似问法"
        rows = hit.find_elements(By.CSS_SELECTOR, ".similar")
        keys = [(row.get_attribute("data-key"), row.get_attribute("data-answers")) for row in rows]
        assert keys == [("怎么更换手机号", ""), ("怎么解绑银行卡", None)]  # the first answers
        assert all(re.fullmatch(r"相似问法 \d+ %：\S+", row.text) for row in rows)


def test_with_lang_en_the_page_is_in_english(page: Page):
    page.driver.get(page.url + "?lang=en")
    try:
        page.wait(lambda: page.driver.find_elements(By.CSS_SELECTOR, "#report tbody tr"))
        assert page.driver.execute_script("return document.documentElement.lang") == "en"
        assert page.driver.find_element(By.ID, "send").text == "Send"
        assert page.driver.find_element(By.ID, "stats-title").text == "What users asked"
        summary = page.driver.find_element(By.ID, "report-summary").text
        assert summary == "11 key(s): 10 in force, 1 rejected"
        rejected = page.driver.find_element(By.CSS_SELECTOR, "#report tr.rejected").text
        assert rejected.startswith("4 - url: no such file under the media root ")
        assert rejected.endswith(" (expected an image under the media root)")
        hit = page.type(" １ ")
        assert hit.text == "rule 1: exact keyword, your text normalised is 1"
    finally:
        page.open()


def test_the_page_is_chinese_by_default(page: Page):
    driver = page.driver
    assert driver.execute_script("return document.documentElement.lang") == "zh-CN"
    labels = [driver.find_element(By.CSS_SELECTOR, css).text.split()[0] for css in LABELLED]
    assert labels == ["进入会话", "发送", "规则", "用户问了什么", "天数"]
    heads = driver.find_elements(By.CSS_SELECTOR, "#report th")
    assert [head.text for head in heads] == ["关键词", "类型", "摘要", "问题"]
    assert driver.find_element(By.ID, "text").get_attribute("placeholder") == "以用户身份输入…"


def test_a_form_on_another_site_cannot_make_the_preview_run_a_turn(page: Page):
    # Another origin (another port of 127.0.0.1) whose page posts a form to the preview's API.
    with canned((EVIL_FORM % (page.url + "api/chat")).encode(), "text/html") as evil:
        page.driver.get(evil)
        page.wait(lambda: "its own page only" in page.driver.page_source)
    page.open()


def test_with_an_access_token_only_the_link_opens_the_page(tmp_path: Path):
    write_rules(tmp_path, {"default": {"type": "text", "text": "好"}})
    settings = kefu_settings(tmp_path, "http://127.0.0.1:9", KEFU_PREVIEW_TOKEN=ACCESS)
    with chromium() as driver, kefu_preview(settings) as url:
        assert requests.get(url, timeout=10).status_code == 401
        driver.get(url)
        assert "需要访问令牌" in driver.page_source
        page = Page(driver, url + "?token=" + ACCESS)
        page.open()
        assert driver.current_url == url  # the token left the address bar for a cookie
        (bubble,) = page.replies_before(page.type("你好"))
        assert bubble.text == "好"


def test_on_a_phone_screen_the_chat_fits_and_chinese_renders_in_a_cjk_font(page: Page):
    with chromium(width=390, height=844) as phone:
        small = Page(phone, page.url)
        small.open()
        hit = small.type("1")
        assert hit.get_attribute("data-rule") == "1"
        overflow = phone.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 0
        composer = phone.find_element(By.ID, "send").rect
        assert composer["x"] + composer["width"] <= phone.execute_script("return innerWidth")
        # Chinese renders: in the page's font, 你 and 好 are different glyphs, not the same box.
        assert phone.execute_script(DIFFERENT_GLYPHS, "你", "好")
        assert not phone.execute_script(DIFFERENT_GLYPHS, "你", "你")

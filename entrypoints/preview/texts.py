"""Every word the preview page shows, in Chinese (the default) and English (`?lang=en`)."""

from __future__ import annotations

DEFAULT_LANG = "zh-CN"
# {name} marks where the page puts a value (a rule key, a count) into a sentence.
TEXTS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "title": "kefu 预览",
        "phone": "用户看到的会话",
        "bar": "客服消息 · kefu 预览",
        "enter_title": "用户打开会话时收到的回复（@enter）",
        "enter": "进入会话",
        "placeholder": "以用户身份输入…",
        "message": "消息",
        "send": "发送",
        "rules": "规则",
        "keyword": "关键词",
        "type": "类型",
        "summary": "摘要",
        "problems": "问题",
        "stats": "用户问了什么",
        "days": "天数",
        "hit_keyword": "规则 {rule}：精确关键词，您的文字规范化后为 {text}",
        "hit_pattern": "规则 {rule}：在 {text} 中找到模式 {pattern}",
        "hit_default": "规则 {rule}：没有关键词或模式命中",
        "hit_enter": "规则 {rule}：用户进入了会话",
        "hit_similar": "规则 {rule}：相似问法",
        "similar_row": "相似问法 {score} %：{question}",
        "hit_none": "没有规则命中：不回复",
        "transfer": "会话已转给人工客服",
        "entered": "您进入了会话",
        "failed": "预览出错：HTTP {status}",
        "unreadable": "无法读取规则：{error}",
        "report": "共 {keys} 个关键词：{in_force} 个生效，{rejected} 个被拒绝",
        "stats_off": "KEFU_STATS 已关闭：不做任何统计。",
        "stats_unset": (
            "统计来自运行中的服务，需要服务的设置（KEFU_APPID，以及 KEFU_STATE_DIR 或 "
            "KEFU_REDIS_URL）：现在没有设置，草稿照样可以试。"
        ),
        "nothing": "没有统计",
        "rule": "规则",
        "hits": "命中",
        "unmatched": "未匹配的文字",
        "times": "次数",
        "try": "试一试",
        "mini_program": "小程序",
        "opens": "打开 {path}",
        "thumbnail": "缩略图",
        "picture": "图片",
        "cover": "卡片图片",
    },
    "en": {
        "title": "kefu preview",
        "phone": "Chat as a user sees it",
        "bar": "客服消息 · kefu preview",
        "enter_title": "What a user gets on opening the chat (@enter)",
        "enter": "enter the chat",
        "placeholder": "type as a user…",
        "message": "Message",
        "send": "Send",
        "rules": "Rules",
        "keyword": "keyword",
        "type": "type",
        "summary": "summary",
        "problems": "problems",
        "stats": "What users asked",
        "days": "days",
        "hit_keyword": "rule {rule}: exact keyword, your text normalised is {text}",
        "hit_pattern": "rule {rule}: pattern {pattern} found in {text}",
        "hit_default": "rule {rule}: no keyword or pattern hit",
        "hit_enter": "rule {rule}: the user entered the chat",
        "hit_similar": "rule {rule}: similar question",
        "similar_row": "similar question {score} %: {question}",
        "hit_none": "no rule hit: no reply",
        "transfer": "The chat is handed to a human agent (转人工客服)",
        "entered": "you entered the chat",
        "failed": "the preview answered HTTP {status}",
        "unreadable": "The rules cannot be read: {error}",
        "report": "{keys} key(s): {in_force} in force, {rejected} rejected",
        "stats_off": "KEFU_STATS is off: nothing is counted.",
        "stats_unset": (
            "The statistics come from the running service and need its settings (KEFU_APPID, "
            "and KEFU_STATE_DIR or KEFU_REDIS_URL): none are set; drafts can be tried all the same."
        ),
        "nothing": "nothing counted",
        "rule": "rule",
        "hits": "hits",
        "unmatched": "unmatched text",
        "times": "times",
        "try": "try it",
        "mini_program": "小程序",
        "opens": "opens {path}",
        "thumbnail": "thumbnail",
        "picture": "picture",
        "cover": "card picture",
    },
}


def language(asked: str | None) -> str:
    """The page's language: English when asked for, else Chinese."""
    return "en" if asked == "en" else DEFAULT_LANG

"""What the rules report says, in Chinese: every English template given to domain.wording.words
by kefu's code, with the same fields (tests/unit/test_wording_zh.py checks that none is missing).
"""

from __future__ import annotations

from domain.wording import Words

ZH: dict[str, str] = {
    # The report's own sentences (entrypoints/cli/rules_table.py).
    "{problem} (expected {expected})": "{problem}（应为：{expected}）",
    "{field}: {problem} (expected {expected})": "{field}：{problem}（应为：{expected}）",
    "hand over to a human agent": "转人工客服",
    # What is found.
    "missing": "缺少",
    "empty list": "空列表",
    "got {kind}": "得到的是 {kind}",
    "got {value!r}": "得到的是 {value!r}",
    "empty or not text ({value!r})": "为空或不是文字（{value!r}）",
    "unknown field": "未知字段",
    "unknown setting": "未知设置",
    "unknown special key": "未知的特殊键",
    "unknown type {kind!r}": "未知类型 {kind!r}",
    "{count} questions": "{count} 个问法",
    "{count} characters": "{count} 个字",
    "{count} replies": "{count} 条回复",
    "{size} UTF-8 bytes": "{size} 个 UTF-8 字节",
    "{number} is out of range": "{number} 超出范围",
    "{question!r} is listed twice": "{question!r} 列了两次",
    "{question!r} belongs to {key!r} already": "{question!r} 已属于 {key!r}",
    "{url!r} is not a web address": "{url!r} 不是网址",
    "{ref!r} is not a web address or a path": "{ref!r} 既不是网址也不是路径",
    "same keyword as {key!r} once normalised": "规范化后与 {key!r} 是同一个关键词",
    "only a keyword can have similar questions": "只有关键词才能有相似问法",
    "a transfer is never answered by a similar question (only exact and re: keys)": (
        "转人工不会由相似问法触发（只由精确关键词和 re: 键触发）"
    ),
    "too many questions in the document": "文档中的问法太多",
    "empty pattern would match every message": "空模式会匹配每一条消息",
    "keyword is empty after trimming": "去掉空白后关键词为空",
    "regular expression does not compile: {why}": "正则表达式无法编译：{why}",
    "patterns do not compile together: {why}": "这些模式无法一起编译：{why}",
    "beyond the first {limit} re: keys": "超出了前 {limit} 个 re: 键",
    "pattern size {size} is more than the {left} left of the budget": (
        "模式大小 {size} 超过了剩余的预算 {left}"
    ),
    "appears more than once in the document": "在文档中出现了不止一次",
    # What is expected.
    "unique": "不重复",
    "a keyword": "一个关键词",
    "a non-empty keyword": "非空的关键词",
    "a non-empty string": "非空的文字",
    "a non-empty question": "非空的问法",
    "a reply object": "一个回复对象",
    "a reply object or a list of them": "一个回复对象或回复对象的列表",
    "1 to {limit} replies": "1 到 {limit} 条回复",
    "at most {limit}": "最多 {limit}",
    "at most {limit} (WeChat's quota)": "最多 {limit} 条（微信的限额）",
    "at most {limit} (WeChat's quota on entering)": "最多 {limit} 条（微信对进入会话的限额）",
    "at most {limit}: one question": "最多 {limit} 个字：一个问题",
    "at most {limit} questions in one document": "一个文档最多 {limit} 个问法",
    "at most {limit} re: keys in a document": "一个文档最多 {limit} 个 re: 键",
    "re: patterns of total size at most {limit}": "re: 模式的总大小最多 {limit}",
    "a list of 1 to {limit} questions": "1 到 {limit} 个问法的列表",
    "a number from {low} to {high}": "{low} 到 {high} 之间的数",
    '"similar" and "reply" only': '只能有 "similar" 和 "reply"',
    '"threshold" or "margin"': '"threshold" 或 "margin"',
    '{{"threshold": …, "margin": …}}': '{{"threshold": …, "margin": …}}',
    "{enter!r}, {match!r} or a keyword": "{enter!r}、{match!r} 或关键词",
    "each question once": "每个问法只列一次",
    "each question under one key": "每个问法只属于一个键",
    "each keyword once": "每个关键词只出现一次",
    "no similar on a transfer key": "转人工的键不设相似问法",
    "a regex after 're:'": "'re:' 后面的正则表达式",
    "a regex in RE2 syntax: no backreferences or look-around": (
        "RE2 语法的正则表达式：不支持反向引用和环视"
    ),
    "text, link, image, miniprogrampage or transfer": (
        "text、link、image、miniprogrampage 或 transfer"
    ),
    "an http(s) URL": "http(s) 网址",
    "an http(s) URL or a file path": "http(s) 网址或文件路径",
    "an image under the media root": "媒体根目录下的图片",
    # Images (adapters/media).
    "path leaves the media root": "路径跑出了媒体根目录",
    "path cannot be resolved": "路径无法解析",
    "no such file under the media root {root}": "媒体根目录 {root} 下没有这个文件",
    "not a file": "不是文件",
    "cannot be read: {why}": "无法读取：{why}",
    "image is over the {limit}-byte limit ({seen})": "图片超过 {limit} 字节的上限（{seen}）",
    "{size} bytes": "{size} 字节",
    "more than that": "超过上限",
    "{kind}, {size}": "{kind}，{size}",
    "not an image ({found}; JPEG, PNG or GIF only)": "不是图片（{found}；只支持 JPEG、PNG 或 GIF）",
    "upload to WeChat failed: {why}": "上传到微信失败：{why}",
    "download failed ({kind})": "下载失败（{kind}）",
    "download timed out": "下载超时",
    "download took over {seconds:g} s": "下载超过 {seconds:g} 秒",
    "download answered HTTP {status}": "下载得到 HTTP {status}",
    "more than {limit} redirects": "重定向超过 {limit} 次",
    "{why}": "{why}",
}


def in_chinese(said: Words) -> str:
    """said in Chinese, the words it names included; a template missing here stays English."""
    values = {name: in_chinese(v) if isinstance(v, Words) else v for name, v in said.values}
    return ZH.get(said.template, said.template).format_map(values)

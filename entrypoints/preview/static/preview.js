// The preview page. Every text that comes from the rules or from users is set with
// textContent: rules are not trusted markup.
"use strict";

// The page's words in its language, as the server put them on <body>.
const TEXTS = JSON.parse(document.body.dataset.texts);

// TEXTS[name] with each {field} replaced by values[field]: text, or a node (a <code>, say).
function fill(name, values) {
  const parts = [];
  let last = 0;
  const template = TEXTS[name];
  for (const match of template.matchAll(/\{(\w+)\}/g)) {
    parts.push(template.slice(last, match.index), values[match[1]]);
    last = match.index + match[0].length;
  }
  parts.push(template.slice(last));
  return parts;
}

function sentence(name, values) {
  return fill(name, values).join("");
}

const chat = document.getElementById("chat");
const input = document.getElementById("text");

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function isWebAddress(url) {
  return /^https?:\/\//i.test(url || "");
}

// WeChat shows <a href="…">label</a> in a text message as a link (and a link with
// data-miniprogram-path opens that page); everything else shows as the characters it is.
const LINK = /<a\s([^>]*)>([\s\S]*?)<\/a>/gi;
const ATTRIBUTE = /([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

function attributes(text) {
  const found = {};
  for (const match of text.matchAll(ATTRIBUTE)) {
    found[match[1].toLowerCase()] = match[2] !== undefined ? match[2] : match[3];
  }
  return found;
}

function textBubble(content) {
  const bubble = el("div", "bubble");
  let last = 0;
  for (const match of content.matchAll(LINK)) {
    bubble.append(document.createTextNode(content.slice(last, match.index)));
    const attrs = attributes(match[1]);
    let link;
    if (attrs["data-miniprogram-path"]) {
      link = el("span", "mp-link", match[2]);
      link.title = sentence("opens", { path: attrs["data-miniprogram-path"] });
    } else if (isWebAddress(attrs.href)) {
      link = el("a", null, match[2]);
      link.href = attrs.href;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
    } else {
      link = document.createTextNode(match[0]);
    }
    bubble.append(link);
    last = match.index + match[0].length;
  }
  bubble.append(document.createTextNode(content.slice(last)));
  return bubble;
}

function image(className, src, file, alt) {
  const img = el("img", className);
  img.src = src;
  img.alt = alt;
  img.dataset.file = file || "";
  return img;
}

function linkCard(reply) {
  const card = el(isWebAddress(reply.url) ? "a" : "div", "card link");
  if (card.tagName === "A") {
    card.href = reply.url;
    card.target = "_blank";
    card.rel = "noopener noreferrer";
  }
  card.append(el("div", "title", reply.title));
  const row = el("div", "row");
  row.append(el("div", "desc", reply.description));
  if (reply.thumb) row.append(image("thumb", reply.thumb, "", TEXTS.thumbnail));
  else row.append(el("div", "thumb"));
  card.append(row);
  card.title = reply.url;
  return card;
}

function miniProgramCard(reply) {
  const card = el("div", "card mp");
  card.append(el("div", "mp-head", TEXTS.mini_program));
  card.append(el("div", "title", reply.title));
  card.append(image("cover", reply.src, reply.file, TEXTS.cover));
  card.append(el("div", "path", reply.pagepath));
  return card;
}

function replyNode(reply) {
  switch (reply.kind) {
    case "text": return textBubble(reply.text);
    case "link": return linkCard(reply);
    case "image": return image("picture", reply.src, reply.file, TEXTS.picture);
    case "miniprogrampage": return miniProgramCard(reply);
    default: return null;
  }
}

function addRow(className, child, kind) {
  const row = el("div", "msg " + className);
  if (kind) row.dataset.kind = kind;
  row.append(child);
  chat.append(row);
  return row;
}

function addNotice(text, kind) {
  const row = el("div", "notice");
  row.dataset.kind = kind;
  row.append(el("span", null, text));
  chat.append(row);
}

function hitLine(turn) {
  const line = el("div", "hit");
  line.dataset.rule = turn.rule === null ? "" : turn.rule;
  line.dataset.how = turn.how;
  const code = (text) => el("code", null, text);
  const values = { rule: code(turn.rule), text: code(turn.normalised) };
  if (turn.how === "pattern") values.pattern = code(turn.rule.slice(3));
  if (turn.how === "default") values.rule = code("default");
  if (turn.how === "enter") values.rule = code("@enter");
  line.append(...fill("hit_" + turn.how, values));
  // The closest keys by similar questions, the one that answered marked.
  for (const found of turn.similar ? turn.similar.candidates : []) {
    const values = { score: String(found.score), question: found.question };
    const row = el("div", "similar", sentence("similar_row", values));
    row.dataset.key = found.key;
    if (found.key === turn.similar.answer) row.dataset.answers = "";
    line.append(row);
  }
  return line;
}

function showTurn(turn) {
  for (const reply of turn.replies) {
    if (reply.kind === "transfer") {
      addNotice(TEXTS.transfer, "transfer");
      continue;
    }
    addRow("kefu", replyNode(reply), reply.kind);
  }
  chat.append(hitLine(turn));
  for (const note of turn.notes) chat.append(el("div", "note", note));
  chat.scrollTop = chat.scrollHeight;
}

async function post(body) {
  const response = await fetch("/api/chat", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(sentence("failed", { status: String(response.status) }));
  return response.json();
}

async function say(text) {
  addRow("user", el("div", "bubble", text));
  try {
    showTurn(await post({ text }));
  } catch (error) {
    chat.append(el("div", "note", error.message || String(error)));
  }
}

document.getElementById("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = input.value;
  if (!text.trim()) return;
  input.value = "";
  say(text);
});

document.getElementById("enter").addEventListener("click", async () => {
  addNotice(TEXTS.entered, "entered");
  try {
    showTurn(await post({ enter: true }));
  } catch (error) {
    chat.append(el("div", "note", error.message || String(error)));
  }
});

// The rules report, as `kefu rules check` prints it; read again while the page is open.
let shownReport = "";
async function refreshReport() {
  let report;
  try {
    report = await (await fetch("/api/report?lang=" + encodeURIComponent(document.documentElement.lang))).json();
  } catch (error) {
    return;
  }
  const text = JSON.stringify(report);
  if (text === shownReport) return;
  shownReport = text;
  const summary = document.getElementById("report-summary");
  summary.textContent = report.error
    ? sentence("unreadable", { error: report.error })
    : sentence("report", {
      keys: String(report.rows.length),
      in_force: String(report.in_force),
      rejected: String(report.rejected),
    });
  const body = document.querySelector("#report tbody");
  body.replaceChildren(...report.rows.map((row) => {
    const tr = el("tr", row.problems ? "rejected" : "");
    for (const cell of [row.key, row.type, row.summary, row.problems]) tr.append(el("td", null, cell));
    return tr;
  }));
}

function table(header, rows, withTry) {
  const t = el("table");
  const head = el("tr");
  for (const name of header) head.append(el("th", null, name));
  if (withTry) head.append(el("th"));
  t.append(head);
  for (const [name, count] of rows) {
    const tr = el("tr");
    tr.append(el("td", null, name), el("td", null, String(count)));
    if (withTry) {
      const cell = el("td");
      const button = el("button", "try", TEXTS.try);
      button.type = "button";
      button.addEventListener("click", () => say(name));
      cell.append(button);
      tr.append(cell);
    }
    t.append(tr);
  }
  return t;
}

let shownStats = "";
async function refreshStats() {
  const days = document.getElementById("days").value;
  let stats;
  try {
    stats = await (await fetch("/api/stats?days=" + encodeURIComponent(days))).json();
  } catch (error) {
    return;
  }
  const text = JSON.stringify(stats);
  if (text === shownStats) return;
  shownStats = text;
  const box = document.getElementById("stats");
  if (!stats.enabled) {
    box.replaceChildren(el("p", "summary", stats.why === "unset" ? TEXTS.stats_unset : TEXTS.stats_off));
    return;
  }
  const parts = [];
  if (stats.error) parts.push(el("p", "note", stats.error));
  for (const day of stats.days) {
    const section = el("div", "day");
    section.dataset.day = day.day;
    section.append(el("h3", null, day.day));
    if (!day.hits.length && !day.unmatched.length) {
      section.append(el("p", "summary", TEXTS.nothing));
    } else {
      section.append(table([TEXTS.rule, TEXTS.hits], day.hits, false));
      if (day.unmatched.length) {
        section.append(table([TEXTS.unmatched, TEXTS.times], day.unmatched, true));
      }
    }
    parts.push(section);
  }
  box.replaceChildren(...parts);
}

document.getElementById("days").addEventListener("change", refreshStats);
refreshReport();
refreshStats();
setInterval(refreshReport, 3000);
setInterval(refreshStats, 10000);

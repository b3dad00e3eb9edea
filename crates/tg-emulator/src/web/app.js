// Hotline sandbox page: a user's private chat with the bot (left) and the team's
// forum group (right), driven by the emulator's control API and kept live by its
// server-sent events. Plain JS, no framework, no build step. On narrow screens one
// pane shows at a time (tabs switch), and the forum shows its topic list or one topic.
"use strict";

const $ = (id) => document.getElementById(id);

const S = {
  world: null,
  worldKey: "",
  user: null, // person id acting on the left
  bot: null, // bot id of the private chat
  group: null, // forum group id
  topic: null, // selected thread id; null = General
  operator: null, // person id writing in the group
  userMsgs: [],
  groupMsgs: [],
  topics: [],
  userMode: null, // {kind: "reply"|"edit", id, msg}
  opMode: null,
  view: "user", // the pane shown on narrow screens: "user" | "group"
  forum: "list", // what a phone-width forum shows: "list" | "topic"
  commands: { user: [], operator: [] }, // the `/` menus: [{command, description, bot}]
  seen: { user: null, group: null }, // newest message id seen in each pane (unread badges)
  keys: { user: "", group: "", topics: "", commands: "" },
};

// Hotline marks every message it mirrors from a bot's own backend with this prefix.
const INTERCEPTED_MARK = "🤖";
// Largest file the page uploads (the Bot API lets bots download up to 20 MB).
const MAX_UPLOAD = 20 * 1024 * 1024;

// Known topic icons (custom emoji ids of getForumTopicIconStickers).
const ICONS = {
  "5434144690511290129": "📰", "5312536423851630001": "💡", "5312016608254762256": "⚡️",
  "5312241539987020022": "🔥", "5379748062124056162": "❗️", "5377316857231450742": "❓",
  "5237699328843200968": "✅", "5417915203100613993": "💬", "5373251851074415873": "📝",
  "5370870893004203704": "🟣", "5370867268051806190": "🟡", "5370871074868985264": "⚫️",
  "5370856741086960948": "🔴", "5368808634392257474": "🟢",
};
const NAME_COLORS = ["#e17076", "#faa774", "#a695e7", "#7bc862", "#6ec9cb", "#65aadd", "#ee7aae"];
const SERVICE_KEYS = [
  "forum_topic_created", "forum_topic_edited", "forum_topic_closed", "forum_topic_reopened",
  "general_forum_topic_hidden", "general_forum_topic_unhidden", "pinned_message", "new_chat_members",
  "left_chat_member", "new_chat_title", "new_chat_photo", "group_chat_created", "supergroup_chat_created",
  "migrate_from_chat_id", "write_access_allowed",
];

// ---------- helpers ----------

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function safeUrl(u) {
  return /^(https?:|tg:|mailto:)/i.test(u || "") ? u : "#";
}

function fullName(u) {
  if (!u) return "Unknown";
  return [u.first_name, u.last_name].filter(Boolean).join(" ") || u.username || String(u.id);
}

function nameColor(id) {
  return NAME_COLORS[Math.abs(Number(id) || 0) % NAME_COLORS.length];
}

function hhmm(date) {
  return new Date(date * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function dayLabel(date) {
  const d = new Date(date * 1000);
  return d.toDateString() === new Date().toDateString() ? "Today" : d.toLocaleDateString([], { day: "numeric", month: "long" });
}

function size(n) {
  if (!n && n !== 0) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function color(n) {
  return "#" + (Number(n) || 0x6fb9f0).toString(16).padStart(6, "0");
}

function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), 3500);
}

async function api(path, body) {
  const init = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const r = await fetch(path, init);
  const j = await r.json().catch(() => ({ ok: false, description: `HTTP ${r.status}` }));
  if (!j.ok) throw new Error(j.description || `HTTP ${r.status}`);
  return j.result;
}

async function act(path, body) {
  try {
    const r = await api(path, body);
    schedule();
    return r;
  } catch (e) {
    toast(`⚠ ${e.message}`);
    return null;
  }
}

// ---------- message content ----------

function isService(m) {
  return SERVICE_KEYS.some((k) => m[k] !== undefined);
}

// A bot's message in a dialog topic that Hotline mirrored from the bot's own backend
// (the parallel connection): Hotline starts each with its mark. Only the mark counts:
// Hotline's own texts (a /stats report, say) may well contain the word "intercepted".
function isIntercepted(m) {
  return !!(m.from && m.from.is_bot && m.message_thread_id && (m.text ?? m.caption ?? "").startsWith(INTERCEPTED_MARK));
}

// A person's `/ text` in a dialog topic: an internal comment Hotline never sends.
function isInternal(m) {
  return !!(m.from && !m.from.is_bot && m.message_thread_id && /^\/(\s|$)/.test(m.text ?? m.caption ?? ""));
}

// Text with Telegram entities (offsets are UTF-16, like JS strings).
function richText(text, entities) {
  if (!text) return "";
  const ents = (entities || []).filter((e) => e.length > 0).sort((a, b) => a.offset - b.offset || b.length - a.length);
  let out = "";
  const stack = [];
  let next = 0;
  for (let i = 0; i <= text.length; i++) {
    while (stack.length && stack[stack.length - 1].offset + stack[stack.length - 1].length <= i) out += closeTag(stack.pop());
    while (next < ents.length && ents[next].offset === i) {
      out += openTag(ents[next], text);
      stack.push(ents[next++]);
    }
    if (i < text.length) out += esc(text[i]);
  }
  while (stack.length) out += closeTag(stack.pop());
  return out;
}

function openTag(e, text) {
  switch (e.type) {
    case "bold": return "<b>";
    case "italic": return "<i>";
    case "underline": return "<u>";
    case "strikethrough": return "<s>";
    case "code": return '<code class="ent-code">';
    case "pre": return '<span class="ent-pre">';
    case "spoiler": return '<span class="ent-spoiler">';
    case "blockquote": case "expandable_blockquote": return '<span class="ent-quote">';
    case "text_link": return `<a href="${esc(safeUrl(e.url))}" target="_blank" rel="noopener">`;
    case "url": {
      const u = text.substr(e.offset, e.length);
      return `<a href="${esc(safeUrl(/^[a-z]+:/i.test(u) ? u : "http://" + u))}" target="_blank" rel="noopener">`;
    }
    default: return '<span class="ent-link">';
  }
}

function closeTag(e) {
  return { bold: "</b>", italic: "</i>", underline: "</u>", strikethrough: "</s>", code: "</code>", text_link: "</a>", url: "</a>" }[e.type] || "</span>";
}

// A one-line description (topic list, quotes, reply bar).
function summary(m) {
  if (!m) return "";
  const t = m.text || m.caption;
  const kind = m.photo ? "📷 Photo" : m.video ? "🎬 Video" : m.animation ? "GIF" : m.voice ? "🎤 Voice message"
    : m.video_note ? "⏺ Video message" : m.audio ? "🎵 " + (m.audio.title || "Audio") : m.document ? "📄 " + (m.document.file_name || "File")
    : m.sticker ? (m.sticker.emoji || "") + " Sticker" : m.venue ? "📍 " + m.venue.title : m.location ? "📍 Location"
    : m.contact ? "👤 " + fullName(m.contact) : m.poll ? "📊 " + m.poll.question : m.dice ? m.dice.emoji + " " + m.dice.value : "";
  if (isService(m)) return serviceText(m);
  return [kind, t].filter(Boolean).join(kind && t ? ", " : "") || "Message";
}

function serviceText(m) {
  const who = fullName(m.from);
  if (m.forum_topic_created) return `${who} created the topic «${m.forum_topic_created.name}»`;
  if (m.forum_topic_edited) {
    const e = m.forum_topic_edited;
    return e.name !== undefined ? `${who} renamed the topic to «${e.name}»` : `${who} changed the topic icon`;
  }
  if (m.forum_topic_closed) return `${who} closed the topic`;
  if (m.forum_topic_reopened) return `${who} reopened the topic`;
  if (m.general_forum_topic_hidden) return `${who} hid General`;
  if (m.general_forum_topic_unhidden) return `${who} unhid General`;
  if (m.pinned_message) return `${who} pinned «${summary(m.pinned_message)}»`;
  if (m.new_chat_members) return `${who} added ${m.new_chat_members.map(fullName).join(", ")}`;
  if (m.left_chat_member) return `${fullName(m.left_chat_member)} left the group`;
  if (m.new_chat_title) return `${who} changed the group name to «${m.new_chat_title}»`;
  return `${who}: ${Object.keys(m).find((k) => SERVICE_KEYS.includes(k))}`;
}

function fileUrl(id) {
  return `/control/file/${encodeURIComponent(id)}`;
}

// Sizes of the photos that loaded, so a re-render lays them out at once (no jumps).
const PHOTO_SIZES = new Map();

// A photo's image loaded: show it whole, remember its size, keep a chat that was
// scrolled to the bottom at the bottom.
function photoLoaded(img) {
  const src = img.getAttribute("src");
  const known = PHOTO_SIZES.has(src);
  PHOTO_SIZES.set(src, [img.naturalWidth, img.naturalHeight]);
  img.parentNode.classList.add("loaded");
  const chat = img.closest(".messages");
  if (!known && chat && chat.dataset.stick === "true") chat.scrollTop = chat.scrollHeight;
}

function tile(m, inAlbum) {
  if (m.photo) {
    // Sample photos are not images: the placeholder stays; a real one shows and opens full size.
    const big = m.photo[m.photo.length - 1] || {};
    const url = fileUrl(big.file_id);
    const known = PHOTO_SIZES.get(url);
    // Laid out as the loaded image would be: at most 260 px high, at most the bubble's width.
    const dims = known ? ` style="width:${Math.min(known[0], (260 * known[0]) / known[1])}px;aspect-ratio:${known[0]}/${known[1]}"` : "";
    return `<div class="tile photo${known ? " loaded" : ""}" aria-label="Photo" data-full="${url}">🖼<img alt="Photo" src="${url}"${dims} onload="photoLoaded(this)" onerror="this.remove()">${inAlbum ? "" : `<span class="tile-label">${big.width}×${big.height}</span>`}</div>`;
  }
  const v = m.video || m.animation;
  if (v) return `<div class="tile video" aria-label="Video">▶<span class="tile-label">${esc(m.animation ? "GIF" : `${v.duration || 0}s`)}</span></div>`;
  if (m.video_note) return `<div class="tile video round" aria-label="Video message">▶</div>`;
  return "";
}

function wave(seed, n) {
  let h = 0;
  for (const c of String(seed)) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  let bars = "";
  for (let i = 0; i < n; i++) {
    h = (h * 1103515245 + 12345) >>> 0;
    bars += `<i style="height:${4 + (h >>> 16) % 19}px"></i>`;
  }
  return bars;
}

// The content of one message (media first, then text or caption).
function content(m) {
  let h = "";
  if (m.photo || m.video || m.animation || m.video_note) h += `<div class="media">${tile(m)}</div>`;
  if (m.document && !m.animation) {
    const d = m.document;
    h += `<div class="doc"><div class="doc-icon" aria-hidden="true">📄</div><div><a class="doc-name" href="${fileUrl(d.file_id)}" target="_blank" rel="noopener">${esc(d.file_name || "file")}</a><div class="doc-size">${esc(size(d.file_size))} ${esc(d.mime_type || "")}</div></div></div>`;
  }
  if (m.audio) {
    const a = m.audio;
    h += `<div class="doc"><div class="doc-icon" aria-hidden="true">🎵</div><div><div class="doc-name">${esc([a.performer, a.title].filter(Boolean).join(" — ") || a.file_name || "Audio")}</div><div class="doc-size">${a.duration || 0}s · ${esc(size(a.file_size))}</div></div></div>`;
  }
  if (m.voice) {
    h += `<div class="voice" aria-label="Voice message"><div class="play" aria-hidden="true">▶</div><div class="wave">${wave(m.voice.file_unique_id, 28)}</div><span class="dur">0:${String(m.voice.duration || 0).padStart(2, "0")}</span></div>`;
  }
  if (m.sticker) h += `<div class="sticker" aria-label="Sticker">${esc(m.sticker.emoji || "🖼")}</div>`;
  if (m.dice) h += `<div class="dice" aria-label="Dice">${esc(m.dice.emoji)} <small>${m.dice.value}</small></div>`;
  if (m.venue) {
    h += `<div class="card"><div class="card-title">📍 ${esc(m.venue.title)}</div><div>${esc(m.venue.address)}</div></div>`;
  } else if (m.location) {
    h += `<div class="card"><div class="card-title">📍 Location</div><div>${m.location.latitude.toFixed(5)}, ${m.location.longitude.toFixed(5)}</div></div>`;
  }
  if (m.contact) {
    h += `<div class="card"><div class="card-title">👤 ${esc(fullName(m.contact))}</div><div>${esc(m.contact.phone_number || "")}</div></div>`;
  }
  if (m.poll) {
    const total = m.poll.total_voter_count || 0;
    h += `<div class="card poll"><div class="card-title">📊 ${esc(m.poll.question)}</div><div class="doc-size">${m.poll.is_anonymous === false ? "Public" : "Anonymous"} ${m.poll.type === "quiz" ? "quiz" : "poll"}</div>`;
    for (const o of m.poll.options || []) {
      const pct = total ? Math.round((100 * (o.voter_count || 0)) / total) : 0;
      h += `<div class="opt">${esc(o.text)} <small>${pct}%</small><div class="bar" style="width:${Math.max(pct, 2)}%"></div></div>`;
    }
    h += "</div>";
  }
  if (m.text !== undefined) h += `<div class="text">${richText(m.text, m.entities)}</div>`;
  else if (m.caption) h += `<div class="text">${richText(m.caption, m.caption_entities)}</div>`;
  if (!h) h = `<div class="text"><i>[${esc(Object.keys(m).filter((k) => !["message_id", "from", "chat", "date", "message_thread_id", "is_topic_message", "reply_to_message", "reactions"].includes(k)).join(", ") || "empty message")}]</i></div>`;
  return h;
}

function keyboard(m) {
  const rows = m.reply_markup && m.reply_markup.inline_keyboard;
  if (!rows || !rows.length) return "";
  let h = '<div class="keyboard">';
  for (const row of rows) {
    h += '<div class="row">';
    for (const b of row) {
      if (b.callback_data !== undefined) h += `<button type="button" data-press="${esc(b.callback_data)}" data-message-id="${m.message_id}">${esc(b.text)}</button>`;
      else if (b.url) h += `<button type="button" class="url" data-url="${esc(b.url)}">${esc(b.text)}</button>`;
      else h += `<button type="button" disabled title="${esc(Object.keys(b).filter((k) => k !== "text").join(", "))}">${esc(b.text)}</button>`;
    }
    h += "</div>";
  }
  return h + "</div>";
}

// ---------- rendering a chat ----------

// Groups consecutive messages of one album into one item.
function groupAlbums(msgs) {
  const items = [];
  for (const m of msgs) {
    const last = items[items.length - 1];
    if (m.media_group_id && last && last.album === m.media_group_id) last.msgs.push(m);
    else items.push({ album: m.media_group_id || null, msgs: [m] });
  }
  return items;
}

// opts: {me: id of "my" messages, names: show sender names, thread: topic id or null}
function renderChat(container, msgs, opts, mode) {
  const atBottom = container.scrollHeight - container.scrollTop - container.clientHeight < 80;
  const keep = container.scrollTop;
  let h = "";
  let day = "";
  for (const item of groupAlbums(msgs)) {
    const m = item.msgs[0];
    const d = dayLabel(m.date);
    if (d !== day) {
      h += `<div class="day">${esc(d)}</div>`;
      day = d;
    }
    h += isService(m) ? `<div class="service" data-message-id="${m.message_id}">${esc(serviceText(m))}</div>` : renderItem(item, opts, mode);
  }
  if (!msgs.length) h = `<div class="empty">${esc(opts.empty)}</div>`;
  container.innerHTML = h;
  container.scrollTop = atBottom || opts.jump ? container.scrollHeight : keep;
  container.dataset.stick = String(atBottom || !!opts.jump);
}

function renderItem(item, opts, mode) {
  const m = item.msgs[0];
  const last = item.msgs[item.msgs.length - 1];
  const from = m.from || {};
  const out = from.id === opts.me;
  const bot = !!from.is_bot;
  const intercepted = item.msgs.some(isIntercepted);
  const internal = item.msgs.some(isInternal);
  const cls = ["msg", out ? "out" : "in", bot ? "from-bot" : "from-person"];
  if (intercepted) cls.push("intercepted");
  if (internal) cls.push("internal");
  if (mode && item.msgs.some((x) => x.message_id === mode.id)) cls.push("selected");
  const ids = item.msgs.map((x) => x.message_id).join(" ");
  let h = `<div class="${cls.join(" ")}" data-message-id="${m.message_id}" data-message-ids="${ids}" data-from="${from.id}">`;
  h += '<div class="bubble">';
  if (opts.names && !out) {
    h += `<div class="sender" style="color:${nameColor(from.id)}">${esc(fullName(from))}${bot ? '<span class="badge">bot</span>' : ""}</div>`;
  }
  if (intercepted) h += '<div class="tag tag-intercepted">🤖 intercepted · sent by the bot\'s own backend</div>';
  if (internal) h += '<div class="tag tag-internal">🔒 Internal comment · not sent to the user</div>';
  const r = m.reply_to_message;
  // In a topic, a message that is not an explicit reply "replies" to the topic's creation message.
  if (r && !(m.message_thread_id && r.message_id === m.message_thread_id) && !isService(r)) {
    h += `<div class="quote" data-goto="${r.message_id}"><div class="qname">${esc(fullName(r.from))}</div><div class="qtext">${esc(summary(r))}</div></div>`;
  }
  if (item.album) {
    h += `<div class="album">${item.msgs.map((x) => tile(x, true)).join("")}</div>`;
    const cap = item.msgs.find((x) => x.caption);
    if (cap) h += `<div class="text">${richText(cap.caption, cap.caption_entities)}</div>`;
  } else {
    h += content(m);
  }
  const reactions = item.msgs.flatMap((x) => x.reactions || []);
  if (reactions.length) h += `<div class="reactions">${reactions.map((x) => `<span>${esc(x.emoji || "★")}</span>`).join("")}</div>`;
  const edited = item.msgs.some((x) => x.edit_date) ? '<span class="edited">edited</span>' : "";
  h += `<span class="meta">${edited}${hhmm(last.date)}${out ? " ✓✓" : ""}</span><div style="clear:both"></div></div>`;
  h += keyboard(last);
  const editable = out && (m.text !== undefined || m.caption !== undefined) && !item.album;
  h += `<div class="actions"><button type="button" data-act="reply" data-message-id="${m.message_id}">Reply</button>${editable ? `<button type="button" data-act="edit" data-message-id="${m.message_id}">Edit</button>` : ""}</div>`;
  return h + "</div>";
}

// ---------- world and selections ----------

function params() {
  return new URLSearchParams(location.search);
}

function fillSelect(sel, options, value) {
  const html = options.map((o) => `<option value="${o.value}">${esc(o.label)}</option>`).join("");
  if (sel.dataset.html !== html) {
    sel.innerHTML = html;
    sel.dataset.html = html;
  }
  sel.value = value == null ? "" : String(value);
}

function pick(current, ids, preferred) {
  if (current != null && ids.includes(current)) return current;
  return preferred != null && ids.includes(preferred) ? preferred : ids[0] ?? null;
}

function initial(name) {
  return (String(name || "?").replace(/^[^\p{L}\p{N}]+/u, "")[0] || "?").toUpperCase();
}

function groupOps(group) {
  return group ? group.members.filter((m) => !m.user.is_bot && !["left", "kicked"].includes(m.status)) : [];
}

function applyWorld(w) {
  const key = JSON.stringify(w);
  if (key === S.worldKey) return;
  S.worldKey = key;
  S.world = w;
  const q = params();
  const num = (k) => (q.get(k) ? Number(q.get(k)) : null);
  const groups = w.groups.filter((g) => g.is_forum).concat(w.groups.filter((g) => !g.is_forum));
  S.group = pick(S.group, groups.map((g) => g.id), num("group"));
  S.worldSeen = true;
  const group = groups.find((g) => g.id === S.group);
  const people = w.people;
  // By default the user on the left is someone outside the team (or at least no admin of it).
  const rank = (p) => Math.max(0, ...w.groups.flatMap((g) => g.members.filter((m) => m.user.id === p.id)
    .map((m) => (["creator", "administrator"].includes(m.status) ? 2 : 1))));
  const outsider = people.slice().sort((a, b) => rank(a) - rank(b))[0];
  S.user = pick(S.user, people.map((p) => p.id), num("user") ?? (outsider || {}).id);
  S.bot = pick(S.bot, w.bots.map((b) => b.id), num("bot"));
  const ops = groupOps(group);
  const creator = ops.find((m) => m.status === "creator");
  S.operator = pick(S.operator, ops.map((m) => m.user.id), num("operator") ?? (creator || {}).user?.id);

  fillSelect($("user-select"), people.map((p) => ({ value: p.id, label: `${fullName(p)}${p.username ? " @" + p.username : ""}` })), S.user);
  fillSelect($("bot-select"), w.bots.map((b) => ({ value: b.id, label: "@" + b.username })), S.bot);
  $("bot-select-label").hidden = w.bots.length < 2;
  fillSelect($("group-select"), groups.map((g) => ({ value: g.id, label: g.title })), S.group);
  $("group-select-label").hidden = groups.length < 2;
  fillSelect($("operator-select"), ops.map((m) => ({ value: m.user.id, label: `${fullName(m.user)}${m.status === "creator" ? " (owner)" : m.status === "administrator" ? " (admin)" : ""}` })), S.operator);

  const bot = w.bots.find((b) => b.id === S.bot);
  $("bot-title").textContent = bot ? bot.first_name : "No bot";
  $("bot-avatar").textContent = bot ? initial(bot.first_name) : "?";
  $("group-title").textContent = group ? group.title : "No forum group";
  $("group-avatar").textContent = group ? initial(group.title) : "?";
  $("group-subtitle").textContent = group ? `${group.members.filter((m) => !["left", "kicked"].includes(m.status)).length} members${group.is_forum ? " · topics" : ""}` : "start the emulator with --forum";
  updateBlock();
  updateOperator();
}

// The composer shows who writes: the operator's avatar and name.
function updateOperator() {
  const group = S.world && S.world.groups.find((g) => g.id === S.group);
  const op = groupOps(group).find((m) => m.user.id === S.operator);
  const av = $("operator-avatar");
  av.textContent = op ? initial(op.user.first_name) : "?";
  av.style.background = op ? nameColor(op.user.id) : "";
  av.parentNode.title = op ? `Writing as ${fullName(op.user)} (change)` : "Pick who writes";
  const who = op ? op.user.first_name : "an operator";
  $("operator-input").placeholder = `${S.topic != null ? "Answer" : "Message"} as ${who}`;
}

function blocked() {
  const p = S.world && S.world.privates.find((c) => c.bot === S.bot && c.user === S.user);
  return !!(p && p.blocked);
}

function updateBlock() {
  const b = blocked();
  const bot = S.world && S.world.bots.find((x) => x.id === S.bot);
  $("block-toggle").textContent = b ? "Unblock bot" : "Block bot";
  $("block-toggle").classList.toggle("blocked", b);
  $("block-toggle").setAttribute("aria-pressed", String(b));
  $("bot-subtitle").textContent = bot ? `@${bot.username} · bot${b ? " · blocked" : ""}` : "";
}

// ---------- narrow screens: one pane, and in the forum the list or one topic ----------

const NARROW = window.matchMedia("(max-width: 899px)");

function setView(view) {
  S.view = view;
  $("panes").dataset.view = view;
  for (const t of document.querySelectorAll("#switch [role=tab]")) t.setAttribute("aria-selected", String(t.dataset.view === view));
  updateUnread();
}

function setForum(mode) {
  S.forum = mode;
  $("group-pane").dataset.forum = mode;
}

// Counts messages that arrived in the pane a narrow screen hides, for its tab.
function updateUnread() {
  if (!S.loaded) return;
  for (const [side, msgs] of [["user", S.userMsgs], ["group", S.groupMsgs]]) {
    const newest = msgs.reduce((a, m) => Math.max(a, m.message_id), 0);
    if (S.seen[side] === null || !NARROW.matches || S.view === side) S.seen[side] = newest;
    const n = msgs.filter((m) => m.message_id > S.seen[side] && !isService(m)).length;
    const badge = $(`unread-${side}`);
    badge.hidden = !n;
    badge.textContent = n > 99 ? "99+" : String(n);
  }
}

// ---------- refresh ----------

let refreshing = null;
let again = false;
let timer = null;

function schedule() {
  if (!timer) timer = setTimeout(() => { timer = null; refresh(); }, 100);
}

async function refresh() {
  if (refreshing) {
    again = true;
    return refreshing;
  }
  refreshing = (async () => {
    try {
      applyWorld(await api("/control/world"));
      await Promise.all([refreshUser(), refreshGroup(), refreshCommands()]);
      S.loaded = true;
      updateUnread();
    } catch (e) {
      console.warn("refresh failed:", e.message); // the event stream reports outages
    }
  })();
  await refreshing;
  refreshing = null;
  if (again) {
    again = false;
    schedule();
  }
}

async function refreshUser(jump) {
  S.userMsgs = S.user && S.bot ? await api(`/control/transcript?bot=${S.bot}&user=${S.user}`) : [];
  const key = JSON.stringify([S.user, S.bot, S.userMsgs, S.userMode && S.userMode.id]);
  if (key === S.keys.user && !jump) return;
  S.keys.user = key;
  renderChat($("user-chat"), S.userMsgs, { me: S.user, names: false, jump, empty: "No messages here yet. Say hello or press Start." }, S.userMode);
}

async function refreshGroup(jump) {
  if (!S.group) {
    S.topics = [];
    S.groupMsgs = [];
  } else {
    [S.topics, S.groupMsgs] = await Promise.all([
      api(`/control/topics?chat_id=${S.group}`),
      api(`/control/transcript?chat_id=${S.group}&all=true`),
    ]);
  }
  const live = S.topics.filter((t) => !t.is_deleted);
  if (S.topic != null && !live.some((t) => t.message_thread_id === S.topic)) S.topic = null;
  renderTopics(live);
  const msgs = S.groupMsgs.filter((m) => (m.message_thread_id ?? null) === S.topic);
  const key = JSON.stringify([S.group, S.topic, S.operator, msgs, S.opMode && S.opMode.id]);
  if (key === S.keys.group && !jump) return;
  S.keys.group = key;
  const t = live.find((x) => x.message_thread_id === S.topic);
  $("topic-header").innerHTML = t ? `${esc(t.name)}${t.is_closed ? '<span class="closed-note">🔒 closed</span>' : ""}` : "General";
  updateOperator();
  renderChat($("group-chat"), msgs, { me: S.operator, names: true, jump, empty: S.group ? "No messages in this topic yet." : "No forum group in the emulator." }, S.opMode);
}

async function refreshCommands() {
  const [user, operator] = await Promise.all([
    S.user && S.bot ? api(`/control/commands?bot=${S.bot}&user=${S.user}`) : [],
    S.group && S.operator ? api(`/control/commands?chat_id=${S.group}&user=${S.operator}`) : [],
  ]);
  const key = JSON.stringify([user, operator]);
  if (key === S.keys.commands) return;
  S.keys.commands = key;
  S.commands = { user, operator };
  for (const side of ["user", "operator"]) {
    $(`${side}-slash`).hidden = !S.commands[side].length;
    updateMenu(side);
  }
}

function renderTopics(live) {
  const lastOf = new Map();
  // The newest message of each topic, preferring what people and bots wrote over service notes.
  for (const m of S.groupMsgs) {
    const k = m.message_thread_id ?? "general";
    if (!isService(m) || !lastOf.has(k) || isService(lastOf.get(k))) lastOf.set(k, m);
  }
  const sorted = live.slice().sort((a, b) => ((lastOf.get(b.message_thread_id) || {}).message_id || b.message_thread_id) - ((lastOf.get(a.message_thread_id) || {}).message_id || a.message_thread_id));
  const items = [{ general: true, message_thread_id: null, name: "General" }].concat(sorted);
  const key = JSON.stringify([items, S.topic, [...lastOf.values()].map((m) => [m.message_id, m.edit_date])]);
  if (key === S.keys.topics) return;
  S.keys.topics = key;
  $("topic-list").innerHTML = S.group ? items.map((t) => {
    const last = lastOf.get(t.general ? "general" : t.message_thread_id);
    const active = t.message_thread_id === S.topic;
    const emoji = ICONS[t.icon_custom_emoji_id];
    const icon = t.general ? '<span class="ticon general" aria-hidden="true">#</span>'
      : emoji ? `<span class="ticon" aria-hidden="true" style="font-size:20px">${emoji}</span>`
      : `<span class="ticon" aria-hidden="true" style="background:${color(t.icon_color)}">${esc(initial(t.name))}</span>`;
    const preview = last && !isService(last) ? `${esc(fullName(last.from).split(" ")[0])}: ${esc(summary(last))}` : last ? esc(summary(last)) : "";
    return `<button type="button" class="topic${active ? " active" : ""}${t.is_closed ? " closed" : ""}" data-thread-id="${t.general ? "general" : t.message_thread_id}" data-closed="${!!t.is_closed}" aria-current="${active}">
      ${icon}<span class="tbody"><span class="tname" data-title>${esc(t.name)}</span><span class="tlast">${preview}</span></span>
      <span class="tside">${last ? hhmm(last.date) : ""}${t.is_closed ? '<span class="lock" title="Closed">🔒</span>' : ""}</span></button>`;
  }).join("") : "";
}

// ---------- live updates ----------

let poller = null;

function setLive(on, why) {
  const l = $("live");
  l.className = "live " + (on ? "on" : "off");
  l.textContent = on ? "live" : why || "reconnecting…";
  if (on && poller) {
    clearInterval(poller);
    poller = null;
  } else if (!on && !poller) {
    poller = setInterval(refresh, 2000); // fallback while the event stream is down
  }
}

function connect() {
  if (!window.EventSource) return setLive(false, "polling");
  const es = new EventSource("/control/events");
  es.onopen = () => {
    setLive(true);
    schedule();
  };
  es.onmessage = () => schedule();
  es.onerror = () => setLive(false);
}

// ---------- the `/` command menu ----------

// Per composer: the menu's items, the highlighted one, and whether Escape dismissed it.
const MENU = { user: { items: [], active: 0, dismissed: false }, operator: { items: [], active: 0, dismissed: false } };

// The commands matching what is typed: `/` then letters, no space yet (null: no menu).
function menuItems(side) {
  const typed = /^\/([a-z0-9_]*)(@\w*)?$/i.exec($(`${side}-input`).value);
  if (!typed) return null;
  const all = S.commands[side];
  const several = new Set(all.map((c) => c.bot)).size > 1; // then commands name their bot, as in Telegram
  const q = typed[1].toLowerCase();
  return all
    .filter((c) => c.command.startsWith(q))
    .map((c) => ({ ...c, name: several ? `${c.command}@${c.bot}` : c.command }));
}

function updateMenu(side) {
  const m = MENU[side];
  const el = $(`${side}-menu`);
  const items = menuItems(side);
  if (!items) m.dismissed = false;
  if (!items || !items.length || m.dismissed) {
    el.hidden = true;
    m.items = [];
    return;
  }
  m.active = Math.max(0, Math.min(m.active, items.length - 1));
  const html = items.map((c, i) => `<button type="button" role="option" class="cmd${i === m.active ? " active" : ""}" aria-selected="${i === m.active}" data-command="${esc(c.name)}" tabindex="-1"><span class="cname">/${esc(c.name)}</span><span class="cdesc">${esc(c.description)}</span></button>`).join("");
  if (el.innerHTML !== html) el.innerHTML = html;
  m.items = items;
  el.hidden = false;
  const active = el.querySelector(".cmd.active");
  if (active) active.scrollIntoView({ block: "nearest" });
}

function menuOpen(side) {
  return !$(`${side}-menu`).hidden && MENU[side].items.length > 0;
}

// As in Telegram: choosing a command sends it; Tab only completes it (to add arguments).
function chooseCommand(side, name, complete) {
  const input = $(`${side}-input`);
  input.value = `/${name}${complete ? " " : ""}`;
  updateMenu(side);
  input.focus();
  if (!complete) submit(side);
}

// ---------- acting ----------

function editable(side, msg) {
  const me = side === "user" ? S.user : S.operator;
  return !!(msg && msg.from && msg.from.id === me && (msg.text !== undefined || msg.caption !== undefined) && !msg.media_group_id);
}

function modeBar(side) {
  const mode = side === "user" ? S.userMode : S.opMode;
  $(`${side}-mode`).hidden = !mode;
  $(`${side}-mode-edit`).hidden = !mode || mode.kind !== "reply" || !editable(side, mode.msg);
  if (mode) $(`${side}-mode-label`).textContent = `${mode.kind === "edit" ? "✎ Editing" : "↩ Reply to"} ${fullName(mode.msg.from)}: ${summary(mode.msg)}`;
}

function setMode(side, kind, id) {
  const msgs = side === "user" ? S.userMsgs : S.groupMsgs;
  const msg = msgs.find((m) => m.message_id === id);
  const mode = kind && msg ? { kind, id, msg } : null;
  const input = $(`${side}-input`);
  const prev = side === "user" ? S.userMode : S.opMode;
  if (side === "user") S.userMode = mode;
  else S.opMode = mode;
  if (mode && kind === "edit") input.value = msg.text ?? msg.caption ?? "";
  else if (prev && prev.kind === "edit") input.value = "";
  autosize(input);
  modeBar(side);
  input.focus();
  (side === "user" ? refreshUser : refreshGroup)().catch(() => {});
}

function userPlace() {
  return { from: S.user, bot: S.bot };
}

function opPlace() {
  const p = { from: S.operator, chat_id: S.group };
  if (S.topic != null) p.message_thread_id = S.topic;
  return p;
}

async function submit(side, extra) {
  const input = $(`${side}-input`);
  const mode = side === "user" ? S.userMode : S.opMode;
  const place = side === "user" ? userPlace() : opPlace();
  if (!place.from) return toast(side === "user" ? "Pick a user first" : "Pick an operator first");
  const text = input.value.trim();
  let ok;
  if (mode && mode.kind === "edit" && !extra) {
    if (!text) return;
    const field = mode.msg.text !== undefined ? "text" : "caption";
    ok = await act("/control/edit", { ...place, message_id: mode.id, [field]: text });
  } else {
    const body = { ...place, ...(extra || {}) };
    if (!extra) {
      if (!text) return;
      body.text = text;
    } else if (text && !body.media) {
      body.caption = text;
    } else if (text && body.media) {
      body.media[body.media.length - 1].caption = text;
    }
    if (mode && mode.kind === "reply") body.reply_to = mode.id;
    ok = await act("/control/send", body);
  }
  if (ok) {
    input.value = "";
    autosize(input);
    updateMenu(side);
    if (side === "user") S.userMode = null;
    else S.opMode = null;
    modeBar(side);
  }
  return ok;
}

function autosize(t) {
  t.style.height = "auto";
  if (t.value) t.style.height = Math.min(t.scrollHeight + 2, 140) + "px";
}

async function press(side, id, data) {
  const place = side === "user" ? userPlace() : opPlace();
  const cb = await act("/control/press", { ...place, message_id: id, data });
  if (!cb) return;
  toast("Button pressed, waiting for the bot…");
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 300));
    const answer = await api(`/control/callbacks/${cb}`).catch(() => null);
    if (answer) return toast(answer.text ? `${answer.show_alert ? "⚠ " : ""}${answer.text}` : "✓ The bot answered the button");
  }
  toast("The bot has not answered the button (yet)");
}

// ---------- sending a picked file ----------

let pending = null; // {side, file, url, image}

function readDataUrl(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result);
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

async function openUpload(side, file) {
  if (!file.size) return toast("⚠ The file is empty");
  if (file.size > MAX_UPLOAD) return toast(`⚠ ${file.name} is larger than 20 MB`);
  const image = /^image\/(jpeg|png|gif|webp)$/.test(file.type);
  const url = await readDataUrl(file).catch(() => null);
  if (!url) return toast(`⚠ Could not read ${file.name}`);
  pending = { side, file, url, image };
  $("upload-title").textContent = image ? "Send a photo" : "Send a file";
  $("upload-preview").innerHTML = image
    ? `<img id="upload-img" src="${url}" alt="${esc(file.name)}">`
    : `<div class="doc"><div class="doc-icon" aria-hidden="true">📄</div><div><div class="doc-name">${esc(file.name)}</div><div class="doc-size">${esc(size(file.size))} ${esc(file.type)}</div></div></div>`;
  $("upload-as-photo-label").hidden = !image;
  $("upload-as-photo").checked = image;
  $("upload-caption").value = $(`${side}-input`).value.trim(); // the typed text becomes the caption
  $("upload-send").disabled = false;
  $("upload").hidden = false;
  $("upload-caption").focus();
}

function closeUpload() {
  $("upload").hidden = true;
  $("upload-preview").innerHTML = "";
  const side = pending && pending.side;
  pending = null;
  if (side) $(`${side}-input`).focus();
}

// Uploads the file through the control API as the person acting on that side.
async function sendUpload() {
  if (!pending) return;
  const { side, file, url, image } = pending;
  const obj = { file_name: file.name, mime_type: file.type || "application/octet-stream", content_base64: url.slice(url.indexOf(",") + 1) };
  let extra;
  if (image && $("upload-as-photo").checked) {
    const img = $("upload-img");
    extra = { photo: obj };
    if (img && img.naturalWidth) Object.assign(extra, { width: img.naturalWidth, height: img.naturalHeight });
  } else {
    extra = { document: obj };
  }
  $("upload-send").disabled = true;
  const input = $(`${side}-input`);
  input.value = $("upload-caption").value;
  if (await submit(side, extra)) closeUpload();
  else $("upload-send").disabled = false;
}

// ---------- a photo at full size ----------

function openLightbox(url) {
  $("lightbox-img").src = url;
  $("lightbox-open").href = url;
  $("lightbox").hidden = false;
  $("lightbox-close").focus();
}

function closeLightbox() {
  $("lightbox").hidden = true;
  $("lightbox-img").removeAttribute("src");
}

// ---------- wiring ----------

function onChatClick(side, e) {
  const el = e.target;
  const url = el.closest("[data-url]");
  if (url) return window.open(url.dataset.url, "_blank", "noopener");
  const pr = el.closest("[data-press]");
  if (pr) return press(side, Number(pr.dataset.messageId), pr.dataset.press);
  const a = el.closest("[data-act]");
  if (a) return setMode(side, a.dataset.act, Number(a.dataset.messageId));
  const photo = el.closest(".tile.photo.loaded");
  if (photo) return openLightbox(photo.dataset.full);
  const goto = el.closest("[data-goto]");
  if (goto) {
    const target = e.currentTarget.querySelector(`[data-message-ids~="${goto.dataset.goto}"]`);
    if (target) target.scrollIntoView({ block: "center", behavior: "smooth" });
    return;
  }
  if (el.closest("a")) return;
  const msg = el.closest(".msg");
  if (msg) setMode(side, "reply", Number(msg.dataset.messageId));
}

function wire() {
  $("user-form").addEventListener("submit", (e) => { e.preventDefault(); submit("user"); });
  $("operator-form").addEventListener("submit", (e) => { e.preventDefault(); submit("operator"); });
  for (const side of ["user", "operator"]) {
    const input = $(`${side}-input`);
    input.addEventListener("keydown", (e) => {
      const m = MENU[side];
      if (menuOpen(side) && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
        e.preventDefault();
        m.active = (m.active + (e.key === "ArrowDown" ? 1 : m.items.length - 1)) % m.items.length;
        updateMenu(side);
      } else if (menuOpen(side) && (e.key === "Tab" || (e.key === "Enter" && !e.shiftKey))) {
        e.preventDefault();
        chooseCommand(side, m.items[m.active].name, e.key === "Tab");
      } else if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        submit(side);
      } else if (e.key === "Escape") {
        if (menuOpen(side)) {
          m.dismissed = true;
          updateMenu(side);
        } else {
          setMode(side, null);
        }
      }
    });
    input.addEventListener("input", () => {
      autosize(input);
      MENU[side].active = 0;
      updateMenu(side);
    });
    $(`${side}-menu`).addEventListener("mousedown", (e) => e.preventDefault()); // keep the input's focus
    $(`${side}-menu`).addEventListener("click", (e) => {
      const c = e.target.closest("[data-command]");
      if (c) chooseCommand(side, c.dataset.command, false);
    });
    $(`${side}-slash`).addEventListener("click", () => {
      const open = menuOpen(side);
      input.value = open ? "" : "/";
      MENU[side].dismissed = false;
      updateMenu(side);
      input.focus();
    });
    $(`${side}-mode-cancel`).addEventListener("click", () => setMode(side, null));
    $(`${side}-mode-edit`).addEventListener("click", () => {
      const mode = side === "user" ? S.userMode : S.opMode;
      if (mode) setMode(side, "edit", mode.id);
    });
    $(`${side}-attach`).addEventListener("click", () => $(`${side}-file`).click());
    $(`${side}-file`).addEventListener("change", (e) => {
      const f = e.target.files && e.target.files[0];
      e.target.value = "";
      if (f) openUpload(side, f);
    });
  }
  for (const chat of [$("user-chat"), $("group-chat")]) {
    chat.addEventListener("scroll", () => {
      chat.dataset.stick = String(chat.scrollHeight - chat.scrollTop - chat.clientHeight < 80);
    });
  }
  $("user-chat").addEventListener("click", (e) => onChatClick("user", e));
  $("group-chat").addEventListener("click", (e) => onChatClick("operator", e));
  $("user-photo").addEventListener("click", () => submit("user", { photo: true }));
  $("user-document").addEventListener("click", () => submit("user", {
    document: { file_name: "invoice.pdf", mime_type: "application/pdf", content: "%PDF-1.4 sample invoice #1042" },
  }));
  $("user-voice").addEventListener("click", () => submit("user", { voice: true, duration: 7 }));
  $("user-album").addEventListener("click", () => submit("user", { media: [{ type: "photo" }, { type: "photo" }, { type: "photo" }] }));
  $("start-send").addEventListener("click", async () => {
    const payload = $("start-payload").value.trim();
    if (await act("/control/send", { ...userPlace(), text: payload ? `/start ${payload}` : "/start" })) $("start-payload").value = "";
  });
  $("start-payload").addEventListener("keydown", (e) => {
    if (e.key === "Enter") $("start-send").click();
  });
  $("block-toggle").addEventListener("click", () => act("/control/block", { user: S.user, bot: S.bot, blocked: !blocked() }));
  const reselect = (side, f) => (e) => {
    f(Number(e.target.value));
    if (side === "user") {
      S.userMode = null;
      S.seen.user = null;
    } else {
      S.opMode = null;
    }
    modeBar(side);
    updateBlock();
    updateOperator();
    (side === "user" ? refreshUser : refreshGroup)(true).catch(() => {});
    refreshCommands().catch(() => {});
  };
  $("user-select").addEventListener("change", reselect("user", (v) => (S.user = v)));
  $("bot-select").addEventListener("change", reselect("user", (v) => (S.bot = v)));
  $("group-select").addEventListener("change", reselect("operator", (v) => { S.group = v; S.topic = null; S.seen.group = null; S.worldKey = ""; setForum("list"); refresh(); }));
  $("operator-select").addEventListener("change", reselect("operator", (v) => (S.operator = v)));
  $("topic-list").addEventListener("click", (e) => {
    const t = e.target.closest(".topic");
    if (!t) return;
    S.topic = t.dataset.threadId === "general" ? null : Number(t.dataset.threadId);
    S.opMode = null;
    modeBar("operator");
    setForum("topic");
    S.keys.topics = "";
    refreshGroup(true).catch(() => {});
  });
  $("topic-back").addEventListener("click", () => setForum("list"));
  for (const t of document.querySelectorAll("#switch [role=tab]")) t.addEventListener("click", () => setView(t.dataset.view));
  NARROW.addEventListener("change", updateUnread);

  $("upload-form").addEventListener("submit", (e) => { e.preventDefault(); sendUpload(); });
  $("upload-cancel").addEventListener("click", closeUpload);
  $("upload").addEventListener("click", (e) => { if (e.target === $("upload")) closeUpload(); });
  $("upload-caption").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      sendUpload();
    }
  });
  $("lightbox").addEventListener("click", (e) => { if (!e.target.closest("a")) closeLightbox(); });
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    if (!$("lightbox").hidden) closeLightbox();
    else if (!$("upload").hidden) closeUpload();
  });
}

// Deep links: ?user=&bot=&group=&operator= pick who acts, ?view=group shows the forum on a
// narrow screen, ?topic=ID opens a topic.
function start() {
  const q = params();
  if (q.get("topic")) {
    S.topic = Number(q.get("topic"));
    setForum("topic");
  }
  setView(q.get("view") === "group" || q.get("topic") ? "group" : "user");
  wire();
  refresh();
  connect();
}

start();

// The playground page: one tab = one user (id kept in sessionStorage), in one "guild" of its choice. Commands are
// POSTed to /api/input; everything the bot says arrives on this tab's SSE stream (/api/events). No framework.
'use strict';

const $ = (id) => document.getElementById(id);
const randomId = () => Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('');
const store = window.sessionStorage;
const remember = (key, make) => store.getItem(key) ?? (store.setItem(key, make()), store.getItem(key));

const me = {
  tabId: randomId(), // per page load: private answers go to this tab only
  userId: remember('imagine.userId', randomId),
  get userName() { return $('name').value.trim() || 'guest'; },
  get guildId() { return $('guild').validity.valid && $('guild').value ? $('guild').value : 'home'; },
  get admin() { return $('admin').checked; },
};
$('name').value = remember('imagine.userName', () => `guest-${me.userId.slice(0, 4)}`);
$('guild').value = remember('imagine.guild', () => 'home');
$('admin').checked = store.getItem('imagine.admin') === 'true';

const feed = $('feed');
const messages = new Map(); // message id → { el, version }
const history = [];
let historyAt = 0;
let stream;

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

// Follow new content like a chat does, unless the user scrolled up to read.
let following = true;
feed.addEventListener('scroll', () => {
  following = feed.scrollHeight - feed.scrollTop - feed.clientHeight < 120;
});
function follow() {
  if (following) feed.scrollTop = feed.scrollHeight;
}

function append(node) {
  $('intro')?.remove();
  feed.append(node);
  follow();
}

function image(src, width, height, extra) {
  const img = el('img', `image ${extra ?? ''}`);
  img.src = src;
  img.width = width;
  img.height = height;
  if (Math.max(width, height) < 256) img.classList.add('small');
  img.alt = '';
  img.addEventListener('load', follow);
  return img;
}

function buttonRows(rows) {
  const box = el('div', 'rows');
  for (const row of rows ?? []) {
    const line = el('div', 'row');
    for (const b of row) {
      const button = el('button', b.style, b.label);
      button.type = 'button';
      button.dataset.id = b.id;
      button.addEventListener('click', () => press(button));
      line.append(button);
    }
    box.append(line);
  }
  return box;
}

function avatar(name) {
  return el('div', 'avatar', (name || '?').trim().charAt(0).toUpperCase() || '?');
}

function renderJob(m) {
  const node = el('article', 'msg');
  node.dataset.id = m.id;
  node.dataset.job = m.jobId;
  node.dataset.state = m.state;
  node.dataset.owner = m.ownerId;
  node.append(avatar(m.ownerName));
  const body = el('div', 'body');
  const meta = el('div', 'meta');
  meta.append(el('b', '', m.ownerName ?? 'someone'));
  if (m.ownerId === me.userId) meta.append(el('span', 'tag', 'you'));
  if (m.parent) meta.append(el('span', 'tag', `${m.parent.action} of ${m.parent.jobId}`));
  meta.append(el('span', '', `job ${m.jobId}`));
  body.append(meta);
  const title = el('div', 'title', m.title + ' ');
  title.append(el('span', 'flags', m.flags));
  body.append(title);
  body.append(el('div', 'status', m.status));
  if (m.state === 'running') {
    const bar = el('progress');
    bar.max = m.totalSteps;
    bar.value = m.step;
    body.append(bar);
  }
  if (m.image) body.append(image(m.image.src, m.image.width, m.image.height, m.state === 'running' ? 'preview' : ''));
  for (const w of m.warnings ?? []) body.append(el('div', 'status', `⚠️ ${w}`));
  if (m.buttons.length) body.append(buttonRows(m.buttons));
  if (m.downloads?.length) {
    const links = el('div', 'downloads');
    m.downloads.forEach((href, i) => {
      const a = el('a', '', `image ${i + 1}`);
      a.href = href;
      a.download = `imagine-${m.jobId}-${i + 1}.png`;
      links.append(a);
    });
    body.append(links);
  }
  node.append(body);
  return node;
}

function upsert(m) {
  const known = messages.get(m.id);
  if (known && known.version > m.version) return;
  const node = renderJob(m);
  // Count preview frames per message: it shows (and lets tests check) that progress really streams.
  const previews = (known ? Number(known.el.dataset.previews) : 0) + (m.state === 'running' && m.image ? 1 : 0);
  node.dataset.previews = String(previews);
  if (known) {
    known.el.replaceWith(node);
    follow();
  } else {
    append(node);
  }
  messages.set(m.id, { el: node, version: m.version });
}

function say(m) {
  const node = el('article', `msg ephemeral ${m.tone === 'error' ? 'error' : ''}`);
  node.dataset.ephemeral = m.tone;
  node.append(avatar('✦'));
  const body = el('div', 'body');
  const meta = el('div', 'meta');
  meta.append(el('b', '', 'imagine-bot'), el('span', 'tag', 'only you can see this'));
  const dismiss = el('button', 'dismiss', 'dismiss');
  dismiss.type = 'button';
  dismiss.addEventListener('click', () => node.remove());
  meta.append(dismiss);
  body.append(meta, el('div', 'text', (m.tone === 'error' ? '⚠️ ' : '') + m.text));
  if (m.fields?.length) {
    const dl = el('dl', 'fields');
    for (const f of m.fields) dl.append(el('dt', '', f.name), el('dd', '', f.value));
    body.append(dl);
  }
  if (m.image) body.append(image(m.image.src, m.image.width, m.image.height));
  if (m.buttons?.length) body.append(buttonRows(m.buttons));
  node.append(body);
  append(node);
}

async function send(payload) {
  const response = await fetch('/api/input', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ tabId: me.tabId, userId: me.userId, userName: me.userName, guildId: me.guildId, admin: me.admin, ...payload }),
  }).catch((error) => ({ ok: false, json: async () => ({ error: { message: `The bot is not reachable (${error.message}). Is npm start still running?` } }) }));
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    say({ tone: 'error', text: body.error?.message ?? `The bot answered ${response.status}` });
  }
}

async function press(button) {
  button.disabled = true;
  await send({ button: button.dataset.id });
  setTimeout(() => (button.disabled = false), 1500);
}

function connect() {
  stream?.close();
  for (const { el: node } of messages.values()) node.remove();
  messages.clear();
  const url = `/api/events?tab=${encodeURIComponent(me.tabId)}&guild=${encodeURIComponent(me.guildId)}`;
  stream = new EventSource(url);
  stream.addEventListener('hello', (e) => {
    const hello = JSON.parse(e.data);
    $('model').textContent = `${hello.model.name} · ${hello.model.width}×${hello.model.height}`;
    $('model').className = 'model ok';
    // A new server process numbers versions from 1 again.
    for (const known of messages.values()) known.version = 0;
    hello.history.forEach(upsert);
    chips(hello.commands);
  });
  stream.addEventListener('message', (e) => upsert(JSON.parse(e.data)));
  stream.addEventListener('ephemeral', (e) => say(JSON.parse(e.data)));
  stream.addEventListener('bye', (e) => say({ tone: 'error', text: JSON.parse(e.data).reason }));
  stream.onerror = () => {
    $('model').textContent = 'reconnecting…';
    $('model').className = 'model down';
  };
}

function chips(commands) {
  const box = $('chips');
  box.replaceChildren();
  for (const c of commands) {
    const chip = el('button', '', `/${c.name}`);
    chip.type = 'button';
    chip.title = c.description;
    chip.addEventListener('click', () => {
      const input = $('text');
      input.value = `/${c.name} `;
      input.focus();
    });
    box.append(chip);
  }
}

$('composer').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $('text');
  const text = input.value.trim();
  if (!text) return;
  history.push(text);
  historyAt = history.length;
  input.value = '';
  following = true;
  follow();
  void send({ text });
});
$('text').addEventListener('keydown', (e) => {
  if (e.key !== 'ArrowUp' && e.key !== 'ArrowDown') return;
  historyAt = Math.max(0, Math.min(history.length, historyAt + (e.key === 'ArrowUp' ? -1 : 1)));
  e.target.value = history[historyAt] ?? '';
  e.preventDefault();
});
for (const b of document.querySelectorAll('.example')) {
  b.addEventListener('click', () => {
    $('text').value = b.dataset.text;
    $('text').focus();
  });
}
$('name').addEventListener('change', () => store.setItem('imagine.userName', me.userName));
$('admin').addEventListener('change', () => store.setItem('imagine.admin', String(me.admin)));
$('guild').addEventListener('change', () => {
  if (!$('guild').validity.valid) return;
  store.setItem('imagine.guild', me.guildId);
  connect();
});
$('who').addEventListener('submit', (e) => e.preventDefault());
connect();
$('text').focus();

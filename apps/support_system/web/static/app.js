// The desk's dashboard: plain JavaScript over the JSON API (docs/api-http.md).
// Views by location hash: #/queue, #/ticket/ID, #/tree; #setup=TOKEN is the
// first admin's one-time link. Live: one EventSource on /api/events (ticket
// changes; process reports, which redraw the tree at once).
'use strict';

const state = {
  me: null,          // {agent, role, csrf_token}
  tickets: new Map(), // id -> ticket, from the list and the event stream
  queue: 'all',
  agents: [],
  events: null,
  treeTimer: null,
  procSort: 'memory',
};

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function notice(text, info) {
  const n = $('#notice');
  n.textContent = text || '';
  n.className = info ? 'info' : '';
  n.hidden = !text;
}

// ---- the API --------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || ('HTTP ' + status));
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, body, headers) {
  const h = Object.assign({}, headers);
  if (body !== undefined) h['Content-Type'] = 'application/json';
  if (method !== 'GET' && state.me) h['X-CSRF-Token'] = state.me.csrf_token;
  const r = await fetch(path, {
    method, headers: h, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  if (!r.ok) {
    if (r.status === 401 && path !== '/api/session') signedOut();
    throw new ApiError(r.status, data);
  }
  return data;
}

// ---- signing in -------------------------------------------------------------------

function signedIn(me) {
  state.me = me;
  $('#me-name').textContent = me.agent;
  $('#me-role').textContent = me.role;
  $('#me').hidden = false;
  $('#nav').hidden = false;
  connectEvents();
  if (location.hash.startsWith('#setup=')) location.hash = '#/queue';
  route();
}

function signedOut() {
  state.me = null;
  if (state.events) state.events.close();
  state.events = null;
  $('#me').hidden = true;
  $('#nav').hidden = true;
  show(location.hash.startsWith('#setup=') ? 'setup' : 'sign-in');
}

async function start() {
  try {
    const me = await api('GET', '/api/session');
    if (me.agent) signedIn(me);
    else signedOut();
  } catch (e) {
    signedOut();
  }
}

$('#sign-in-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  try {
    const me = await api('POST', '/api/session', { name: f.name.value, password: f.password.value });
    f.reset();
    notice('');
    signedIn(me);
  } catch (e) {
    notice(e.message);
  }
});

$('#setup-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  const token = location.hash.slice('#setup='.length);
  try {
    const me = await api('POST', '/api/setup', { token, name: f.name.value, password: f.password.value });
    f.reset();
    notice('Welcome: you are the desk\'s first admin.', true);
    signedIn(me);
  } catch (e) {
    notice(e.message);
  }
});

$('#sign-out').addEventListener('click', async () => {
  try { await api('DELETE', '/api/session'); } catch (e) { /* signed out either way */ }
  signedOut();
});

// ---- views ------------------------------------------------------------------------

function show(view) {
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== 'view-' + view;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('current', a.id === 'nav-' + view);
  if (view !== 'tree' && state.treeTimer) {
    clearInterval(state.treeTimer);
    state.treeTimer = null;
  }
}

function route() {
  if (!state.me) return;
  const h = location.hash;
  const m = /^#\/ticket\/(\d+)$/.exec(h);
  if (m) showTicket(Number(m[1]));
  else if (h === '#/tree') showTree();
  else showQueue();
}
window.addEventListener('hashchange', route);

// ---- the queue --------------------------------------------------------------------

const QUEUES = [
  ['all', 'All', () => true],
  ['mine', 'Mine', (t) => t.agent === state.me.agent && t.status === 'assigned'],
  ['unassigned', 'Unassigned', (t) => t.status === 'open'],
  ['assigned', 'Assigned', (t) => t.status === 'assigned'],
  ['resolved', 'Resolved', (t) => t.status === 'resolved'],
  ['closed', 'Closed', (t) => t.status === 'closed'],
];

async function loadTickets() {
  const data = await api('GET', '/api/tickets?limit=1000');
  for (const t of data.tickets) keepNewest(t);
}

async function showQueue() {
  show('queue');
  try {
    await loadTickets();
  } catch (e) {
    notice(e.message);
  }
  renderQueue();
}

function renderQueue(changedId) {
  const all = [...state.tickets.values()].sort((a, b) => b.id - a.id);
  const bar = $('#queues');
  bar.replaceChildren(...QUEUES.map(([key, label, pred]) => el('button', {
    type: 'button', role: 'tab', 'aria-selected': String(state.queue === key), 'data-queue': key,
    onclick: () => { state.queue = key; renderQueue(); },
  }, label, el('span', { class: 'count' }, all.filter(pred).length))));
  const pred = QUEUES.find((q) => q[0] === state.queue)[2];
  const rows = all.filter(pred).map((t) => ticketRow(t, t.id === changedId));
  $('#tickets tbody').replaceChildren(...rows);
  $('#empty').hidden = rows.length > 0;
}

function ticketRow(t, changed) {
  const actions = el('td', { class: 'actions' });
  for (const b of actionButtons(t)) actions.append(b);
  return el('tr', { 'data-id': t.id, class: changed ? 'changed' : '' },
    el('td', {}, el('a', { href: '#/ticket/' + t.id }, '#' + t.id)),
    el('td', {}, t.description),
    el('td', {}, t.customer),
    el('td', {}, t.priority),
    el('td', {}, el('span', { class: 'status ' + t.status }, t.status)),
    el('td', {}, t.agent || '—'),
    actions);
}

// The workflow's buttons for t; each change names the version it saw.
function actionButtons(t) {
  const b = (label, action, body) => el('button', {
    type: 'button', 'data-action': action,
    onclick: () => act(t, action, body),
  }, label);
  switch (t.status) {
    case 'open': return [b('Assign to me', 'assign', { agent: state.me.agent }), b('Auto-assign', 'assign', {})];
    case 'assigned': return [b('Resolve', 'resolve', {})];
    case 'resolved': return [b('Close', 'close', {}), b('Reopen', 'reopen', {})];
    case 'closed': return [b('Reopen', 'reopen', {})];
    default: return [];
  }
}

async function act(t, action, body) {
  try {
    const data = await api('POST', '/api/tickets/' + t.id + '/' + action, body, { 'If-Match': '"' + t.version + '"' });
    state.tickets.set(data.ticket.id, data.ticket);
    notice('');
    refresh(data.ticket.id);
  } catch (e) {
    notice(e.message);
    if (e.body && e.body.ticket) {
      state.tickets.set(e.body.ticket.id, e.body.ticket);
      refresh(e.body.ticket.id);
    }
  }
}

$('#create-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  const body = { description: f.description.value, priority: f.priority.value };
  if (f.customer.value) body.customer = f.customer.value;
  try {
    const data = await api('POST', '/api/tickets', body);
    state.tickets.set(data.ticket.id, data.ticket);
    f.description.value = '';
    f.customer.value = '';
    notice('Ticket #' + data.ticket.id + ' created.', true);
    renderQueue(data.ticket.id);
  } catch (e) {
    notice(e.message);
  }
});

// Re-renders whatever shows ticket id.
function refresh(id) {
  if (!$('#view-queue').hidden) renderQueue(id);
  const m = /^#\/ticket\/(\d+)$/.exec(location.hash);
  if (m && Number(m[1]) === id && !$('#view-ticket').hidden) showTicket(id);
}

// ---- one ticket -------------------------------------------------------------------

async function showTicket(id) {
  show('ticket');
  let t;
  try {
    t = (await api('GET', '/api/tickets/' + id)).ticket;
    state.agents = (await api('GET', '/api/agents')).agents;
  } catch (e) {
    notice(e.message);
    return;
  }
  state.tickets.set(t.id, Object.assign({}, t, { history: undefined }));
  $('#ticket-title').textContent = '#' + t.id + ' ' + t.description;
  const fields = [['Status', t.status], ['Priority', t.priority], ['Customer', t.customer || '—'],
    ['Agent', t.agent || '—'], ['Created', new Date(t.created_at).toLocaleString()],
    ['Updated', new Date(t.updated_at).toLocaleString()], ['Version', t.version]];
  $('#ticket-fields').replaceChildren(...fields.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  $('#ticket-actions').replaceChildren(...actionButtons(t));
  const form = $('#assign-form');
  form.hidden = t.status !== 'open';
  form.agent.replaceChildren(...state.agents.map((a) =>
    el('option', { value: a.name }, a.name + (a.load === null ? '' : ' (' + a.load + ' assigned)'))));
  form.onsubmit = (ev) => { ev.preventDefault(); act(t, 'assign', { agent: form.agent.value }); };
  // The history, with the conversation: a reply's or a note's text under it.
  // The API answers its latest page; older entries load on demand.
  $('#ticket-history').replaceChildren(...t.history.map(historyItem));
  olderButton(t.id, t.history, t.history_older);
}

function historyItem(h) {
  const li = el('li', { class: h.kind || 'event' },
    new Date(h.at).toLocaleString() + ' — ' + h.who + (h.role ? ' (' + h.role + ')' : '') + ': ' + h.what);
  if (h.text) li.append(el('blockquote', {}, h.text));
  return li;
}

// "Load N older entries": the page before the first entry shown, put
// above it; hidden when the history starts there.
function olderButton(id, page, older) {
  const button = $('#history-older');
  button.hidden = !older || !page.length;
  if (button.hidden) return;
  button.textContent = 'Load older entries (' + older + ' more)';
  button.onclick = async () => {
    try {
      const t = (await api('GET', '/api/tickets/' + id + '?before=' + page[0].id)).ticket;
      $('#ticket-history').prepend(...t.history.map(historyItem));
      olderButton(id, t.history, t.history_older);
    } catch (e) {
      notice(e.message);
    }
  };
}

// ---- live updates -----------------------------------------------------------------

function connectEvents() {
  if (state.events) state.events.close();
  const es = new EventSource('/api/events');
  state.events = es;
  const live = $('#live');
  es.addEventListener('open', () => {
    live.textContent = 'live';
    live.classList.add('on');
  });
  // First on every (re)connection: the tickets as they are, so whatever
  // changed while the stream was down shows. A ticket keeps the highest
  // version seen (an event may come before or after the snapshot).
  es.addEventListener('snapshot', (ev) => {
    for (const t of JSON.parse(ev.data).tickets) keepNewest(t);
    if (!$('#view-queue').hidden) renderQueue();
  });
  es.addEventListener('error', () => {
    live.textContent = 'reconnecting';
    live.classList.remove('on');
  });
  // A process crashed, stopped or started: redraw the tree if it shows.
  es.addEventListener('process', () => {
    if (!$('#view-tree').hidden) loadTree();
  });
  es.addEventListener('ticket', (ev) => {
    const t = JSON.parse(ev.data);
    if (keepNewest(t)) refresh(t.id);
  });
}

// Stores t unless a newer version of it is known; true when stored.
function keepNewest(t) {
  const had = state.tickets.get(t.id);
  if (had && had.version > t.version) return false;
  state.tickets.set(t.id, t);
  return true;
}

// ---- the supervision tree ------------------------------------------------------------

function showTree() {
  show('tree');
  loadTree();
  if (!state.treeTimer) state.treeTimer = setInterval(loadTree, 1000);
}

async function loadTree() {
  try {
    const data = await api('GET', '/api/tree');
    $('#tree').replaceChildren(treeNode(data.tree));
    await loadProcesses();
  } catch (e) {
    // The web restarts with the Store (rest_for_one): try again next second.
  }
}

// The process table, like observer's: the top 20 by memory or queue.
async function loadProcesses() {
  const data = await api('GET', '/api/processes?limit=20&sort=' + state.procSort);
  const kb = (n) => (n / 1024).toFixed(1) + ' KiB';
  $('#processes tbody').replaceChildren(...data.processes.map((p) => {
    const kill = el('td', {});
    if (state.me && state.me.role === 'admin') {
      kill.append(el('button', { type: 'button', class: 'danger', onclick: () => kill(p) }, 'Kill'));
    }
    return el('tr', { 'data-pid': p.pid },
      el('td', { class: 'pid' }, p.pid), el('td', {}, p.name || '—'), el('td', {}, p.label),
      el('td', {}, p.status), el('td', {}, kb(p.memory)), el('td', {}, p.message_queue_len),
      el('td', {}, p.links), kill);
  }));
  $('#process-total').textContent = data.total + ' processes in all.';
}

for (const b of document.querySelectorAll('#view-tree [data-sort]')) {
  b.addEventListener('click', () => {
    state.procSort = b.dataset.sort;
    for (const o of document.querySelectorAll('#view-tree [data-sort]')) o.setAttribute('aria-selected', String(o === b));
    loadProcesses().catch((e) => notice(e.message));
  });
}

function treeNode(n) {
  const meta = [n.kind];
  if (n.status && n.status !== 'running') meta.push(n.status);
  if (n.restarts) meta.push(n.restarts + (n.restarts === 1 ? ' restart' : ' restarts'));
  if (n.note) meta.push(n.note);
  const row = el('span', { class: 'node', 'data-name': n.name },
    el('span', { class: 'name' }, n.name),
    el('span', { class: 'pid' }, n.pid),
    el('span', { class: 'meta' + (n.status === 'restarting' ? ' restarting' : '') }, meta.join(' · ')));
  if (state.me && state.me.role === 'admin' && n.pid && n.pid.startsWith('<')) {
    row.append(el('button', {
      type: 'button', class: 'danger', 'data-kill': n.pid,
      onclick: () => kill(n),
    }, 'Kill'));
  }
  const li = el('li', {}, row);
  if (n.children && n.children.length) li.append(el('ul', {}, ...n.children.map(treeNode)));
  return li;
}

// n: a tree node or a process table row (both have pid; a name or a label).
async function kill(n) {
  const what = n.name || n.label || 'process';
  try {
    await api('POST', '/api/processes/' + encodeURIComponent(n.pid) + '/kill');
    notice('Killed ' + what + ' ' + n.pid + '; watch its supervisor restart it.', true);
  } catch (e) {
    notice(e.message);
  }
  loadTree();
}

start();

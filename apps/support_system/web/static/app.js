// The desk's dashboard: plain JavaScript over the JSON API (docs/api-http.md).
// Views by location hash: #/queue, #/ticket/ID, #/agents, #/tree; #setup=TOKEN
// is the first admin's one-time link. The queue is a page of the server's
// list (its filters, search, order and pages) with the server's queue counts.
// Live: one EventSource on /api/events (ticket changes, which reload the page
// shown; SLA breaches, which also say so in the notice; process reports, which
// redraw the tree at once).
'use strict';

const state = {
  me: null,          // {agent, role, csrf_token}
  tickets: new Map(), // id -> ticket, from the list and the event stream
  queue: 'all',
  list: { search: '', sort: 'newest', page: 1 }, // the queue's page
  rows: [],          // the ids on the page shown
  more: false,       // whether a next page exists
  counts: null,      // GET /api/queues
  reloading: null,   // the page's reload in flight
  reloadAgain: false,
  agents: [],
  events: null,
  treeTimer: null,
  agentsTimer: null, // the Agents page's: re-read every second while it shows
  topPid: null,      // the top supervisor's pid, from the last tree
  ticketShown: null, // the id of the ticket whose page is drawn
  noticeAt: '',      // the location hash the notice was given on
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
  state.noticeAt = location.hash;
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
    // The session is gone (signed out elsewhere, expired, the agent
    // deactivated, renamed or given a new password): the sign-in view,
    // saying so in words, not the API's.
    if (r.status === 401 && path !== '/api/session') {
      sessionEnded();
      throw new ApiError(r.status, { code: 'not_signed_in', message: SESSION_ENDED });
    }
    throw new ApiError(r.status, data);
  }
  return data;
}

// A change through change() carries an Idempotency-Key (docs/api-http.md).
// One whose outcome is unknown (504 outcome_unknown, or no answer at all)
// keeps its key, so the same change tried again (the same path and
// fields) is made at most once, however often it is clicked; any other
// answer ends the key.
const retryKeys = new Map();

function newKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

async function change(path, body, headers) {
  const what = path + ' ' + JSON.stringify(body === undefined ? null : body);
  const key = retryKeys.get(what) || newKey();
  try {
    const data = await api('POST', path, body, Object.assign({ 'Idempotency-Key': key }, headers));
    retryKeys.delete(what);
    return data;
  } catch (e) {
    if (e.status === 504 || e.status === undefined) retryKeys.set(what, key);
    else retryKeys.delete(what);
    throw e;
  }
}

// A form's buttons (or an action group's: a row's, the ticket's) are
// disabled while its request is in flight, and come back with the answer
// or the failure: a second click (a double-click, an impatient Enter)
// sends nothing, where it would make a second ticket, or be refused as a
// conflict with the first. group: a form, an element holding buttons, or
// one button; work: what the click does. Every form and action button
// goes through here (submitted, clicked).
async function inFlight(group, work) {
  if (group.busy) return undefined;
  group.busy = true;
  const buttons = group.matches('button') ? [group] : [...group.querySelectorAll('button')];
  const off = buttons.filter((b) => !b.disabled);
  const focused = document.activeElement;
  for (const b of off) b.disabled = true;
  try {
    return await work();
  } finally {
    group.busy = false;
    for (const b of off) b.disabled = false;
    // A button pressed from the keyboard keeps the focus it had.
    if (off.includes(focused) && focused.isConnected && document.activeElement === document.body) focused.focus();
  }
}

// A submit handler for form: work(form), in flight as above.
function submitted(form, work) {
  return (ev) => {
    ev.preventDefault();
    return inFlight(form, () => work(form));
  };
}

// A click handler for a button: work(), with the buttons of the group
// around it (its .actions) disabled while in flight.
function clicked(work) {
  return (ev) => {
    const b = ev.currentTarget;
    return inFlight(b.closest('.actions') || b, work);
  };
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

const SESSION_ENDED = 'You were signed out (your session ended). Sign in again.';

// The page finds its session gone: the sign-in view at once, with a notice.
function sessionEnded() {
  if (!state.me) return;
  signedOut();
  notice(SESSION_ENDED);
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

$('#sign-in-form').addEventListener('submit', submitted($('#sign-in-form'), async (f) => {
  try {
    // A name is sent without the spaces typed around it (a password as typed).
    const me = await api('POST', '/api/session', { name: f.name.value.trim(), password: f.password.value });
    f.reset();
    notice('');
    signedIn(me);
  } catch (e) {
    notice(e.message);
  }
}));

$('#setup-form').addEventListener('submit', submitted($('#setup-form'), async (f) => {
  const token = location.hash.slice('#setup='.length);
  try {
    const me = await api('POST', '/api/setup', { token, name: f.name.value.trim(), password: f.password.value });
    f.reset();
    signedIn(me); // to the queue: the notice below is the queue's
    notice('Welcome: you are the desk\'s first admin.', true);
  } catch (e) {
    notice(e.message);
  }
}));

$('#sign-out').addEventListener('click', clicked(async () => {
  try { await api('DELETE', '/api/session'); } catch (e) { /* signed out either way */ }
  signedOut();
}));

// ---- views ------------------------------------------------------------------------

function show(view) {
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== 'view-' + view;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('current', a.id === 'nav-' + view);
  if (view !== 'tree' && state.treeTimer) {
    clearInterval(state.treeTimer);
    state.treeTimer = null;
  }
  if (view !== 'agents' && state.agentsTimer) {
    clearInterval(state.agentsTimer);
    state.agentsTimer = null;
  }
}

function route() {
  if (!state.me) return;
  const h = location.hash;
  const m = /^#\/ticket\/(\d+)$/.exec(h);
  if (m && !Number.isSafeInteger(Number(m[1]))) noTicket(m[1]);
  else if (m) showTicket(Number(m[1]));
  else if (h === '#/tree') showTree();
  else if (h === '#/agents') showAgents();
  else showQueue();
}
// A notice is about the view it was given on: another view clears it.
window.addEventListener('hashchange', () => {
  if (location.hash !== state.noticeAt) notice('');
  route();
});

// ---- the queue --------------------------------------------------------------------

// Each tab is a query of the list; those the server counts show their count.
const PAGE_SIZE = 25;
const QUEUES = [
  ['all', 'All', ''],
  ['mine', 'Mine', 'queue=mine'],
  ['unassigned', 'Unassigned', 'queue=unassigned'],
  ['open', 'Open', 'queue=open'],
  ['pending', 'Pending', 'queue=pending'],
  ['overdue', 'Overdue', 'queue=overdue'],
  ['resolved', 'Resolved', 'status=resolved'],
  ['closed', 'Closed', 'status=closed'],
];

function listQuery() {
  const q = new URLSearchParams(QUEUES.find((x) => x[0] === state.queue)[2]);
  if (state.list.search) q.set('search', state.list.search);
  q.set('sort', state.list.sort);
  q.set('page', state.list.page);
  q.set('limit', PAGE_SIZE);
  return q.toString();
}

// Loads the page shown and the queues' counts; a reload asked for while one
// is in flight runs once more after it, so the last change always shows.
function loadQueue(changedId) {
  if (state.reloading) {
    state.reloadAgain = true;
    return state.reloading;
  }
  state.reloading = (async () => {
    try {
      const [list, queues] = await Promise.all([
        api('GET', '/api/tickets?' + listQuery()), api('GET', '/api/queues')]);
      for (const t of list.tickets) keepNewest(t);
      state.rows = list.tickets.map((t) => t.id);
      state.more = list.more;
      state.counts = queues.queues;
      renderQueue(changedId);
    } catch (e) {
      notice(e.message);
    }
  })();
  return state.reloading.finally(() => {
    state.reloading = null;
    if (state.reloadAgain) {
      state.reloadAgain = false;
      if (!$('#view-queue').hidden) loadQueue(changedId);
    }
  });
}

async function showQueue() {
  show('queue');
  await loadQueue();
}

function renderQueue(changedId) {
  const bar = $('#queues');
  bar.replaceChildren(...QUEUES.map(([key, label]) => {
    const counted = state.counts && key in state.counts;
    return el('button', {
      type: 'button', role: 'tab', 'aria-selected': String(state.queue === key), 'data-queue': key,
      onclick: () => { state.queue = key; state.list.page = 1; loadQueue(); },
    }, label, ...(counted ? [el('span', { class: 'count' }, state.counts[key])] : []));
  }));
  const rows = state.rows.map((id) => state.tickets.get(id)).filter(Boolean)
    .map((t) => ticketRow(t, t.id === changedId));
  $('#tickets tbody').replaceChildren(...rows);
  $('#empty').hidden = rows.length > 0;
  $('#page-info').textContent = 'Page ' + state.list.page;
  $('#page-prev').disabled = state.list.page <= 1;
  $('#page-next').disabled = !state.more;
}

$('#list-form').addEventListener('submit', submitted($('#list-form'), (f) => {
  state.list.search = f.search.value.trim();
  state.list.sort = f.sort.value;
  state.list.page = 1;
  return loadQueue();
}));
$('#list-form select[name=sort]').addEventListener('change', (ev) => {
  state.list.sort = ev.target.value;
  state.list.page = 1;
  loadQueue();
});
$('#page-prev').addEventListener('click', () => {
  if (state.list.page > 1) { state.list.page--; loadQueue(); }
});
$('#page-next').addEventListener('click', () => {
  if (state.more) { state.list.page++; loadQueue(); }
});

function ticketRow(t, changed) {
  const actions = el('td', { class: 'actions' });
  for (const b of actionButtons(t, true)) actions.append(b);
  const cls = [changed ? 'changed' : '', t.overdue ? 'overdue' : ''].filter(Boolean).join(' ');
  return el('tr', { 'data-id': t.id, class: cls },
    el('td', {}, el('a', { href: '#/ticket/' + t.id }, '#' + t.id)),
    el('td', {}, t.description),
    el('td', {}, t.customer || '—'),
    el('td', {}, t.priority),
    el('td', {}, el('span', { class: 'status ' + t.status }, t.status),
      ...(t.overdue ? [' ', el('span', { class: 'badge-overdue', title: 'resolution was due '
        + new Date(t.due_at || t.breached_at).toLocaleString() }, 'overdue')] : [])),
    el('td', {}, t.agent || '—'),
    actions);
}

// The workflow's one-click buttons for t (the queue shows the common ones;
// the ticket's page every one, with forms for those that need a field).
// Each change names the version it saw.
function actionButtons(t, short) {
  const b = (label, action, body) => el('button', {
    type: 'button', 'data-action': action + (body && body.agent ? '-me' : ''),
    onclick: clicked(() => act(t, action, body)),
  }, label);
  const mine = t.agent === state.me.agent;
  switch (t.status) {
    case 'open': return [b('Assign to me', 'assign', { agent: state.me.agent }), b('Auto-assign', 'assign', {})];
    case 'assigned': return short ? [b('Resolve', 'resolve', {})]
      : [b('Resolve', 'resolve', {}), b('Pend', 'pend', {}), b('Unassign', 'unassign', {}),
        ...(mine ? [] : [b('Reassign to me', 'reassign', { agent: state.me.agent })])];
    case 'pending': return short ? [b('Resume', 'resume', {})]
      : [b('Resume', 'resume', {}), b('Resolve', 'resolve', {}), b('Unassign', 'unassign', {})];
    case 'resolved': return [b('Close', 'close', {}), b('Reopen', 'reopen', {})];
    case 'closed': return [b('Reopen', 'reopen', {})];
    default: return [];
  }
}

async function act(t, action, body) {
  try {
    const data = await change('/api/tickets/' + t.id + '/' + action, body, { 'If-Match': '"' + t.version + '"' });
    state.tickets.set(data.ticket.id, data.ticket);
    notice('');
    // Redrawn before the buttons come back: a click meanwhile would name
    // the version just replaced.
    await refresh(data.ticket.id);
    return true;
  } catch (e) {
    // The desk's message for a close without a reason gives the console's
    // syntax (close ID REASON): the page says where the reason goes.
    if (e.body && e.body.code === 'reason_required') {
      notice('A ticket that is ' + t.status + ' is closed only with a reason: type one in'
        + ' "Reason for closing" (duplicate, spam, ...) and click Close.');
    } else notice(e.message);
    if (e.body && e.body.ticket) {
      state.tickets.set(e.body.ticket.id, e.body.ticket);
      await refresh(e.body.ticket.id);
    }
    return false;
  }
}

$('#create-form').addEventListener('submit', submitted($('#create-form'), async (f) => {
  const body = { description: f.description.value, priority: f.priority.value };
  // A customer is a name: the desk refuses one that begins or ends with a space.
  const customer = f.customer.value.trim();
  if (customer) body.customer = customer;
  try {
    const data = await change('/api/tickets', body);
    state.tickets.set(data.ticket.id, data.ticket);
    f.description.value = '';
    f.customer.value = '';
    notice('Ticket #' + data.ticket.id + ' created.', true);
    loadQueue(data.ticket.id);
  } catch (e) {
    notice(e.message);
  }
}));

// Re-renders whatever shows ticket id; resolves when it is drawn.
function refresh(id) {
  const drawn = [];
  if (!$('#view-queue').hidden) drawn.push(loadQueue(id));
  const m = /^#\/ticket\/(\d+)$/.exec(location.hash);
  if (m && Number(m[1]) === id && !$('#view-ticket').hidden) drawn.push(showTicket(id));
  return Promise.all(drawn);
}

// ---- one ticket -------------------------------------------------------------------

// The SLA's state (docs/desk.md): when the ticket is due, paused while
// pending, or stopped; and whether it breached.
function slaText(t) {
  const when = (iso) => new Date(iso).toLocaleString();
  const breach = t.breached ? ' — breached at ' + when(t.breached_at) : '';
  if (t.due_at) return when(t.due_at) + breach;
  if (t.sla_left_s !== null && t.sla_left_s !== undefined) {
    const left = t.sla_left_s <= 0 ? 'past due'
      : t.sla_left_s < 60 ? 'under a minute left' : Math.round(t.sla_left_s / 60) + ' min left';
    return 'paused while pending (' + left + ')' + breach;
  }
  return (t.breached ? 'stopped' : '—') + breach;
}

// A ticket number past what a page can hold exactly (2^53): no ticket
// has it, and it is named as written (as a number it would be rounded:
// 99999999999999999999 to 100000000000000000000).
function noTicket(text) {
  show('ticket');
  $('#ticket-body').hidden = true;
  state.ticketShown = null;
  notice('there is no ticket ' + text);
}

async function showTicket(id) {
  show('ticket');
  let t;
  try {
    t = (await api('GET', '/api/tickets/' + id)).ticket;
    state.agents = (await api('GET', '/api/agents')).agents;
  } catch (e) {
    // No ticket, or another ticket's page drawn before: nothing to act on.
    // (The same ticket's page stays while the desk cannot answer.)
    if (e.status === 404 || state.ticketShown !== id) {
      $('#ticket-body').hidden = true;
      state.ticketShown = null;
    }
    notice(e.message);
    return;
  }
  // Another ticket than the one drawn before: what was typed for that one
  // (a reply, a note, a reason, an agent picked) is not this one's. A
  // redraw of the same ticket (a live change) keeps it.
  if (state.ticketShown !== id) {
    for (const sel of ['#reply-form', '#note-form', '#close-form', '#assign-form']) $(sel).reset();
  }
  state.ticketShown = id;
  $('#ticket-body').hidden = false;
  state.tickets.set(t.id, Object.assign({}, t, { history: undefined }));
  $('#ticket-title').textContent = '#' + t.id + ' ' + t.description;
  const fields = [['Status', t.status], ['Priority', t.priority], ['Customer', t.customer || '—'],
    ['Agent', t.agent || '—'], ['Created', new Date(t.created_at).toLocaleString()],
    ['Updated', new Date(t.updated_at).toLocaleString()], ['Version', t.version],
    ['Resolution due', slaText(t)]];
  $('#ticket-fields').replaceChildren(...fields.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  $('#ticket-actions').replaceChildren(...actionButtons(t, false));
  // Assign (open) or reassign (assigned, pending) to an agent picked by
  // name. Nobody is picked until someone is: a redraw keeps the pick while
  // that agent is still offered, and never picks one by itself (the first
  // on the roster would be given the ticket by a click on Reassign).
  const form = $('#assign-form');
  const held = t.status === 'assigned' || t.status === 'pending';
  form.hidden = t.status !== 'open' && !held;
  form.go.textContent = held ? 'Reassign' : 'Assign';
  const keep = form.agent.value;
  const offered = state.agents.filter((a) => a.active && a.name !== t.agent);
  form.agent.replaceChildren(el('option', { value: '' }, 'choose an agent'), ...offered.map((a) =>
    el('option', { value: a.name }, a.name + (a.load === null ? '' : ' (' + a.load + ' assigned)'))));
  form.agent.value = offered.some((a) => a.name === keep) ? keep : '';
  form.onsubmit = submitted(form, async () => {
    if (!form.agent.value) {
      notice('Choose an agent to ' + (held ? 'reassign' : 'assign') + ' the ticket to.');
      return;
    }
    if (await act(t, held ? 'reassign' : 'assign', { agent: form.agent.value })) form.reset();
  });
  // Close, with a reason unless resolved (the desk says when one is needed).
  const close = $('#close-form');
  close.hidden = t.status === 'closed' || t.status === 'resolved';
  // A closed ticket is not edited and takes no replies, only notes (the
  // workflow, docs/desk.md); it can be reopened.
  $('#edit').hidden = t.status === 'closed';
  $('#reply-form').hidden = t.status === 'closed';
  close.onsubmit = submitted(close, async () => {
    const body = close.reason.value.trim() ? { reason: close.reason.value.trim() } : {};
    if (await act(t, 'close', body)) close.reset();
  });
  // The edit form: while someone types in it, a redraw (a live change)
  // keeps what they typed and the ticket it was filled from (edit.base).
  // A save sends the fields that differ from that ticket, under its
  // version, so an edit made meanwhile by someone else is a conflict that
  // names them, never undone by the fields this form still held.
  const edit = $('#edit-form');
  if (!edit.dirty || !edit.base || edit.base.id !== t.id) {
    edit.dirty = false;
    edit.base = t;
    edit.description.value = t.description;
    edit.customer.value = t.customer;
    edit.priority.value = t.priority;
  }
  edit.oninput = () => { edit.dirty = true; };
  edit.onsubmit = submitted(edit, async () => {
    const base = edit.base, body = {};
    if (edit.description.value !== base.description) body.description = edit.description.value;
    const customer = edit.customer.value.trim();
    if (customer !== base.customer) body.customer = customer;
    if (edit.priority.value !== base.priority) body.priority = edit.priority.value;
    if (!Object.keys(body).length) { notice('Nothing to save: change a field first.'); return; }
    // Done: the form starts again from the ticket as it is. Refused
    // because the ticket moved on (the notice names who changed it and
    // how): what was typed stays, the fields not typed in show the ticket
    // as it is, and that is the version the next Save is against, made
    // by someone who has seen the notice. A field the desk refused stays
    // as typed, to be corrected.
    const done = await act(base, 'edit', body);
    const now = state.tickets.get(base.id);
    if (done) {
      edit.dirty = false;
      if (state.ticketShown === base.id) await showTicket(base.id);
    } else if (now && now.version !== base.version && edit.base === base) {
      for (const k of ['description', 'customer', 'priority']) {
        if (!(k in body)) edit[k].value = now[k];
      }
      edit.base = now;
    }
  });
  for (const [sel, action] of [['#reply-form', 'reply'], ['#note-form', 'note']]) {
    const f = $(sel);
    f.onsubmit = submitted(f, async () => {
      if (await act(t, action, { text: f.text.value })) f.reset();
    });
  }
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
  button.onclick = clicked(async () => {
    try {
      const t = (await api('GET', '/api/tickets/' + id + '?before=' + page[0].id)).ticket;
      $('#ticket-history').prepend(...t.history.map(historyItem));
      olderButton(id, t.history, t.history_older);
    } catch (e) {
      notice(e.message);
    }
  });
}

// ---- agents -------------------------------------------------------------------------

// The roster changes without ticket events (an agent added or made
// unavailable at the console, a load moved by an assignment): the page
// reads it again every second while it shows, as the tree does.
async function showAgents() {
  show('agents');
  await loadAgents();
  if (!state.agentsTimer) state.agentsTimer = setInterval(() => loadAgents(true), 1000);
}

// quiet: a periodic read, which says nothing when the desk cannot answer
// (the next one tries again), and leaves the table as it is while a
// rename is being typed in it.
async function loadAgents(quiet) {
  try {
    state.agents = (await api('GET', '/api/agents')).agents;
  } catch (e) {
    if (!quiet) notice(e.message);
    return;
  }
  const typing = [...document.querySelectorAll('#agents form.rename input')]
    .some((i) => i.value || i === document.activeElement);
  if (quiet && typing) return;
  // A name typed in a rename box stays through the redraw (a refused
  // rename keeps it, to be corrected), as long as its agent has that name.
  const typed = new Map();
  let focused = null;
  for (const i of document.querySelectorAll('#agents tr[data-agent] form.rename input')) {
    const who = i.closest('tr').dataset.agent;
    if (i.value) typed.set(who, i.value);
    if (i === document.activeElement) focused = who;
  }
  const admin = state.me.role === 'admin';
  $('#agent-admin').hidden = !admin;
  $('#agents tbody').replaceChildren(...state.agents.map((a) => {
    const actions = el('td', { class: 'actions' });
    if (admin) {
      const b = (label, action, body) => el('button', {
        type: 'button', 'data-action': action, onclick: clicked(() => agentAct(a, action, body)),
      }, label);
      // An admin does not deactivate themselves (the API refuses: they
      // could no longer sign in).
      if (!a.active) actions.append(b('Activate', 'activate'));
      else if (a.name !== state.me.agent) actions.append(b('Deactivate', 'deactivate'));
      actions.append(a.available ? b('Make unavailable', 'unavailable') : b('Make available', 'available'));
      const rename = el('form', { class: 'inline rename' },
        el('input', { name: 'name', required: '', maxlength: '64', 'aria-label': 'New name for ' + a.name }),
        el('button', { type: 'submit', 'data-action': 'rename' }, 'Rename'));
      rename.addEventListener('submit', submitted(rename, () => agentAct(a, 'rename', { name: rename.name.value.trim() })));
      actions.append(rename);
    }
    return el('tr', { 'data-agent': a.name },
      el('td', {}, a.name), el('td', {}, a.role || '—'), el('td', {}, a.load === null ? '—' : a.load),
      el('td', {}, a.active ? 'active' : 'deactivated'), el('td', {}, a.available ? 'available' : 'unavailable'),
      actions);
  }));
  for (const r of document.querySelectorAll('#agents tr[data-agent]')) {
    const i = r.querySelector('form.rename input');
    if (!i) continue;
    if (typed.has(r.dataset.agent)) i.value = typed.get(r.dataset.agent);
    if (focused === r.dataset.agent) i.focus();
  }
}

async function agentAct(a, action, body) {
  try {
    const data = await change('/api/agents/' + encodeURIComponent(a.name) + '/' + action, body);
    let text = a.name + ' is ' + action + 'd.'; // activated, deactivated
    if (action === 'rename') text = a.name + ' is now ' + data.agent.name + '.';
    else if (action === 'available' || action === 'unavailable') text = a.name + ' is ' + action + '.';
    if (data.open_tickets && data.open_tickets.length) {
      text += ' Open tickets to reassign: ' + data.open_tickets.map((t) => '#' + t.id).join(', ') + '.';
    }
    notice(text, true);
  } catch (e) {
    notice(e.message);
  }
  await loadAgents();
}

$('#agent-add-form').addEventListener('submit', submitted($('#agent-add-form'), async (f) => {
  const body = { name: f.name.value.trim() };
  if (f.password.value) { body.password = f.password.value; body.role = f.role.value; }
  try {
    await change('/api/agents', body);
    f.reset();
    notice('Agent ' + body.name + ' added.', true);
  } catch (e) {
    notice(e.message);
  }
  await loadAgents();
}));

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
  // First on a new connection, and on a reconnection that cannot resume
  // (the browser sends Last-Event-ID; a resumed one gets the events it
  // missed instead): the tickets as they are, so whatever changed while the
  // stream was down shows. A ticket keeps the highest version seen (an
  // event after the snapshot may hold a change it has already).
  es.addEventListener('snapshot', (ev) => {
    for (const t of JSON.parse(ev.data).tickets) keepNewest(t);
    if (!$('#view-queue').hidden) loadQueue();
    // A ticket's page is read again too: its ticket may have changed
    // while the stream was down, and the events that said so are gone.
    if (!$('#view-ticket').hidden && state.ticketShown) showTicket(state.ticketShown);
  });
  // The stream ended or could not connect. A stream ends with its
  // session, and its reconnect is refused (401, which EventSource does
  // not retry): asking who is signed in tells the two apart. Signed out:
  // the sign-in view at once. Another session in the browser now (signed
  // in again in another tab): that one's. Still signed in, with the
  // stream given up (the desk answered an error): connect again shortly.
  es.addEventListener('error', async () => {
    live.textContent = 'reconnecting';
    live.classList.remove('on');
    let me;
    try { me = await api('GET', '/api/session'); } catch (e) { me = undefined; }
    if (state.events !== es || !state.me) return;
    if (me && !me.agent) sessionEnded();
    else if (me && me.csrf_token !== state.me.csrf_token) signedIn(me);
    else if (es.readyState === EventSource.CLOSED) {
      setTimeout(() => { if (state.events === es && state.me) connectEvents(); }, 1000);
    }
  });
  // A process crashed, stopped or started: redraw the tree if it shows.
  es.addEventListener('process', () => {
    if (!$('#view-tree').hidden) loadTree();
  });
  es.addEventListener('ticket', (ev) => {
    const t = JSON.parse(ev.data);
    if (keepNewest(t)) refresh(t.id);
  });
  // A ticket breached its SLA (its ticket event comes too): say so.
  es.addEventListener('sla', (ev) => {
    const d = JSON.parse(ev.data);
    if (keepNewest(d.ticket)) refresh(d.id);
    notice('Ticket #' + d.id + ' is overdue: its resolution was due '
      + new Date(d.due_at).toLocaleString(), true);
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
    state.topPid = data.tree.pid;
    $('#tree').replaceChildren(treeNode(data.tree));
    await loadProcesses();
  } catch (e) {
    // The web restarts with the Store (rest_for_one): try again next second.
  }
}

// The process table, like observer's: the top 20 by memory, queue, reductions
// (work done since the spawn) or restarts.
async function loadProcesses() {
  const sort = state.procSort;
  const data = await api('GET', '/api/processes?limit=20&sort=' + sort);
  // An answer for an order no longer asked for is not drawn: the click's own
  // request draws the table (an older refresh may come back after it).
  if (sort !== state.procSort) return;
  const kb = (n) => (n / 1024).toFixed(1) + ' KiB';
  $('#processes tbody').replaceChildren(...data.processes.map((p) => {
    const cell = el('td', {});
    // The console and its watcher are outside the tree: nothing would
    // restart them, and the API refuses to kill them.
    if (state.me && state.me.role === 'admin' && p.killable) {
      cell.append(el('button', { type: 'button', class: 'danger', onclick: clicked(() => kill(p)) }, 'Kill'));
    }
    return el('tr', { 'data-pid': p.pid },
      el('td', { class: 'pid' }, p.pid), el('td', {}, p.name || '—'), el('td', {}, p.label),
      el('td', {}, p.status), el('td', {}, kb(p.memory)), el('td', {}, p.message_queue_len),
      el('td', {}, p.reductions), el('td', {}, p.restarts === null ? '—' : p.restarts), el('td', {}, p.links), cell);
  }));
  $('#process-total').textContent = data.total + ' processes in all.';
  // The heading says the order the rows are in, once they are.
  for (const o of document.querySelectorAll('#processes th [data-sort]')) {
    o.parentNode.setAttribute('aria-sort', o.dataset.sort === sort ? 'descending' : 'none');
  }
}

// A column's heading sorts the table by it, largest first.
for (const b of document.querySelectorAll('#processes th [data-sort]')) {
  b.addEventListener('click', () => {
    state.procSort = b.dataset.sort;
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
      onclick: clicked(() => kill(n)),
    }, 'Kill'));
  }
  const li = el('li', {}, row);
  if (n.children && n.children.length) li.append(el('ul', {}, ...n.children.map(treeNode)));
  return li;
}

// n: a tree node or a process table row (both have pid; a name or a label).
// The top supervisor has no supervisor: killing it stops the desk, so the
// page asks first.
async function kill(n) {
  const what = n.name || n.label || 'process';
  const top = n.pid === state.topPid;
  if (top && !window.confirm(what + ' is the top of the tree: nothing restarts it, and killing it'
      + ' stops the desk for everyone. Kill it?')) return;
  try {
    await api('POST', '/api/processes/' + encodeURIComponent(n.pid) + '/kill');
    notice(top ? 'Killed ' + what + ' ' + n.pid + ': the desk stops.'
      : 'Killed ' + what + ' ' + n.pid + '; watch its supervisor restart it.', true);
  } catch (e) {
    notice(e.message);
  }
  await loadTree();
}

start();

#!/usr/bin/env node
// The desk under load while a browser watches (issue 18, "Load").
//
// usage: node load.test.js PATH_TO_support_system ARTEFACT_DIR
//
// Starts the desk on a new database (--http 127.0.0.1:0). The first admin
// signs in on the dashboard in headless Chromium (Debian's, through
// playwright-core) and watches the queue. A second session of hers, signed
// in over the API, makes the tickets the load reads; then wrk (Debian's)
// runs load.lua from 64 connections on 2 threads for LOAD_SECONDS: reads
// of those tickets (GET /api/tickets/:id) and create -> assign -> resolve
// sequences, each change with its version (If-Match) and an
// Idempotency-Key. Meanwhile the page must stay live: its event stream up,
// its queue counts changing as the load runs, every look at it answered
// within the deadline, no console error; after the load it must show the
// counts the desk reports (GET /api/queues). A screenshot of it is saved as
// ARTEFACT_DIR/load.png.
//
// Every answer must be 2xx (wrk's errors too: none may connect, read,
// write or time out), and every acknowledged change stored: after the desk
// has quit, its database (read with sqlite3) holds each acknowledged
// ticket, each acknowledged change's Idempotency-Key recorded for its
// ticket and its history entry, and a ticket whose resolve was
// acknowledged resolved, at the version that answer said.
'use strict';

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { DEADLINE_MS, fail, launchBrowser, startDesk, quitDesk, screenshot } = require('./desk');

const WRK = '/usr/bin/wrk';
const CONNECTIONS = 64;
const THREADS = 2;
const LOAD_SECONDS = Number(process.env.ARBOR_LOAD_SECONDS || 6); // the fault test needs fewer
const READ_IDS = 16; // the tickets made before the load, ids 1..16, which it reads
const STATUS = { open: 0, assigned: 1, resolved: 2 }; // ticket.h's stored numbers

if (!fs.existsSync(WRK)) {
  console.log(WRK + ' is not installed: run make deps (it installs Debian\'s wrk)');
  process.exit(1);
}

// One request to the desk's API from this process, as the session given.
async function api(base, method, p, { cookie, csrf, body, key } = {}) {
  const headers = {};
  if (key) headers['Idempotency-Key'] = key;
  if (cookie) headers.Cookie = 'arbor_session=' + cookie;
  if (csrf) headers['X-CSRF-Token'] = csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { /* not JSON: text says */ }
  return { status: r.status, headers: r.headers, text, json };
}

// p, or a failure saying what when it has not settled within the deadline.
function withDeadline(p, what) {
  let timer;
  const late = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(what)), DEADLINE_MS); });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

// What the page shows: whether its stream is live, and its queue counts.
function look(page) {
  return withDeadline(page.evaluate(() => ({
    live: document.querySelector('#live').classList.contains('on'),
    counts: [...document.querySelectorAll('#queues button .count')]
      .map((c) => c.closest('button').dataset.queue + '=' + c.textContent).join(' '),
  })), 'the page did not answer within ' + DEADLINE_MS + ' ms');
}

// Runs wrk with load.lua; resolves to its exit status and output.
function runWrk(base, session, out) {
  const wrk = spawn(WRK, ['-t' + THREADS, '-c' + CONNECTIONS, '-d' + LOAD_SECONDS + 's',
    '--timeout', DEADLINE_MS / 1000 + 's', '-s', path.join(__dirname, 'load.lua'), base + '/'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOAD_COOKIE: session.cookie, LOAD_CSRF: session.csrf, LOAD_READ_IDS: String(READ_IDS), LOAD_OUT: out },
  });
  let output = '';
  wrk.stdout.on('data', (d) => { output += d; });
  wrk.stderr.on('data', (d) => { output += d; });
  return new Promise((resolve) => wrk.on('exit', (code) => resolve({ code, output })));
}

// load.lua's record: its summary, errors and acknowledged changes.
function readRecord(file) {
  const rec = { summary: null, errors: [], errorCount: 0, acks: [] };
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const [kind, ...f] = line.split(' ');
    if (kind === 'summary') {
      const [requests, reads, connect, read, write, status, timeout] = f.map(Number);
      rec.summary = { requests, reads, connect, read, write, status, timeout };
    } else if (kind === 'count') {
      rec.errorCount += Number(f[1]);
    } else if (kind === 'error') {
      rec.errors.push(f.slice(1).join(' '));
    } else if (kind === 'ack') {
      rec.acks.push({ step: f[0], id: Number(f[1]), version: Number(f[2]), key: f[3] });
    }
  }
  if (!rec.summary) fail('wrk wrote no summary to ' + file);
  return rec;
}

// Rows of a query on the database (read-only), as arrays of strings.
function query(db, sql) {
  const out = execFileSync('sqlite3', ['-readonly', '-separator', '\t', db, sql], { encoding: 'utf8', maxBuffer: 256 << 20 });
  return out.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

// Every acknowledged change is in the database; returns the tickets seen.
function checkStored(db, acks) {
  const tickets = new Map(query(db, 'SELECT id, status, version FROM tickets')
    .map(([id, status, version]) => [Number(id), { status: Number(status), version: Number(version) }]));
  const keys = new Map(query(db, 'SELECT id, ticket FROM requests').map(([k, t]) => [k, Number(t)]));
  const history = new Map();
  for (const [t, what] of query(db, 'SELECT ticket, what FROM history')) {
    if (!history.has(Number(t))) history.set(Number(t), []);
    history.get(Number(t)).push(what);
  }
  const entry = { create: /^created$/, assign: /^assigned to /, resolve: /^resolved$/ };
  const byTicket = new Map();
  for (const a of acks) {
    const said = a.step + ' of ticket ' + a.id + ' (version ' + a.version + ', key ' + a.key + ')';
    const t = tickets.get(a.id);
    if (!t) fail('acknowledged ' + said + ': the ticket is not stored');
    if (keys.get(a.key) !== a.id) fail('acknowledged ' + said + ': its Idempotency-Key is recorded for ' + keys.get(a.key));
    if (!(history.get(a.id) || []).some((w) => entry[a.step].test(w))) {
      fail('acknowledged ' + said + ': no such history entry in ' + JSON.stringify(history.get(a.id)));
    }
    if (t.version < a.version) fail('acknowledged ' + said + ': stored at version ' + t.version);
    const seen = byTicket.get(a.id) || {};
    seen[a.step] = a;
    byTicket.set(a.id, seen);
  }
  for (const [id, s] of byTicket) {
    const t = tickets.get(id);
    if (!s.create || (s.resolve && !s.assign)) fail('ticket ' + id + ' has acknowledged steps out of order: ' + Object.keys(s));
    if (s.assign && !(s.assign.version > s.create.version)) fail('ticket ' + id + ': assign answered version ' + s.assign.version);
    if (s.resolve && !(s.resolve.version > s.assign.version)) fail('ticket ' + id + ': resolve answered version ' + s.resolve.version);
    if (s.resolve && (t.status !== STATUS.resolved || t.version !== s.resolve.version)) {
      fail('ticket ' + id + ' was acknowledged resolved at version ' + s.resolve.version + '; stored: status ' + t.status + ', version ' + t.version);
    }
    if (s.assign && !s.resolve && t.status !== STATUS.assigned && t.status !== STATUS.resolved) {
      fail('ticket ' + id + ' was acknowledged assigned; stored: status ' + t.status);
    }
  }
  return byTicket;
}

async function main() {
  const [binary, artefacts] = process.argv.slice(2);
  if (!binary || !artefacts) fail('usage: node load.test.js PATH_TO_support_system ARTEFACT_DIR');
  fs.mkdirSync(artefacts, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'desk-load-'));
  const desk = startDesk(binary, tmp);
  let browser;
  try {
    const base = 'http://127.0.0.1:' + (await desk.waitFor('err', /Web desk on http:\/\/127\.0\.0\.1:(\d+)\//))[1];
    const link = (await desk.waitFor('err', /open (http:\S+#setup=[0-9a-f]{64}) /))[1];

    // The first admin, on the dashboard, live.
    browser = await launchBrowser();
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    const errors = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(link);
    await page.fill('#setup-form input[name=name]', 'ada');
    await page.fill('#setup-form input[name=password]', 'ada-password');
    await page.click('#setup-form button[type=submit]');
    await page.locator('#me-name', { hasText: 'ada' }).waitFor({ timeout: DEADLINE_MS });
    await page.locator('#live.on').waitFor({ timeout: DEADLINE_MS });

    // Her second session, for wrk: its cookie and CSRF token.
    const signIn = await api(base, 'POST', '/api/session', { body: { name: 'ada', password: 'ada-password' } });
    const cookie = (signIn.headers.getSetCookie().map((c) => /^arbor_session=([^;]+)/.exec(c)).find((m) => m) || [])[1];
    if (signIn.status !== 200 || !cookie) fail('sign-in answered ' + signIn.status + ' ' + signIn.text);
    const session = { cookie, csrf: signIn.json.csrf_token };

    // The tickets the load reads: ids 1..READ_IDS.
    // Each under a key, and retried under it while the answer is 503 or
    // 504, as clients are told to: the fault run's Store is slow on
    // purpose, and a busy machine may make it slower than its limit here.
    for (let i = 1; i <= READ_IDS; i++) {
      const create = { ...session, key: 'setup-' + i, body: { description: 'Read under load ' + i, customer: 'Reader' } };
      let r = await api(base, 'POST', '/api/tickets', create);
      for (let tries = 1; (r.status === 503 || r.status === 504) && tries < 20; tries++)
        r = await api(base, 'POST', '/api/tickets', create);
      if (r.status !== 201 || r.json.ticket.id !== i) fail('creating ticket ' + i + ' answered ' + r.status + ' ' + r.text);
    }
    await page.locator('#queues button[data-queue=unassigned] .count', { hasText: new RegExp('^' + READ_IDS + '$') })
      .waitFor({ timeout: DEADLINE_MS });
    const before = (await look(page)).counts;

    // The load, and the page watched while it runs.
    const record = path.join(tmp, 'wrk.out');
    let finished = null;
    const wrkRun = runWrk(base, session, record).then((r) => { finished = r; });
    const seen = new Set();
    let looks = 0;
    let slowest = 0;
    while (!finished) {
      const t0 = Date.now();
      const s = await look(page);
      slowest = Math.max(slowest, Date.now() - t0);
      looks++;
      if (!s.live && !finished) fail('the page\'s event stream dropped during the load (after ' + looks + ' looks)');
      if (!finished) seen.add(s.counts);
      await Promise.race([wrkRun, new Promise((r) => setTimeout(r, 200))]);
    }
    const wrkOut = finished.output;
    if (finished.code !== 0) fail('wrk exited with ' + finished.code + ':\n' + wrkOut);

    // What wrk saw: every answer 2xx, no connection lost.
    const rec = readRecord(record);
    const s = rec.summary;
    if (rec.errorCount || s.status || /Non-2xx/.test(wrkOut)) {
      fail((rec.errorCount || s.status) + ' error answers under load; the first: ' + rec.errors.join(' | ') + '\n' + wrkOut);
    }
    if (s.connect || s.read || s.write || s.timeout) fail('wrk\'s socket errors: ' + JSON.stringify(s) + '\n' + wrkOut);
    const count = (step) => rec.acks.filter((a) => a.step === step).length;
    if (!s.reads || !count('create') || !count('resolve')) fail('the load made too little: ' + JSON.stringify(s) + ', ' + rec.acks.length + ' changes');

    // The page followed the load as it ran...
    seen.delete(before);
    if (seen.size < 2) fail('the page\'s queue counts changed ' + seen.size + ' times in ' + looks + ' looks during the load (still ' + before + ')');
    // ...and after it, shows the desk's counts (which may move on for a
    // moment: the changes wrk sent last are answered after it has stopped).
    const deskCounts = async () => {
      const q = await api(base, 'GET', '/api/queues', session);
      if (q.status !== 200) fail('GET /api/queues answered ' + q.status + ' ' + q.text);
      return Object.entries(q.json.queues).map(([k, v]) => k + '=' + v).join(' ');
    };
    const deadline = Date.now() + DEADLINE_MS;
    for (;;) {
      const want = await deskCounts();
      const shown = (await look(page)).counts;
      if (shown === want) break;
      if (Date.now() > deadline) fail('after the load the page shows ' + shown + ', the desk ' + want);
      await page.waitForTimeout(50);
    }
    if (!(await look(page)).live) fail('the page\'s event stream is down after the load');
    await screenshot(page, artefacts, 'load.png');
    if (errors.length) fail('console errors: ' + errors.join('; '));
    await browser.close();
    browser = null;

    // Every acknowledged change stored, read back after a clean stop.
    const rc = await quitDesk(desk);
    if (rc !== 0) fail('the desk exited with ' + rc + ': ' + desk.err.slice(-4000));
    const tickets = checkStored(path.join(tmp, 'desk.db'), rec.acks);
    console.log('load: ' + CONNECTIONS + ' connections for ' + LOAD_SECONDS + ' s: ' + s.requests + ' answers, all 2xx ('
      + s.reads + ' reads; ' + count('create') + ' creates, ' + count('assign') + ' assigns, ' + count('resolve')
      + ' resolves acknowledged, on ' + tickets.size + ' tickets, every one stored); the page stayed live ('
      + looks + ' looks, the slowest ' + slowest + ' ms, ' + seen.size + ' changes of its counts seen); '
      + 'screenshot in ' + artefacts);
  } finally {
    if (browser) await browser.close();
    await quitDesk(desk);
    fs.rmSync(tmp, { recursive: true, force: true });
    if (/Sanitizer|runtime error/.test(desk.err)) fail('a sanitizer reported: ' + desk.err);
  }
}

main().catch((e) => {
  console.log('FAIL: ' + e.message + '\n' + (e.stack || '').split('\n').filter((l) => l.includes('.test.js') || l.includes('desk.js')).join('\n'));
  process.exit(1);
});

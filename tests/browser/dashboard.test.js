#!/usr/bin/env node
// The desk's dashboard in a real browser: Debian's headless Chromium driven
// by playwright-core (which downloads no browser).
//
// usage: node dashboard.test.js PATH_TO_support_system ARTEFACT_DIR
//
// Starts the desk on a new database (--http 127.0.0.1:0), opens the first
// admin's one-time link, and with a second agent in a second browser
// context: creates a ticket through the page, assigns and resolves it, and
// checks that each context sees the other's change live (the event stream,
// no reload); a stale change is refused with who won. A ticket with 56
// history entries shows the latest 50 and loads the rest on demand ("Load
// older entries"). Then the supervision
// tree and the process table: the ticket's worker and then the Store are
// killed with their Kill buttons and come back, and nothing is lost. Screenshots of the queue and the tree are saved in
// ARTEFACT_DIR and checked not to be blank. No console errors before the
// kill (after it, the web restarts with the Store: connections drop). A
// low-priority ticket (--sla low=2s) breaches while the other agent's queue
// is open: the Overdue tab counts it and lists it, marked.
// Fails, saying what to install, when chromium or playwright-core is
// missing (desk.js): `make test` installs both (scripts/install-deps.sh)
// first.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { DEADLINE_MS, fail, launchBrowser, startDesk, screenshot } = require('./desk');

// Presses Tab until the element sel has the focus (at most 80 times): the
// control is reachable from the keyboard.
async function tabTo(page, sel) {
  for (let i = 0; i < 80; i++) {
    if (await page.evaluate((s) => document.activeElement && document.activeElement.matches(s), sel)) return;
    await page.keyboard.press('Tab');
  }
  fail('Tab never reaches ' + sel);
}

// The ids of the rows the queue shows, once it shows want of them (or the deadline).
async function rowIds(page, count) {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const ids = (await page.locator('#tickets tbody tr').evaluateAll((rs) => rs.map((r) => Number(r.dataset.id))));
    if (count === undefined || ids.length === count) return ids;
    if (Date.now() > deadline) fail('the queue shows ' + ids.length + ' rows, not ' + count + ': ' + ids);
    await page.waitForTimeout(50);
  }
}

// Waits until the queue tab key shows count.
async function countShows(page, key, count) {
  await page.locator('#queues button[data-queue=' + key + '] .count', { hasText: new RegExp('^' + count + '$') })
    .waitFor({ timeout: DEADLINE_MS });
}

// The row of ticket id in the queue shows status (and agent), within the deadline.
async function rowShows(page, id, status, agent) {
  const row = page.locator('#tickets tbody tr[data-id="' + id + '"]');
  await row.locator('td:nth-child(5)', { hasText: status }).waitFor({ timeout: DEADLINE_MS });
  if (agent) await row.locator('td:nth-child(6)', { hasText: agent }).waitFor({ timeout: DEADLINE_MS });
}

async function main() {
  const [binary, artefacts] = process.argv.slice(2);
  if (!binary || !artefacts) fail('usage: node dashboard.test.js PATH_TO_support_system ARTEFACT_DIR');
  fs.mkdirSync(artefacts, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'desk-browser-'));
  // Low-priority tickets are due 2 s after they are made (the SLA section).
  const desk = startDesk(binary, tmp, ['--sla', 'low=2s']);
  let browser;
  try {
    const base = 'http://127.0.0.1:' + (await desk.waitFor('err', /Web desk on http:\/\/127\.0\.0\.1:(\d+)\//))[1];
    const link = (await desk.waitFor('err', /open (http:\S+#setup=[0-9a-f]{64}) /))[1];
    // A second agent, made at the console.
    desk.stdin.write('agent-add bea\npassword-reset bea\nbea-password\n');
    await desk.waitFor('out', /"agent":"bea","role":"agent"/);

    browser = await launchBrowser();
    const errors = [];
    // Runs step, during which the page is expected to log one failed
    // request answered status (a refusal the test provokes): that one
    // is not counted as a console error.
    const provoking = async (status, step) => {
      const before = errors.length;
      await step();
      const i = errors.findIndex((e, k) => k >= before && e.includes('status of ' + status));
      if (i >= 0) errors.splice(i, 1);
    };
    const watch = (page, who) => {
      page.on('console', (m) => { if (m.type() === 'error') errors.push(who + ': ' + m.text()); });
      page.on('pageerror', (e) => errors.push(who + ': ' + e.message));
    };
    const a = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    const b = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    watch(a, 'ada');
    watch(b, 'bea');

    // The first admin, through the one-time link. Signed out, the page
    // shows no one's name, live state or Sign out button.
    await a.goto(link);
    await a.locator('#setup-form').waitFor({ timeout: DEADLINE_MS });
    if (await a.locator('#me').isVisible() || await a.locator('#sign-out').isVisible()) {
      fail('the page shows Sign out before anyone signed in');
    }
    // The spaces typed around a name are dropped (never a password's).
    await a.fill('#setup-form input[name=name]', '  ada  ');
    await a.fill('#setup-form input[name=password]', 'ada-password');
    await a.click('#setup-form button[type=submit]');
    await a.locator('#me-name', { hasText: 'ada' }).waitFor({ timeout: DEADLINE_MS });
    await a.locator('#live.on').waitFor({ timeout: DEADLINE_MS });

    // The second agent signs in with her password.
    await b.goto(base + '/');
    await b.fill('#sign-in-form input[name=name]', 'bea');
    await b.fill('#sign-in-form input[name=password]', 'wrong password');
    await provoking(401, async () => {
      await b.click('#sign-in-form button[type=submit]');
      await b.locator('#notice', { hasText: 'wrong name or password' }).waitFor({ timeout: DEADLINE_MS });
    });
    await b.fill('#sign-in-form input[name=name]', ' bea ');
    await b.fill('#sign-in-form input[name=password]', 'bea-password');
    await b.click('#sign-in-form button[type=submit]');
    await b.locator('#me-name', { hasText: 'bea' }).waitFor({ timeout: DEADLINE_MS });
    await b.locator('#live.on').waitFor({ timeout: DEADLINE_MS });

    // Ada creates a ticket through the page; Bea sees it appear.
    await a.fill('#create-form input[name=description]', 'Printer on fire');
    // The blanks typed around the customer's name are not part of it (the
    // desk refuses a name that begins or ends with a space).
    await a.fill('#create-form input[name=customer]', ' Acme Corp  ');
    await a.selectOption('#create-form select[name=priority]', 'urgent');
    await a.click('#create-form button[type=submit]');
    const id = Number((await a.locator('#notice', { hasText: /Ticket #\d+ created/ }).textContent()).match(/#(\d+)/)[1]);
    await rowShows(a, id, 'open');
    const cells = await a.locator('#tickets tr[data-id="' + id + '"] td').allTextContents();
    if (!cells.includes('Acme Corp')) fail('the new ticket\'s row says ' + JSON.stringify(cells));
    await rowShows(b, id, 'open');

    // Ada assigns it to herself; Bea sees it live.
    await a.click('#tickets tr[data-id="' + id + '"] button:has-text("Assign to me")');
    await rowShows(a, id, 'assigned', 'ada');
    await rowShows(b, id, 'assigned', 'ada');
    const counts = await a.locator('#queues button[data-queue=mine] .count').textContent();
    if (counts !== '1') fail('Mine counts ' + counts);

    // A conflict: Bea's page has the ticket open; Ada resolves it first.
    await b.goto(base + '/#/ticket/' + id);
    await b.locator('#ticket-actions button[data-action=resolve]').waitFor({ timeout: DEADLINE_MS });
    await a.click('#tickets tr[data-id="' + id + '"] button:has-text("Resolve")');
    await rowShows(a, id, 'resolved', 'ada');
    // Bea's ticket page redraws live with the resolve...
    await b.locator('#ticket-fields dd', { hasText: 'resolved' }).waitFor({ timeout: DEADLINE_MS });
    // ...and a change computed from the version she saw is refused, naming Ada.
    let stale;
    await provoking(409, async () => { stale = await b.evaluate(async (tid) => {
      const me = await (await fetch('/api/session')).json();
      const r = await fetch('/api/tickets/' + tid + '/reopen', {
        method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token, 'If-Match': '"1"' }, body: '{}',
      });
      return { status: r.status, body: await r.json() };
    }, id); });
    if (stale.status !== 409 || !/changed by ada \(resolved\)/.test(stale.body.message)) fail('a stale change: ' + JSON.stringify(stale));

    // A note Ada adds shows on Bea's ticket page, live, with its text.
    const noted = await a.evaluate(async (tid) => {
      const me = await (await fetch('/api/session')).json();
      const r = await fetch('/api/tickets/' + tid + '/note', {
        method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token }, body: '{"text":"Call the fire brigade"}',
      });
      return r.status;
    }, id);
    if (noted !== 200) fail('the note answered ' + noted);
    await b.locator('#ticket-history li.note blockquote', { hasText: 'Call the fire brigade' }).waitFor({ timeout: DEADLINE_MS });

    // Bea closes it from the queue; Ada sees it.
    await b.goto(base + '/#/queue');
    await rowShows(b, id, 'resolved');
    await b.click('#tickets tr[data-id="' + id + '"] button:has-text("Close")');
    await rowShows(a, id, 'closed');
    const history = await a.evaluate(async (tid) => (await (await fetch('/api/tickets/' + tid)).json()).ticket.history.map((h) => h.who + ':' + h.what), id);
    if (history.join('|') !== 'ada:created|ada:assigned to ada|ada:resolved|ada:added a note|bea:closed') fail('history ' + history.join('|'));


    // ---- the queue: the server's pages, counts, search and order --------------------
    // 30 more open tickets: the page holds 25, the counts all of them
    // (counted by the server, not from the rows the page has).
    await a.evaluate(async () => {
      const me = await (await fetch('/api/session')).json();
      for (let i = 1; i <= 30; i++) {
        await fetch('/api/tickets', {
          method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token },
          body: JSON.stringify({ description: 'Bulk item ' + i, customer: 'Bulk Co' }),
        });
      }
    });
    await countShows(a, 'unassigned', 30);
    await countShows(a, 'open', 30);
    await countShows(a, 'mine', 0);
    await a.click('#queues button[data-queue=unassigned]');
    const page1 = await rowIds(a, 25);
    if (!(await a.locator('#page-prev').isDisabled()) || await a.locator('#page-next').isDisabled()) fail('the pager on page 1');
    await a.click('#page-next');
    const page2 = await rowIds(a, 5);
    if (page2.some((x) => page1.includes(x)) || Math.max(...page2) >= Math.min(...page1)) fail('page 2 ' + page2 + ' after ' + page1);
    await a.locator('#page-info', { hasText: 'Page 2' }).waitFor({ timeout: DEADLINE_MS });
    await a.click('#page-prev');
    await rowIds(a, 25);
    // Oldest first: the first bulk ticket heads the queue.
    await a.selectOption('#list-form select[name=sort]', 'oldest');
    await a.locator('#tickets tbody tr:first-child td:nth-child(2)', { hasText: /^Bulk item 1$/ }).waitFor({ timeout: DEADLINE_MS });
    await a.selectOption('#list-form select[name=sort]', 'newest');
    await a.locator('#tickets tbody tr:first-child td:nth-child(2)', { hasText: /^Bulk item 30$/ }).waitFor({ timeout: DEADLINE_MS });
    // Search from the keyboard: Tab to the box, type, Enter.
    await a.click('#queues button[data-queue=all]');
    await a.focus('#queues button[data-queue=all]');
    await tabTo(a, '#list-form input[name=search]');
    await a.keyboard.type('FIRE');
    await a.keyboard.press('Enter');
    const found = await rowIds(a, 1);
    if (found[0] !== id) fail('the search for fire found ' + found);
    await a.fill('#list-form input[name=search]', '');
    await a.press('#list-form input[name=search]', 'Enter');
    await rowIds(a, 25);

    // ---- one ticket: a button or a form for every action --------------------------
    const k = await a.evaluate(async () => {
      const me = await (await fetch('/api/session')).json();
      const r = await fetch('/api/tickets', {
        method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token },
        body: JSON.stringify({ description: 'Keyboard ticket', customer: 'Kay' }),
      });
      return (await r.json()).ticket.id;
    });
    await a.goto(base + '/#/ticket/' + k);
    const status = (want) => a.locator('#ticket-fields dd', { hasText: new RegExp('^' + want + '$') }).first().waitFor({ timeout: DEADLINE_MS });
    const press = async (action, want) => {
      await a.click('#ticket-actions button[data-action=' + action + ']');
      await status(want);
    };
    await press('assign-me', 'assigned');
    await press('pend', 'pending');
    await press('resume', 'assigned');
    await press('unassign', 'open');
    await a.locator('#assign-form button', { hasText: 'Assign' }).waitFor({ timeout: DEADLINE_MS });
    await a.selectOption('#assign-form select[name=agent]', 'bea');
    await a.click('#assign-form button[type=submit]');
    await status('bea');
    await a.locator('#assign-form button', { hasText: 'Reassign' }).waitFor({ timeout: DEADLINE_MS });
    // After the redraw nobody is picked; Reassign without a pick is refused
    // on the page, and the ticket stays Bea's.
    const picked = await a.inputValue('#assign-form select[name=agent]');
    if (picked !== '') fail('the agent list picks ' + JSON.stringify(picked) + ' by itself');
    await a.click('#assign-form button[type=submit]');
    await a.locator('#notice', { hasText: 'Choose an agent to reassign the ticket to' }).waitFor({ timeout: DEADLINE_MS });
    await status('bea');
    await a.selectOption('#assign-form select[name=agent]', 'ada');
    await a.click('#assign-form button[type=submit]');
    await status('ada');
    if (await a.locator('#ticket-actions button[data-action=reassign-me]').count()) fail('Reassign to me is offered on Ada\'s own ticket');
    await a.click('#edit summary');
    await a.fill('#edit-form input[name=description]', 'Keyboard ticket, edited');
    await a.selectOption('#edit-form select[name=priority]', 'high');
    await a.click('#edit-form button[type=submit]');
    await a.locator('#ticket-title', { hasText: 'Keyboard ticket, edited' }).waitFor({ timeout: DEADLINE_MS });
    await status('high');
    // Close without a reason: the desk asks for one, and nothing changes.
    await provoking(400, async () => {
      await a.click('#close-form button[type=submit]');
      await a.locator('#notice', { hasText: 'reason' }).waitFor({ timeout: DEADLINE_MS });
    });
    // ...in the page's words, not the console's syntax (close ID REASON).
    const reasonAsked = await a.locator('#notice').textContent();
    if (/close ID|REASON/.test(reasonAsked)) fail('a close without a reason says ' + JSON.stringify(reasonAsked));
    await a.fill('#close-form input[name=reason]', 'duplicate');
    await a.click('#close-form button[type=submit]');
    await status('closed');
    // A closed ticket offers what the workflow allows: Reopen, and a note.
    const offered = await a.evaluate(() => ['#edit', '#reply-form', '#note-form', '#assign-form', '#close-form']
      .filter((sel) => !document.querySelector(sel).hidden)
      .concat([...document.querySelectorAll('#ticket-actions button')].map((x) => x.dataset.action)));
    if (offered.join(' ') !== '#note-form reopen') fail('a closed ticket offers ' + offered.join(' '));
    await press('reopen', 'open');
    // A reply from the keyboard alone: Tab to the box, type, Tab to Reply, Enter.
    await tabTo(a, '#reply-form textarea');
    await a.keyboard.type('Hello from the keyboard');
    await a.keyboard.press('Tab');
    if (!(await a.evaluate(() => document.activeElement.matches('#reply-form button[type=submit]')))) fail('Tab from the reply does not reach its button');
    await a.keyboard.press('Enter');
    await a.locator('#ticket-history li.reply blockquote', { hasText: 'Hello from the keyboard' }).waitFor({ timeout: DEADLINE_MS });
    // A note of two lines, typed with Enter in its box, is kept and shown
    // as two lines.
    await a.fill('#note-form textarea', 'Kay called twice\nthen emailed');
    await a.click('#note-form button[type=submit]');
    const note = a.locator('#ticket-history li.note blockquote', { hasText: 'Kay called twice' });
    await note.waitFor({ timeout: DEADLINE_MS });
    if ((await note.innerText()) !== 'Kay called twice\nthen emailed') fail('the note shows ' + JSON.stringify(await note.innerText()));
    const whats = await a.evaluate(async (tid) => (await (await fetch('/api/tickets/' + tid)).json()).ticket.history.map((h) => h.what), k);
    const wantWhats = ['created', 'assigned to ada', 'pending: waiting on the customer', 'resumed', 'unassigned from ada',
      'assigned to bea', 'reassigned from bea to ada', 'description edited; priority changed from normal to high',
      'closed: duplicate', 'reopened', 'replied', 'added a note'];
    if (whats.join('|') !== wantWhats.join('|')) fail('history ' + whats.join('|'));
    // What was typed on one ticket's page (a reply, a note, a reason) is
    // not carried to the next ticket's; a live redraw of the same ticket
    // keeps it.
    const other = await a.evaluate(async () => {
      const me = await (await fetch('/api/session')).json();
      const r = await fetch('/api/tickets', {
        method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token },
        body: JSON.stringify({ description: 'Another customer', customer: 'Otto' }),
      });
      return (await r.json()).ticket.id;
    });
    const drafts = { '#reply-form textarea': 'Meant for Kay', '#note-form textarea': 'About Kay',
      '#close-form input[name=reason]': 'Kay\'s reason' };
    for (const [sel, text] of Object.entries(drafts)) await a.fill(sel, text);
    await a.goto(base + '/#/ticket/' + other);
    await a.locator('#ticket-title', { hasText: 'Another customer' }).waitFor({ timeout: DEADLINE_MS });
    for (const sel of Object.keys(drafts)) {
      if (await a.inputValue(sel)) fail(sel + ' still holds ' + JSON.stringify(await a.inputValue(sel)) + ' on another ticket');
    }
    await a.fill('#reply-form textarea', 'Dear Otto');
    await a.evaluate(async (tid) => {
      const me = await (await fetch('/api/session')).json();
      await fetch('/api/tickets/' + tid + '/note', {
        method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token }, body: '{"text":"Otto waits"}',
      });
    }, other);
    await a.locator('#ticket-history li.note blockquote', { hasText: 'Otto waits' }).waitFor({ timeout: DEADLINE_MS });
    if (await a.inputValue('#reply-form textarea') !== 'Dear Otto') fail('a live redraw dropped the reply being typed');
    await a.fill('#reply-form textarea', '');
    // A double-click on an action makes it once, and the page blames no
    // one: the buttons are disabled while the first click's request is in
    // flight (held 300 ms here, so that both clicks land while it is).
    const assigns = [];
    await a.route('**/api/tickets/*/assign', async (route) => {
      assigns.push(route.request().url());
      await new Promise((r) => setTimeout(r, 300));
      return route.continue();
    });
    await a.dblclick('#ticket-actions button[data-action=assign-me]');
    await status('assigned');
    await a.waitForTimeout(500);
    await a.unroute('**/api/tickets/*/assign');
    if (assigns.length !== 1) fail('a double-click on Assign to me sent ' + assigns.length + ' requests');
    if (await a.locator('#notice').isVisible()) fail('after a double-click on Assign to me: ' + await a.locator('#notice').textContent());
    await press('unassign', 'open');
    // The queue's buttons from the keyboard: Tab to the row's Assign to me, Enter.
    await a.goto(base + '/#/queue');
    await rowShows(a, k, 'open');
    await a.focus('#list-form button[type=submit]');
    await tabTo(a, '#tickets tr[data-id="' + k + '"] button[data-action=assign-me]');
    await a.keyboard.press('Enter');
    await rowShows(a, k, 'assigned', 'ada');
    await countShows(a, 'mine', 1);

    // ---- SLA: a low-priority ticket (due 2 s after it is made, here) breaches
    // while Bea watches the queue: the notice says so (the sla event), and
    // the Overdue tab counts it and lists it, marked, without a reload.
    await b.goto(base + '/#/queue');
    await countShows(b, 'overdue', 0);
    const late = await a.evaluate(async () => {
      const me = await (await fetch('/api/session')).json();
      const r = await fetch('/api/tickets', {
        method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token },
        body: JSON.stringify({ description: 'Toner is low', priority: 'low' }),
      });
      return (await r.json()).ticket.id;
    });
    await b.locator('#notice', { hasText: 'Ticket #' + late + ' is overdue' }).waitFor({ timeout: DEADLINE_MS });
    await countShows(b, 'overdue', 1);
    await b.click('#queues button[data-queue=overdue]');
    const overdue = await rowIds(b, 1);
    if (overdue[0] !== late) fail('the Overdue tab lists ' + overdue + ', not ' + late);
    await b.locator('#tickets tr.overdue[data-id="' + late + '"] .badge-overdue').waitFor({ timeout: DEADLINE_MS });
    await b.goto(base + '/#/ticket/' + late);
    await b.locator('#ticket-fields dd', { hasText: 'breached at' }).waitFor({ timeout: DEADLINE_MS });

    // ---- agents: an admin adds, rules and renames them; an agent only looks ----------
    await a.goto(base + '/#/agents');
    await a.fill('#agent-add-form input[name=name]', 'cal');
    await a.click('#agent-add-form button[type=submit]');
    const cal = (name) => a.locator('#agents tr[data-agent="' + name + '"]');
    await cal('cal').waitFor({ timeout: DEADLINE_MS });
    await cal('cal').locator('button[data-action=unavailable]').click();
    await cal('cal').locator('td', { hasText: /^unavailable$/ }).waitFor({ timeout: DEADLINE_MS });
    await cal('cal').locator('button[data-action=available]').click();
    await cal('cal').locator('td', { hasText: /^available$/ }).waitFor({ timeout: DEADLINE_MS });
    await cal('cal').locator('button[data-action=deactivate]').click();
    await cal('cal').locator('td', { hasText: /^deactivated$/ }).waitFor({ timeout: DEADLINE_MS });
    await cal('cal').locator('button[data-action=activate]').click();
    await cal('cal').locator('td', { hasText: /^active$/ }).waitFor({ timeout: DEADLINE_MS });
    await cal('cal').locator('input[name=name]').fill('cleo');
    await cal('cal').locator('input[name=name]').press('Enter');
    await cal('cleo').waitFor({ timeout: DEADLINE_MS });
    await a.locator('#notice', { hasText: 'cal is now cleo' }).waitFor({ timeout: DEADLINE_MS });
    if (await cal('cal').count()) fail('cal is still on the roster');
    // A refused rename (the name is Bea's) keeps the name typed, to be corrected.
    await cal('cleo').locator('input[name=name]').fill('bea');
    await provoking(409, async () => {
      await cal('cleo').locator('input[name=name]').press('Enter');
      await a.locator('#notice:not(.info)').waitFor({ timeout: DEADLINE_MS });
    });
    const kept = await cal('cleo').locator('input[name=name]').inputValue();
    if (kept !== 'bea') fail('a refused rename left ' + JSON.stringify(kept) + ' in the box');
    await cal('cleo').locator('input[name=name]').fill('');
    // The admin's own row offers no Deactivate (the API refuses it).
    if (await cal('ada').locator('button[data-action=deactivate]').count() ||
        !(await cal('ada').locator('button[data-action=unavailable]').count())) {
      fail('the admin\'s own row: ' + await cal('ada').innerText());
    }
    await b.goto(base + '/#/agents');
    await b.locator('#agents tr[data-agent="cleo"]').waitFor({ timeout: DEADLINE_MS });
    if (await b.locator('#agents button').count() || await b.locator('#agent-admin').isVisible()) fail('an agent is offered the admin\'s buttons');

    await a.goto(base + '/#/queue');
    await a.click('#queues button[data-queue=closed]');
    await rowShows(a, id, 'closed');
    await screenshot(a, artefacts, 'queue.png');

    // A long history: the page shows the latest 50 entries, and loads the
    // older ones on demand (a ticket made at the console, with 55 notes).
    desk.stdin.write('create -- A ticket with a long past\n');
    const longId = Number((await desk.waitFor('out', /"id":(\d+),"description":"A ticket with a long past"/))[1]);
    desk.stdin.write(Array.from({ length: 55 }, (_, k) => 'note ' + longId + ' step ' + k + '\n').join(''));
    await desk.waitFor('out', /"text":"step 54"/);
    await a.goto(base + '/#/ticket/' + longId);
    const older = a.locator('#history-older', { hasText: 'Load older entries (6 more)' });
    await older.waitFor({ timeout: DEADLINE_MS });
    if ((await a.locator('#ticket-history li').count()) !== 50) fail('the latest page is not 50 entries');
    await older.click();
    await a.locator('#ticket-history li').nth(55).waitFor({ timeout: DEADLINE_MS });
    const first = await a.locator('#ticket-history li').first().textContent();
    if (!/created/.test(first) || !(await a.locator('#history-older').isHidden())) fail('the older entries: ' + first);
    // A ticket that does not exist, reached from another ticket's page: the
    // page says so and shows nothing to act on (not the ticket drawn
    // before); going back to the queue clears the notice.
    await provoking(404, async () => {
      await a.goto(base + '/#/ticket/999999');
      await a.locator('#notice', { hasText: 'there is no ticket 999999' }).waitFor({ timeout: DEADLINE_MS });
    });
    if (await a.locator('#ticket-title').isVisible() || await a.locator('#reply-form').isVisible()) {
      fail('the page of a ticket that does not exist shows a ticket: ' + await a.locator('#ticket-title').textContent());
    }
    // A number past 2^53 is named as written, not rounded.
    await a.goto(base + '/#/ticket/99999999999999999999');
    await a.locator('#notice', { hasText: /^there is no ticket 99999999999999999999$/ }).waitFor({ timeout: DEADLINE_MS });
    if (await a.locator('#ticket-title').isVisible()) fail('the page of ticket 99999999999999999999 shows a ticket');
    // A paused SLA with under a minute left says so (not "0 min left").
    const paused = await a.evaluate(() => [30, 150].map((left) => slaText({ sla_left_s: left, breached: false })));
    if (paused.join('|') !== 'paused while pending (under a minute left)|paused while pending (3 min left)') {
      fail('a paused SLA says ' + paused.join('|'));
    }
    await a.click('text=Back to the queue');
    await a.locator('#tickets tbody tr').first().waitFor({ timeout: DEADLINE_MS });
    await a.locator('#notice').waitFor({ state: 'hidden', timeout: DEADLINE_MS });
    // A long word (200 characters, no space; a 64-character customer)
    // wraps: neither the queue nor the ticket's page is wider than the window.
    desk.stdin.write('create ' + 'W'.repeat(200) + ' --customer ' + 'C'.repeat(64) + '\n');
    const wideId = Number((await desk.waitFor('out', /"id":(\d+),"description":"W{200}"/))[1]);
    for (const [view, shown] of [['/#/queue', '#tickets tbody tr[data-id="' + wideId + '"]'],
      ['/#/ticket/' + wideId, '#ticket-title:has-text("#' + wideId + ' ")']]) {
      await a.goto(base + view);
      if (view === '/#/queue') await a.click('#queues button[data-queue=all]');
      await a.locator(shown).waitFor({ timeout: DEADLINE_MS });
      const [wide, inner] = await a.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
      if (wide > inner) fail(view + ' is ' + wide + ' px wide in a ' + inner + ' px window');
    }
    // In a narrow window a status badge keeps its word whole (one line box).
    await a.setViewportSize({ width: 420, height: 800 });
    await a.goto(base + '/#/queue');
    await a.click('#queues button[data-queue=all]');
    await a.locator('#tickets tbody tr .status').first().waitFor({ timeout: DEADLINE_MS });
    const broken = await a.evaluate(() => [...document.querySelectorAll('#tickets .status')]
      .filter((e) => e.getClientRects().length > 1).map((e) => e.textContent));
    if (broken.length) fail('status badges broken across lines: ' + broken.join(', '));
    // A 400 px window (a phone's): no page is wider than it (a table
    // scrolls sideways in its own box).
    await a.setViewportSize({ width: 400, height: 800 });
    for (const [view, shown] of [['/#/queue', '#tickets tbody tr'], ['/#/ticket/' + k, '#ticket-title'],
      ['/#/agents', '#agents tr[data-agent="bea"] button'], ['/#/tree', '#processes tbody tr']]) {
      await a.goto(base + view);
      await a.locator(shown).first().waitFor({ timeout: DEADLINE_MS });
      const [wide, inner] = await a.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
      if (wide > inner) fail(view + ' is ' + wide + ' px wide in a ' + inner + ' px window');
    }
    await a.setViewportSize({ width: 1280, height: 800 });
    if (errors.length) fail('console errors: ' + errors.join('; '));

    // The tree: kill the Store from its button, and watch it come back.
    await a.goto(base + '/#/tree');
    const store = a.locator('.node[data-name="Store"]');
    await store.waitFor({ timeout: DEADLINE_MS });
    // The process table, observer's: rows, sorted by memory.
    await a.locator('#processes tbody tr').nth(4).waitFor({ timeout: DEADLINE_MS });
    // A click on a column's heading sorts by it.
    await a.click('#processes th button[data-sort=queue]');
    await a.locator('#processes th[aria-sort=descending] button[data-sort=queue]').waitFor({ timeout: DEADLINE_MS });
    const queueCol = await a.locator('#processes tbody td:nth-child(6)').allTextContents();
    const qs = queueCol.map(Number);
    if (qs.some((q, i) => i > 0 && q > qs[i - 1])) fail('the queue column is not sorted: ' + qs);
    await a.click('#processes th button[data-sort=reductions]');
    await a.locator('#processes th[aria-sort=descending] button[data-sort=reductions]').waitFor({ timeout: DEADLINE_MS });
    const redCol = (await a.locator('#processes tbody td:nth-child(7)').allTextContents()).map(Number);
    if (!(redCol[0] > 0) || redCol.some((r, i) => i > 0 && r > redCol[i - 1])) {
      fail('the reductions column is not sorted, or shows no work: ' + redCol);
    }
    await a.click('#processes th button[data-sort=memory]');
    await a.locator('#processes th[aria-sort=descending] button[data-sort=memory]').waitFor({ timeout: DEADLINE_MS });
    await screenshot(a, artefacts, 'tree.png');

    // The console is outside the tree (nothing would restart it): its row
    // has no Kill button, the Store's has one.
    const consoleRow = a.locator('#processes tbody tr', { has: a.locator('td:nth-child(2)', { hasText: /^SupportSystem\.Console$/ }) });
    await consoleRow.waitFor({ timeout: DEADLINE_MS });
    if (await consoleRow.locator('button').count()) fail('the console\'s row has a Kill button');
    // The top supervisor's Kill asks first (it would stop the desk); dismissed, nothing is sent.
    const top = a.locator('#tree > li > .node');
    const topPid = await top.locator('.pid').textContent();
    let asked = '';
    const kills = [];
    const onRequest = (r) => { if (/\/kill$/.test(r.url())) kills.push(r.url()); };
    a.on('request', onRequest);
    a.once('dialog', (d) => { asked = d.message(); d.dismiss(); });
    await top.locator('button[data-kill]').click();
    if (!/stops the desk/.test(asked)) fail('killing the top supervisor did not ask first: ' + JSON.stringify(asked));
    // A request made after the click is seen after any the click made.
    await a.evaluate(() => fetch('/api/session'));
    a.off('request', onRequest);
    if (kills.length || (await top.locator('.pid').textContent()) !== topPid) {
      fail('a dismissed kill of the top supervisor was sent: ' + kills);
    }

    // Kill the ticket's worker: its supervisor starts another.
    const worker = a.locator('.node[data-name="SupportSystem.TicketWorker"]').first();
    await worker.waitFor({ timeout: DEADLINE_MS });
    const workerPid = await worker.locator('.pid').textContent();
    await worker.locator('button[data-kill]').click();
    await a.locator('#notice', { hasText: 'Killed SupportSystem.TicketWorker ' + workerPid }).waitFor({ timeout: DEADLINE_MS });
    const workerBack = Date.now() + DEADLINE_MS;
    for (;;) {
      const pids = await a.locator('.node[data-name="SupportSystem.TicketWorker"] .pid').allTextContents();
      if (pids.length && !pids.includes(workerPid)) break;
      if (Date.now() > workerBack) fail('the ticket worker ' + workerPid + ' was not replaced: ' + pids);
      await a.waitForTimeout(100);
    }

    const before = await store.locator('.pid').textContent();
    await store.locator('button[data-kill]').click();
    const deadline = Date.now() + DEADLINE_MS;
    for (;;) {
      const now = await a.locator('.node[data-name="Store"] .pid').textContent({ timeout: DEADLINE_MS }).catch(() => before);
      const meta = await a.locator('.node[data-name="Store"] .meta').textContent().catch(() => '');
      if (now !== before && /1 restart/.test(meta)) break;
      if (Date.now() > deadline) fail('the Store did not come back in the tree (still ' + now + ', ' + meta + ')');
      await a.waitForTimeout(100);
    }
    // The process table by restarts: the Store's restart heads it.
    await a.click('#processes th button[data-sort=restarts]');
    await a.locator('#processes th[aria-sort=descending] button[data-sort=restarts]').waitFor({ timeout: DEADLINE_MS });
    await a.locator('#processes tbody tr:first-child td:nth-child(8)', { hasText: /^[1-9]/ }).waitFor({ timeout: DEADLINE_MS });
    // The table's own Kill button: the Store again, and it comes back a second time.
    const storeRow = a.locator('#processes tbody tr', { has: a.locator('td:nth-child(2)', { hasText: /^SupportSystem\.Store$/ }) });
    await storeRow.locator('button.danger').click();
    const again = Date.now() + DEADLINE_MS;
    for (;;) {
      const meta = await a.locator('.node[data-name="Store"] .meta').textContent().catch(() => '');
      if (/2 restarts/.test(meta)) break;
      if (Date.now() > again) fail('the Store killed from the process table did not come back (' + meta + ')');
      await a.waitForTimeout(100);
    }
    // Nothing acknowledged was lost: the ticket is closed still.
    await a.goto(base + '/#/queue');
    await a.click('#queues button[data-queue=closed]');
    await rowShows(a, id, 'closed');
    // A ticket with no customer says so in its row, as one with no agent does.
    await a.click('#queues button[data-queue=all]');
    await a.fill('#create-form input[name=description]', 'Who sent this');
    await a.click('#create-form button[type=submit]');
    const anonRow = a.locator('#tickets tr', { hasText: 'Who sent this' });
    await anonRow.waitFor({ timeout: DEADLINE_MS });
    const anonCells = await anonRow.locator('td').allTextContents();
    if (anonCells[2] !== '—') fail('a ticket without a customer shows ' + JSON.stringify(anonCells));

    // Two agents edit one ticket: Bea types in the edit form while Ada
    // saves another description. Bea's page redraws live, her typing
    // stays, and her save is a conflict naming Ada: Ada's description is
    // not undone by the old one Bea's form still held.
    const edited = Number(await anonRow.getAttribute('data-id'));
    await b.goto(base + '/#/ticket/' + edited);
    await b.locator('#ticket-title', { hasText: 'Who sent this' }).waitFor({ timeout: DEADLINE_MS });
    const openEdit = (page) => page.evaluate(() => { document.querySelector('#edit').open = true; });
    await openEdit(b);
    await b.fill('#edit-form input[name=customer]', 'Globex');
    await a.goto(base + '/#/ticket/' + edited);
    await a.locator('#ticket-title', { hasText: 'Who sent this' }).waitFor({ timeout: DEADLINE_MS });
    await openEdit(a);
    await a.fill('#edit-form input[name=description]', 'Who sent this, and when');
    await a.click('#edit-form button[type=submit]');
    await b.locator('#ticket-title', { hasText: 'Who sent this, and when' }).waitFor({ timeout: DEADLINE_MS });
    if (await b.inputValue('#edit-form input[name=customer]') !== 'Globex') fail('the live redraw dropped what Bea typed');
    await b.click('#edit-form button[type=submit]');
    await b.locator('#notice', { hasText: 'ada' }).waitFor({ timeout: DEADLINE_MS });
    const after = await b.evaluate(async (tid) => (await (await fetch('/api/tickets/' + tid)).json()).ticket, edited);
    if (after.description !== 'Who sent this, and when' || after.customer !== '')
      fail('after the two edits the ticket is ' + JSON.stringify([after.description, after.customer]));
    // (The form is redrawn just after the notice shows.) Bea's form shows
    // Ada's description and keeps the customer Bea typed; her next Save,
    // made having seen the notice, is against the ticket as it is now.
    await b.waitForFunction(() => document.querySelector('#edit-form input[name=description]').value === 'Who sent this, and when',
      null, { timeout: 5000 }).catch(() => fail('after the conflict Bea\'s form still holds the old description'));
    if (await b.inputValue('#edit-form input[name=customer]') !== 'Globex') fail('the conflict threw away the customer Bea typed');
    await b.click('#edit-form button[type=submit]');
    await b.locator('#ticket-fields dd', { hasText: /^Globex$/ }).waitFor({ timeout: DEADLINE_MS });
    const saved = await b.evaluate(async (tid) => (await (await fetch('/api/tickets/' + tid)).json()).ticket, edited);
    if (saved.description !== 'Who sent this, and when' || saved.customer !== 'Globex')
      fail('Bea\'s second save left the ticket ' + JSON.stringify([saved.description, saved.customer]));

    // A create whose outcome is unknown (the first answer is replaced by a
    // 504, as when the Store does not confirm in time; the desk made it),
    // clicked again: the same Idempotency-Key, so one ticket.
    const keys = [];
    let answered = false;
    await a.goto(base + '/#/queue');
    await a.route('**/api/tickets', async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      keys.push(route.request().headers()['idempotency-key']);
      const answer = await route.fetch();
      if (answered) return route.fulfill({ response: answer });
      answered = true;
      return route.fulfill({ status: 504, contentType: 'application/json',
        body: JSON.stringify({ code: 'outcome_unknown', message: 'the Store did not confirm the change: it may or may not have been made' }) });
    });
    await a.fill('#create-form input[name=description]', 'Retried once');
    await a.click('#create-form button[type=submit]');
    await a.locator('#notice', { hasText: 'may or may not' }).waitFor({ timeout: DEADLINE_MS });
    await a.click('#create-form button[type=submit]');
    await a.locator('#notice', { hasText: /Ticket #\d+ created/ }).waitFor({ timeout: DEADLINE_MS });
    await a.unroute('**/api/tickets');
    if (keys.length !== 2 || !keys[0] || keys[0] !== keys[1]) fail('the create\'s keys: ' + JSON.stringify(keys));
    const retried = await a.evaluate(async () => (await (await fetch('/api/tickets?search=Retried&limit=10')).json()).tickets.length);
    if (retried !== 1) fail(retried + ' tickets made by a create and its retry');
    // A double-click on Create makes one ticket (each click would have a
    // key of its own): the button is disabled while the create is in flight.
    const creates = [];
    await a.route('**/api/tickets', async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      creates.push(route.request().headers()['idempotency-key']);
      await new Promise((r) => setTimeout(r, 300));
      return route.continue();
    });
    await a.fill('#create-form input[name=description]', 'Clicked twice');
    await a.dblclick('#create-form button[type=submit]');
    await a.locator('#notice', { hasText: /Ticket #\d+ created/ }).waitFor({ timeout: DEADLINE_MS });
    await a.waitForTimeout(500);
    await a.unroute('**/api/tickets');
    const twice = await a.evaluate(async () => (await (await fetch('/api/tickets?search=Clicked&limit=10')).json()).tickets.length);
    if (creates.length !== 1 || twice !== 1) fail('a double-click on Create sent ' + creates.length + ' creates and made ' + twice + ' tickets');
    if (await a.locator('#create-form button[type=submit]').isDisabled()) fail('Create stays disabled after the answer');

    // The Agents page follows the roster without a reload: an agent added
    // at the console shows, and so does another made unavailable.
    await a.goto(base + '/#/agents');
    await a.locator('#agents tr[data-agent="bea"]').waitFor({ timeout: DEADLINE_MS });
    desk.stdin.write('agent-add zoe\nagent-available bea off\n');
    await a.locator('#agents tr[data-agent="zoe"]').waitFor({ timeout: DEADLINE_MS });
    await a.locator('#agents tr[data-agent="bea"] td', { hasText: /^unavailable$/ }).waitFor({ timeout: DEADLINE_MS });
    desk.stdin.write('agent-available bea on\n');

    // A snapshot (the stream came back having missed changes) reads the
    // ticket's page again: here the stream is closed, a note is made at the
    // console, and the page learns of it only from the snapshot.
    await a.goto(base + '/#/ticket/' + edited);
    await a.locator('#ticket-title', { hasText: 'Who sent this' }).waitFor({ timeout: DEADLINE_MS });
    await a.evaluate(() => state.events.close());
    desk.stdin.write('note ' + edited + ' Noted while the stream was down\n');
    await desk.waitFor('out', /"text":"Noted while the stream was down"|Noted while the stream was down/);
    await a.evaluate(() => state.events.dispatchEvent(new MessageEvent('snapshot', { data: JSON.stringify({ tickets: [], reason: 'too_old' }) })));
    await a.locator('#ticket-history li.note blockquote', { hasText: 'Noted while the stream was down' }).waitFor({ timeout: DEADLINE_MS });
    // Bea's session ends elsewhere (signed out with her cookie, from
    // here): her page shows the sign-in view at once, saying why, without
    // a click (the stream ends with the session, and its reconnect is 401).
    const beaCookie = (await b.context().cookies()).find((c) => c.name === 'arbor_session');
    const beaCsrf = await b.evaluate(() => state.me.csrf_token);
    const out = await fetch(base + '/api/session', {
      method: 'DELETE', headers: { Cookie: 'arbor_session=' + beaCookie.value, 'X-CSRF-Token': beaCsrf },
    });
    if (out.status !== 200) fail('signing Bea out answered ' + out.status);
    await b.locator('#view-sign-in').waitFor({ timeout: 5000 }).catch(() => fail('Bea\'s page did not show the sign-in view when her session ended'));
    await b.locator('#notice', { hasText: 'You were signed out (your session ended). Sign in again.' }).waitFor({ timeout: 5000 });
    if (await b.locator('#me').isVisible() || await b.locator('#ticket-body').isVisible()) fail('Bea\'s page still shows her desk after her session ended');
    // A request (not the stream) that finds the session gone says the same.
    await a.goto(base + '/#/queue');
    await a.locator('#tickets tbody tr').first().waitFor({ timeout: DEADLINE_MS });
    await a.evaluate(() => { state.events.close(); state.events = null; });
    const adaCookie = (await a.context().cookies()).find((c) => c.name === 'arbor_session');
    await fetch(base + '/api/session', {
      method: 'DELETE', headers: { Cookie: 'arbor_session=' + adaCookie.value, 'X-CSRF-Token': await a.evaluate(() => state.me.csrf_token) },
    });
    await a.click('#queues button[data-queue=open]');
    await a.locator('#view-sign-in #sign-in-form').waitFor({ timeout: DEADLINE_MS });
    const said = await a.locator('#notice').textContent();
    if (said !== 'You were signed out (your session ended). Sign in again.') fail('a request without a session says ' + JSON.stringify(said));
    console.log('dashboard: sign-in, live queue, conflict, tree kill and restart checked; screenshots in ' + artefacts);
  } finally {
    if (browser) await browser.close();
    desk.stdin.end('quit\n');
    await new Promise((r) => { if (desk.exitCode !== null) r(); else desk.on('exit', r); });
    fs.rmSync(tmp, { recursive: true, force: true });
    if (/Sanitizer|runtime error/.test(desk.err)) fail('a sanitizer reported: ' + desk.err);
  }
}

main().catch((e) => {
  console.log('FAIL: ' + e.message + '\n' + (e.stack || '').split('\n').filter((l) => l.includes('dashboard.test.js')).join('\n'));
  process.exit(1);
});

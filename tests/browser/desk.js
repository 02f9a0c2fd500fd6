// What the browser tests share: Debian's Chromium through playwright-core
// (which downloads no browser), a desk started over pipes on its own
// database and a free loopback port, and screenshots checked not to be
// blank. Requiring it fails the test, saying what to install, when
// chromium or playwright-core is missing: `make test` installs both
// (scripts/install-deps.sh) first.
'use strict';

const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');

const CHROMIUM = '/usr/bin/chromium';
const DEADLINE_MS = 30000;

let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.log('playwright-core is not installed: run make deps (it runs npm ci in tests/browser)');
  process.exit(1);
}
if (!fs.existsSync(CHROMIUM)) {
  console.log(CHROMIUM + ' is not installed: run make deps (it installs Debian\'s chromium)');
  process.exit(1);
}

function fail(message) {
  throw new Error(message);
}

// Headless Chromium. Playwright starts it with a fresh, empty
// --user-data-dir of its own (it refuses one in args), removed when the
// browser closes.
function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// The desk over pipes, on tmp/desk.db and a free loopback port, with the
// options in extra: its stderr and stdout collected (desk.err, desk.out),
// its console written to (desk.stdin), and desk.waitFor(stream, re), the
// first match of re on 'err' or 'out' within the deadline.
function startDesk(binary, tmp, extra = []) {
  const desk = spawn(binary, ['--json', '--db', path.join(tmp, 'desk.db'), '--http', '127.0.0.1:0', ...extra],
    { stdio: ['pipe', 'pipe', 'pipe'] });
  desk.err = '';
  desk.out = '';
  desk.stderr.on('data', (d) => { desk.err += d; });
  desk.stdout.on('data', (d) => { desk.out += d; });
  desk.waitFor = async (stream, re) => {
    const deadline = Date.now() + DEADLINE_MS;
    for (;;) {
      const m = re.exec(stream === 'err' ? desk.err : desk.out);
      if (m) return m;
      if (desk.exitCode !== null) fail('the desk exited: ' + desk.err);
      if (Date.now() > deadline) fail('no ' + re + ' from the desk: ' + desk.err);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return desk;
}

// Ends the desk as its operator would (quit on the console); resolves to
// its exit status.
async function quitDesk(desk) {
  if (desk.exitCode === null) desk.stdin.end('quit\n');
  if (desk.exitCode === null) await new Promise((r) => desk.on('exit', r));
  return desk.exitCode;
}

// True when the PNG in buf shows more than a few colours (not blank).
async function notBlank(page, buf) {
  const colours = await page.evaluate(async (b64) => {
    const img = new Image();
    img.src = 'data:image/png;base64,' + b64;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    const px = g.getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < px.length && seen.size < 64; i += 4 * 97) seen.add(px[i] << 16 | px[i + 1] << 8 | px[i + 2]);
    return seen.size;
  }, buf.toString('base64'));
  return colours >= 8;
}

// Saves the page as dir/name and fails if the picture is blank.
async function screenshot(page, dir, name) {
  const buf = await page.screenshot({ fullPage: true });
  fs.writeFileSync(path.join(dir, name), buf);
  const scratch = await page.context().newPage();
  const ok = await notBlank(scratch, buf);
  await scratch.close();
  if (!ok) fail(name + ' is blank');
}

module.exports = { CHROMIUM, DEADLINE_MS, fail, launchBrowser, startDesk, quitDesk, screenshot };

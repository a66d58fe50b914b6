'use strict';
// dashboard.js: drives stratad's dashboard (/ui/) in Debian's chromium
// through playwright-core, as a person would: the one-time link (refused when
// used again), a wrong token refused, a login, scaling a deployment, a pod
// whose log holds <script>, and a node killed from the page with the failover
// time on the timeline.
// tests/agent/itest_dashboard.c brings up the cluster and runs this; the
// selectors are the ones UI_CONTRACT.md fixes. Every wait has a bound; every
// step saves a screenshot NN-name.png into STRATA_SHOTS and prints its result.
//
// Environment:
//   STRATA_UI_URL      https://127.0.0.1:PORT/ui/
//   STRATA_TOKEN       the admin token (STATE/pki/admin.token)
//   STRATA_LINK        a one-time login URL from `stratactl dashboard`
//   STRATA_CERT        the server's certificate (STATE/pki/apiserver.crt)
//   STRATA_SHOTS       folder for the screenshots
//   STRATA_NODES       the 3 node names, comma-separated
//   STRATA_SCRIPT_POD  the pod whose log holds <script>alert(1)</script>
//   STRATA_CHROMIUM    the browser (default /usr/bin/chromium)

const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const SCRIPT_LINE = '<script>alert(1)</script>';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (see the top of ${path.basename(__filename)})`);
  return v;
}

// The base64 SHA-256 of the certificate's SubjectPublicKeyInfo: what
// chromium's --ignore-certificate-errors-spki-list takes. The cluster's CA is
// made per cluster and thrown away with it, and chromium takes no CA file;
// trusting exactly this server key keeps every other certificate check on
// (ignoreHTTPSErrors stays false).
function spkiHash(certFile) {
  const cert = new crypto.X509Certificate(fs.readFileSync(certFile));
  const der = cert.publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(der).digest('base64');
}

const cfg = {
  url: env('STRATA_UI_URL'),
  token: env('STRATA_TOKEN'),
  link: env('STRATA_LINK'),
  cert: env('STRATA_CERT'),
  shots: env('STRATA_SHOTS'),
  nodes: env('STRATA_NODES').split(',').filter(Boolean),
  scriptPod: env('STRATA_SCRIPT_POD'),
  chromium: process.env.STRATA_CHROMIUM || '/usr/bin/chromium',
};

let shotNo = 0;
let current = null; // the page the running step works on, for its screenshot

async function shot(page, name) {
  shotNo++;
  const file = path.join(cfg.shots, `${String(shotNo).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true, timeout: 15000 });
  return file;
}

// What the page shows now, for failure messages: each node box with its
// state and its pods (ready or not).
async function pageSummary(page) {
  try {
    return await page.evaluate(() => {
      const boxes = [...document.querySelectorAll('.node')].map((n) => {
        const pods = [...n.querySelectorAll('.pod')].map(
          (p) => `${p.dataset.pod}${p.dataset.ready === 'true' ? '' : '(not ready)'}` +
            `${p.dataset.lost === 'true' ? '(lost)' : ''}`);
        return `${n.dataset.node} [${n.dataset.state}]: ${pods.join(' ') || '-'}`;
      });
      const fo = [...document.querySelectorAll('#timeline .failover')].map((e) => e.textContent.trim());
      const toast = document.querySelector('#toast');
      return `nodes: ${boxes.join('; ') || 'none'}` +
        (fo.length ? `; failover: ${fo.join(' | ')}` : '') +
        (toast && toast.textContent.trim() ? `; toast: ${toast.textContent.trim()}` : '');
    });
  } catch (e) {
    return `(page not readable: ${e.message.split('\n')[0]})`;
  }
}

// page.waitForFunction with a bound and a message saying what was awaited
// and what the page showed instead.
async function waitFor(page, what, fn, arg, timeout) {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 250 });
  } catch (e) {
    throw new Error(`${what}: not seen within ${timeout / 1000} s (${e.message.split('\n')[0]}); ` +
      `the page shows ${await pageSummary(page)}`);
  }
}

async function waitVisible(page, selector, what, timeout) {
  try {
    await page.waitForSelector(selector, { state: 'visible', timeout });
  } catch (e) {
    throw new Error(`${what}: ${selector} not visible within ${timeout / 1000} s; ` +
      `the page shows ${await pageSummary(page)}`);
  }
}

async function isVisible(page, selector) {
  return page.locator(selector).first().isVisible();
}

async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    const file = await shot(current, name);
    console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s) ${file}`);
  } catch (e) {
    let file = '';
    if (current) file = await shot(current, `${name}-FAILED`).catch(() => '(no screenshot)');
    console.log(`FAIL ${name}: ${e.message} ${file}`);
    throw e;
  }
}

// Every dialog is a failure except the confirm the test expects (killing a
// node): a <script> from a log that ran would show up here as an alert.
function watchDialogs(page, state) {
  page.on('dialog', async (d) => {
    if (d.type() === 'confirm' && state.onConfirm) {
      const done = state.onConfirm;
      state.onConfirm = null;
      await d.accept();
      done(d.message());
      return;
    }
    state.unexpected.push(`${d.type()}: ${d.message()}`);
    await d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
}

async function main() {
  fs.mkdirSync(cfg.shots, { recursive: true });
  if (cfg.nodes.length !== 3) throw new Error(`STRATA_NODES names ${cfg.nodes.length} nodes, want 3`);
  // chromium keeps its crash database under $XDG_CONFIG_HOME whatever the
  // profile: a home of its own, removed at the end, leaves nothing in ~.
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-ui-home-'));
  const dropHome = () => fs.rmSync(home, { recursive: true, force: true });
  process.on('exit', dropHome);
  const browser = await chromium.launch({
    executablePath: cfg.chromium,
    headless: true,
    env: { ...process.env, HOME: home, XDG_CONFIG_HOME: `${home}/config`, XDG_CACHE_HOME: `${home}/cache` },
    // What chromium needs on this machine (no sandbox as root, no GPU), and
    // nothing reaching outside 127.0.0.1. playwright gives it a fresh
    // profile of its own and removes it when the browser closes.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--ignore-certificate-errors-spki-list=${spkiHash(cfg.cert)}`],
    timeout: 60000,
  });
  const ctxOpts = { viewport: { width: 1400, height: 1000 }, ignoreHTTPSErrors: false };
  try {
    const ctx = await browser.newContext(ctxOpts);
    const page = await ctx.newPage();
    page.setDefaultTimeout(30000);
    const dialogs = { onConfirm: null, unexpected: [] };
    watchDialogs(page, dialogs);
    current = page;

    // The one-time link first (it is good for a minute from
    // `stratactl dashboard`), in browser contexts of their own (no cookie);
    // each step's screenshot is of its own page.
    const lctx = await browser.newContext(ctxOpts);
    try {
      await step('one-time-link', async () => {
        const lp = await lctx.newPage();
        watchDialogs(lp, dialogs);
        current = lp;
        await lp.goto(cfg.link, { timeout: 30000 });
        await waitVisible(lp, '#app', 'the app through the one-time link', 15000);
        if (new URL(lp.url()).pathname !== '/ui/') throw new Error(`the link landed on ${lp.url()}, not /ui/`);
        await waitFor(lp, '3 node boxes through the link', () => document.querySelectorAll('.node').length === 3,
          null, 30000);
      });
    } finally {
      current = page;
      await lctx.close();
    }

    const rctx = await browser.newContext(ctxOpts);
    try {
      await step('one-time-link-reused-refused', async () => {
        const rp = await rctx.newPage();
        current = rp;
        const resp = await rp.goto(cfg.link, { timeout: 30000 });
        if (!resp || resp.status() !== 401) throw new Error(`the link used twice answered ${resp ? resp.status() : 'nothing'}, want 401`);
        if (await rp.locator('#app').count() && await isVisible(rp, '#app')) throw new Error('the link used twice shows the app');
        const cookies = await rctx.cookies();
        if (cookies.some((c) => c.name === 'strata_session')) throw new Error('the link used twice set a session cookie');
      });
    } finally {
      current = page;
      await rctx.close();
    }

    await step('wrong-token-refused', async () => {
      await page.goto(cfg.url, { timeout: 30000 });
      await waitVisible(page, '#login', 'the login before any credentials', 15000);
      if (await isVisible(page, '#app')) throw new Error('#app is visible before logging in');
      if (await page.locator('.node').count()) throw new Error('node boxes shown before logging in');
      await page.fill('#token', `wrong-${cfg.token}`);
      await page.click('#login-submit');
      await waitVisible(page, '#login-error', 'a wrong token refused', 15000);
      if (await isVisible(page, '#app')) throw new Error('#app is visible after a wrong token');
    });

    await step('logged-in-3-nodes', async () => {
      await page.fill('#token', cfg.token);
      await page.click('#login-submit');
      await waitVisible(page, '#app', 'the app after logging in with the token', 15000);
      if (await isVisible(page, '#login')) throw new Error('#login still visible after logging in');
      await waitFor(page, `3 node boxes (${cfg.nodes.join(', ')}) each with a pod`, (names) =>
        document.querySelectorAll('.node').length === 3 &&
        names.every((n) => document.querySelector(`.node[data-node="${CSS.escape(n)}"] .pod`)),
      cfg.nodes, 60000);
      // the Service web with its 3 endpoints, each naming a web pod
      await waitFor(page, 'service web with 3 endpoints to web pods', () =>
        [...document.querySelectorAll('.service[data-service="web"] .endpoint')]
          .filter((e) => (e.dataset.pod || '').startsWith('web-')).length === 3,
      null, 60000);
    });

    await step('scaled-to-5', async () => {
      const dep = '.deployment[data-deployment="web"]';
      await waitVisible(page, dep, 'the web deployment', 15000);
      await page.fill(`${dep} input.replicas`, '5');
      await page.click(`${dep} button.scale`);
      // No eval in the page (its CSP forbids it): each wait spells its count.
      await waitFor(page, '5 ready web pods', () =>
        [...document.querySelectorAll('.pod[data-ready="true"]:not([data-lost="true"])')].filter((p) => p.dataset.pod.startsWith('web-')).length === 5,
      null, 120000);
    });

    await step('script-log-as-text', async () => {
      const pod = `.pod[data-pod="${cfg.scriptPod}"]`;
      await waitVisible(page, pod, `pod ${cfg.scriptPod}`, 15000);
      // its top-left corner: the box, not a button inside it
      await page.click(pod, { position: { x: 4, y: 4 } });
      await waitVisible(page, '#pod-detail', 'the pod detail', 15000);
      try {
        await waitFor(page, `#pod-log holding ${SCRIPT_LINE} as text`,
          (line) => (document.querySelector('#pod-log')?.textContent || '').includes(line), SCRIPT_LINE, 30000);
      } catch (e) {
        const html = await page.evaluate(() => document.querySelector('#pod-log')?.innerHTML ?? '(no #pod-log)');
        throw new Error(`${e.message}; #pod-log's HTML: ${JSON.stringify(html.slice(0, 300))}`);
      }
      const found = await page.evaluate((line) => {
        const log = document.querySelector('#pod-log');
        return {
          scriptsInLog: log.querySelectorAll('script').length,
          escaped: log.innerHTML.includes('&lt;script&gt;alert(1)&lt;/script&gt;'),
          scriptsAnywhere: [...document.scripts].filter((s) => s.textContent.includes('alert(1)')).length,
        };
      }, SCRIPT_LINE);
      if (found.scriptsInLog || found.scriptsAnywhere) throw new Error(`a script element was injected: ${JSON.stringify(found)}`);
      if (!found.escaped) throw new Error('#pod-log does not hold the line as escaped text');
      if (dialogs.unexpected.length) throw new Error(`a dialog opened: ${dialogs.unexpected.join('; ')}`);
    });

    // A node without the script pod, so the rest of the page stays as it was.
    const victim = await page.evaluate(({ names, sp }) =>
      names.find((n) => !document.querySelector(`.node[data-node="${CSS.escape(n)}"] .pod[data-pod="${CSS.escape(sp)}"]`)) || names[0],
    { names: cfg.nodes, sp: cfg.scriptPod });
    const box = `.node[data-node="${victim}"]`;

    await step('node-killed', async () => {
      let timer;
      const confirmed = new Promise((resolve, reject) => {
        dialogs.onConfirm = resolve;
        timer = setTimeout(() => reject(new Error(`killing ${victim} asked no confirm() within 10 s`)), 10000);
      });
      await page.click(`${box} button.node-kill`);
      try {
        console.log(`     confirm: ${await confirmed}`);
      } finally {
        clearTimeout(timer);
        dialogs.onConfirm = null;
      }
      await waitFor(page, `node ${victim} marked not Ready`,
        (sel) => { const n = document.querySelector(sel); return n && n.dataset.state !== 'Ready'; }, box, 60000);
    });

    await step('failover-timed', async () => {
      const re = `failover ${victim}: \\d+(\\.\\d+)? s`;
      await waitFor(page, `a .failover entry in #timeline matching /${re}/`,
        (r) => [...document.querySelectorAll('#timeline .failover')].some((e) => new RegExp(r).test(e.textContent)),
        re, 120000);
      const sel = cfg.nodes.filter((n) => n !== victim).map((n) => `.node[data-node="${n}"]`);
      await waitFor(page, `5 ready web pods on the survivors (${sel.join(', ')}) and none on ${victim}`,
        ({ s, v }) => {
          const ready = (b) => [...document.querySelectorAll(`${b} .pod[data-ready="true"]:not([data-lost="true"])`)]
            .filter((p) => p.dataset.pod.startsWith('web-')).length;
          return s.reduce((k, b) => k + ready(b), 0) === 5 && ready(v) === 0;
        }, { s: sel, v: box }, 30000);
      const text = await page.evaluate(() => [...document.querySelectorAll('#timeline .failover')].map((e) => e.textContent.trim()).join(' | '));
      console.log(`     timeline: ${text}`);
    });

    if (dialogs.unexpected.length) throw new Error(`unexpected dialogs: ${dialogs.unexpected.join('; ')}`);
  } finally {
    await browser.close();
  }
}

main().then(
  () => { console.log('dashboard: all steps passed'); },
  (e) => { console.log(`dashboard: failed: ${e.message}`); process.exitCode = 1; },
);

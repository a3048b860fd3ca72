/*
 * sale_page.js - a buyer in Debian's chromium (headless, driven by
 * puppeteer-core) on the sale page; run by tests/integration/test_browser.py
 * inside the test's client namespace. Never downloads a browser: it uses
 * /usr/bin/chromium (or $CHROMIUM).
 *
 *   node sale_page.js BASE_URL TOKEN OPEN_ID SOLD_OUT_ID
 *
 * Once the browser is up it prints READY and reads one line from stdin: the
 * start (Unix ms) of campaign OPEN_ID, which the test creates then, so the
 * countdown is seconds long however slow the browser was to start. Then it
 * prints one JSON object: what it saw at each step, for the test to check.
 * $SECKILL_SCREENSHOTS=DIR saves sale-page-before.png, -click.png and -after.png there.
 *
 * The click's proof of work is timed by the page itself (app.js leaves
 * data-pow-ms and data-pow-tries on #result: the worker's start included).
 * $SECKILL_POW_SOLVES=N (and $SECKILL_POW_BITS, default 16) then has the page
 * start its Web Worker N more times, one after the other, each on a fresh
 * challenge of the server's shape (campaign.bits.issued_s.mac, the mac random:
 * the server would give one buyer the same challenge within a second), and
 * reports each solve's time, as the page's own solve() measures it.
 */
'use strict';

const puppeteer = require('puppeteer-core');
const path = require('path');
const fs = require('fs');
const os = require('os');

const [base, token, openId, soldId] = process.argv.slice(2);
let startsAtMs = 0;

function readLine() {
	return new Promise((resolve) => {
		let buf = '';
		process.stdin.setEncoding('utf8');
		process.stdin.on('data', (d) => {
			buf += d;
			if (buf.includes('\n'))
				resolve(buf.split('\n')[0]);
		});
	});
}
const shots = process.env.SECKILL_SCREENSHOTS || '';
const out = { steps: [], console_errors: [], expected_failed_loads: [], http_errors: [] };

function step(name, data) {
	out.steps.push(Object.assign({ step: name, t: Date.now() }, data || {}));
}

async function text(page, id) {
	return page.$eval('#' + id, (e) => e.textContent);
}

async function shot(page, name) {
	if (!shots)
		return;
	fs.mkdirSync(shots, { recursive: true });
	await page.screenshot({ path: path.join(shots, name) });
}

/* N solves at bits in the page's Web Worker, one at a time: ms and tries each. */
async function powSolves(page, bits, n) {
	return page.evaluate(async (bits, n) => {
		const times = [], tries = [];
		for (let i = 0; i < n; i++) {
			let mac = '';
			while (mac.length < 16)
				mac += Math.floor(Math.random() * 16).toString(16);
			const challenge = '1.' + bits + '.' + Math.floor(Date.now() / 1000) + '.' + mac;
			const t0 = performance.now();
			const r = await new Promise((resolve, reject) => {
				const w = new Worker('/worker.js');
				w.onmessage = (e) => { w.terminate(); resolve(e.data); };
				w.onerror = (e) => { w.terminate(); reject(new Error(e.message)); };
				w.postMessage({ challenge, bits });
			});
			times.push(performance.now() - t0);
			tries.push(r.tries);
		}
		return { bits, times, tries };
	}, bits, n);
}

async function waitResult(page, re, timeout) {
	await page.waitForFunction((src) => new RegExp(src, 'i').test(
		document.getElementById('result').textContent), { timeout, polling: 50 }, re.source);
	return text(page, 'result');
}

let failPage = null;

async function main() {
	const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'seckill-chromium-'));
	const browser = await puppeteer.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		headless: true,
		userDataDir: profile,
		args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
		       '--no-first-run', '--disable-extensions', '--window-size=420,860'],
	});
	try {
		const page = await browser.newPage();
		await page.setViewport({ width: 420, height: 860, deviceScaleFactor: 1 });
		page.on('console', (m) => {
			if (m.type() !== 'error')
				return;
			/* A refused buy is an HTTP error status the page expects and
			 * explains (409 already bought, 410 sold out): chromium logs
			 * each as a failed load; anything else is a real error. */
			if (/status of 4(09|10) /.test(m.text()))
				out.expected_failed_loads.push(m.text());
			else
				out.console_errors.push(m.text());
		});
		page.on('pageerror', (e) => out.console_errors.push('pageerror: ' + e.message));
		page.on('requestfailed', (q) => out.console_errors.push('request failed: ' + q.url() +
			' ' + (q.failure() && q.failure().errorText)));
		page.on('response', (q) => {
			if (q.status() >= 400)
				out.http_errors.push(q.status() + ' ' + q.url());
		});
		failPage = page;

		/* The campaign that opens a few seconds after the page loads. */
		console.log('READY');
		startsAtMs = Number(await readLine());
		process.stdin.pause();
		await page.goto(`${base}/c/${openId}#token=${encodeURIComponent(token)}`,
				{ waitUntil: 'load' });
		await page.waitForFunction(() => /\d\d:\d\d:\d\d/.test(
			document.getElementById('countdown').textContent), { timeout: 5000 });
		const c1 = await text(page, 'countdown');
		const disabledBefore = await page.$eval('#buy', (b) => b.disabled);
		await new Promise((r) => setTimeout(r, 1200));
		const c2 = await text(page, 'countdown');
		step('before', { countdown1: c1, countdown2: c2, disabled: disabledBefore,
				 left: await text(page, 'left'), name: await text(page, 'name') });
		await shot(page, 'sale-page-before.png');

		await page.waitForFunction(() => !document.getElementById('buy').disabled,
					   { timeout: 20000, polling: 20 });
		step('enabled', { server_starts_at: Number(startsAtMs),
				  countdown: await text(page, 'countdown') });

		await page.click('#buy');
		await shot(page, 'sale-page-click.png');
		const r1 = await waitResult(page, /confirmed|refused|sold out|limited|closed/, 25000);
		step('first_click', { result: r1, left: await text(page, 'left'),
				      pow_ms: await page.$eval('#result', (e) => Number(e.dataset.powMs)),
				      pow_tries: await page.$eval('#result', (e) => Number(e.dataset.powTries)) });
		await new Promise((r) => setTimeout(r, 1200));   /* the units left poll */
		await shot(page, 'sale-page-after.png');

		await page.waitForFunction(() => !document.getElementById('buy').disabled,
					   { timeout: 5000 });
		await page.click('#buy');
		const r2 = await waitResult(page, /already bought|refused|limited/, 15000);
		step('second_click', { result: r2 });

		/* A sold-out campaign. */
		await page.goto(`${base}/c/${soldId}#token=${encodeURIComponent(token)}`,
				{ waitUntil: 'load' });
		const r3 = await waitResult(page, /sold out/, 10000);
		step('sold_out', { result: r3, disabled: await page.$eval('#buy', (b) => b.disabled),
				   left: await text(page, 'left') });

		/* The list. */
		await page.goto(`${base}/`, { waitUntil: 'load' });
		await page.waitForSelector('#campaigns a', { timeout: 5000 });
		const links = await page.$$eval('#campaigns a', (as) => as.map((a) => a.getAttribute('href')));
		step('list', { links });

		const solves = Number(process.env.SECKILL_POW_SOLVES || 0);
		if (solves > 0)
			step('pow_solves', await powSolves(page,
				Number(process.env.SECKILL_POW_BITS || 16), solves));
	} catch (e) {
		if (failPage)
			out.page_text = await failPage.evaluate(() => document.body.innerText).catch(() => '');
		throw e;
	} finally {
		await browser.close();
		fs.rmSync(profile, { recursive: true, force: true });
	}
}

main().then(() => {
	console.log(JSON.stringify(out));
}, async (e) => {
	out.error = String(e && e.stack || e);
	console.log(JSON.stringify(out));
	process.exitCode = 1;
});

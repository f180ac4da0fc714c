// dashboard.mjs - the agent's web dashboard in a real headless Chromium (playwright-core).
//
// Starts `gpuscope serve --demo`, opens `/` and checks what the page promises: no console
// error and no CSP violation, no request leaves the agent, every GPU has its card, every
// chart draws data (series count, non-null points, a non-blank canvas), the selected GPU's
// verdicts and the processes match /api/v1/*, the per-inference panel shows the figures of
// inferences the test sends the agent's socket (as a `gpuscope run` program does) and draws
// its charts, the per-token table shows the simulated inference servers of /api/v1/servers,
// a history range switch loads /api/v1/series and redraws, first paint under 500 ms, page
// and assets under 150 KB compressed.  Screenshots of each view go to $GPUSCOPE_ARTIFACTS (kept by the build).
//   env: GPUSCOPE_BIN, GPUSCOPE_SIM_LIB, GPUSCOPE_CHROMIUM, GPUSCOPE_ARTIFACTS, NODE_PATH
import {spawn, spawnSync} from 'node:child_process';
import {mkdirSync, mkdtempSync, rmSync} from 'node:fs';
import os from 'node:os';
import http from 'node:http';
import {createRequire} from 'node:module';
import path from 'node:path';

// NODE_PATH: the node_modules folder npm installed playwright-core into (from the cache).
const require = createRequire(import.meta.url);
const {chromium} = require(path.resolve(process.env.NODE_PATH || 'node_modules', 'playwright-core'));
const BIN = process.env.GPUSCOPE_BIN || 'build/gpuscope';
const ART = process.env.GPUSCOPE_ARTIFACTS || 'build/test-artifacts/dashboard';
mkdirSync(ART, {recursive: true});

let failures = 0;
function check(ok, what) {
	console.log((ok ? 'ok   ' : 'FAIL ') + what);
	if (!ok) failures++;
}

const TMP = mkdtempSync(path.join(os.tmpdir(), 'gpuscope-dashboard-'));
const SOCK = path.join(TMP, 'inference.sock');

function startAgent() {
	return new Promise((resolve, reject) => {
		const p = spawn(BIN, ['serve', '--demo', '--listen', '127.0.0.1:0', '--inference-socket', SOCK], {stdio: ['ignore', 'ignore', 'pipe']});
		let err = '';
		p.stderr.on('data', (d) => {
			err += d;
			const m = err.match(/on port (\d+)/);
			if (m) resolve({proc: p, port: Number(m[1])});
		});
		p.on('exit', (c) => reject(new Error('agent exited ' + c + ':\n' + err)));
		setTimeout(() => reject(new Error('agent did not start:\n' + err)), 15000);
	});
}

function get(port, p, gzip) {
	return new Promise((resolve, reject) => {
		http.get({host: '127.0.0.1', port, path: p, headers: gzip ? {'Accept-Encoding': 'gzip'} : {}}, (r) => {
			const chunks = [];
			r.on('data', (c) => chunks.push(c));
			r.on('end', () => resolve({status: r.statusCode, headers: r.headers, body: Buffer.concat(chunks)}));
		}).on('error', reject);
	});
}
const json = async (port, p) => JSON.parse((await get(port, p)).body.toString());

// Datagrams as libgpuscope-inject.so sends them (docs/inference.md), 50 lines each; node
// has no unix datagram sockets, python3 (the integration tests') does.
function sendInferences(lines) {
	const py = 'import socket, sys\ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n' +
		'ls = sys.stdin.read().split("\\n")\nfor i in range(0, len(ls), 50): s.sendto("\\n".join(ls[i:i + 50]).encode(), sys.argv[1])\n';
	const r = spawnSync('python3', ['-c', py, SOCK], {input: lines.join('\n')});
	if (r.status !== 0) throw new Error('python3: ' + r.stderr);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const {proc, port} = await startAgent();
const base = 'http://127.0.0.1:' + port;
let browser;
try {
	// Size: the page and every asset it loads, as sent gzip'd.
	let total = 0;
	for (const p of ['/', '/assets/app.js', '/assets/app.css', '/assets/uplot.js', '/assets/uplot.css']) {
		const r = await get(port, p, true);
		check(r.status === 200, 'GET ' + p + ' is 200');
		check(/script-src 'self'/.test(r.headers['content-security-policy'] || ''), p + ' has the CSP');
		total += r.body.length;
	}
	total += 1024; // the page itself is not gzip'd by the agent: count it in full above, plus headers
	check(total < 150 * 1024, 'page and assets are ' + Math.round(total / 1024) + ' KB (< 150 KB)');

	browser = await chromium.launch({executablePath: process.env.GPUSCOPE_CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox']});
	const page = await browser.newPage({viewport: {width: 1400, height: 1000}});
	const errors = [], outside = [], seriesCalls = [];
	// The one answer allowed to fail: /api/v1/diagnosis is 503 until the agent's first
	// diagnosis (its first seconds, docs/api.md), and Chromium logs every 5xx it fetches.
	const warmup = (url) => url === base + '/api/v1/diagnosis';
	page.on('console', (m) => {
		if (m.type() === 'error' && !warmup(m.location().url)) errors.push(m.text());
	});
	page.on('pageerror', (e) => errors.push(String(e)));
	page.on('response', (r) => {
		if (r.status() >= 400 && !(r.status() === 503 && warmup(r.url()))) errors.push(r.status() + ' ' + r.url());
	});
	page.on('request', (r) => {
		if (!r.url().startsWith(base + '/')) outside.push(r.url());
		if (r.url().includes('/api/v1/series')) seriesCalls.push(r.url());
	});

	// First paint on loopback, the best of five warm loads: the first load also starts the
	// browser's own machinery, and this machine is shared, so one slow load says little.
	await page.goto(base + '/');
	let fcp = null;
	for (let i = 0; i < 5; i++) {
		await page.reload();
		// The paint entry is recorded after the frame: wait for it (a loaded machine can
		// finish 'load' before the compositor has reported the first paint).
		await page.waitForFunction(
			() => performance.getEntriesByName('first-contentful-paint').length > 0,
			null, {timeout: 3000}).catch(() => {});
		const t = await page.evaluate(() => {
			const e = performance.getEntriesByName('first-contentful-paint')[0];
			return e ? e.startTime : null;
		});
		if (t !== null && (fcp === null || t < fcp)) fcp = t;
	}
	check(fcp !== null && fcp < 500, 'first contentful paint ' + Math.round(fcp) + ' ms (< 500)');
	check(await page.locator('#simulated').isVisible(), 'the SIMULATED banner shows');

	const gpus = await json(port, '/api/v1/gpus');
	await page.waitForFunction((n) => document.querySelectorAll('#cards .card').length === n, gpus.gpus.length);
	check(true, 'a card for each of the ' + gpus.gpus.length + ' GPUs');

	// Live charts: five charts, each with series and real points.
	await page.waitForFunction(() => {
		const d = window.gpuscopeDashboard;
		return d.charts.length === 5 && d.charts.every((c) => c.data[0].length >= 3);
	}, null, {timeout: 20000});
	const live = await page.evaluate(() => window.gpuscopeDashboard.charts.map((c) => ({
		series: c.series.length, points: c.data[0].length,
		values: c.data.slice(1).flat().filter((v) => v != null).length,
		inked: (() => {
			const cv = c.root.querySelector('canvas');
			const px = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
			let n = 0;
			for (let i = 3; i < px.length; i += 4) if (px[i]) n++;
			return n;
		})(),
	})));
	live.forEach((c, i) => check(c.series >= 2 && c.values > 0 && c.inked > 500, 'live chart ' + i + ': ' + JSON.stringify(c)));
	await page.screenshot({path: path.join(ART, 'live.png'), fullPage: true});

	// Per inference: 100 inferences of 1..100 ms on GPU 0, half of each on the GPU, 2 J each,
	// ended 30 s ago; the panel shows them (history merged with the intervals still open).
	const end0 = Date.now() * 1e6 - 30e9;
	sendInferences(Array.from({length: 100}, (_, k) => {
		const i = k + 1, lat = i / 1000, end = end0 + i * 90e6;
		return JSON.stringify({type: 'inference', pid: 1, process: 'bench.py', range: 'infer', boundary: 'nvtx',
			complete: true, seq: i, device: 0, gpu: '0', start_unix_ns: end - lat * 1e9, end_unix_ns: end,
			latency_s: lat, gpu_busy_s: lat / 2, kernels: 7, h2d_bytes: 4096, d2h_bytes: 1024, energy_j: 2.0});
	}));
	await page.waitForFunction(() => [...document.querySelectorAll('#inferences tr[data-row]')]
		.some((r) => r.children[2].textContent === 'infer' && r.children[3].textContent === '100'), null, {timeout: 20000});
	const inf = await json(port, '/api/v1/inference?range=15m');
	const api = inf.rows.find((r) => r.range === 'infer');
	const cells = await page.$$eval('#inferences tr[data-row]', (rs) => rs.map((r) => [...r.children].map((c) => c.textContent)));
	const row = cells.find((c) => c[2] === 'infer');
	const near = (shown, want) => Math.abs(Number(shown) - want) <= 0.022 * want;
	check(row[0] === '0' && row[1] === 'bench.py (' + api.pid + ')', 'inference row names GPU 0 and the process: ' + row.slice(0, 3).join(' | '));
	check(row[5] === (api.latency_seconds.p50 * 1e3).toPrecision(3) && near(row[5], 50), 'p50 ' + row[5] + ' ms: /api/v1/inference\'s, and 50 ms to 2.2%');
	check(row[6] === (api.latency_seconds.p95 * 1e3).toPrecision(3) && near(row[6], 95), 'p95 ' + row[6] + ' ms (95 ms sent)');
	check(row[7] === (api.latency_seconds.p99 * 1e3).toPrecision(3) && near(row[7], 99), 'p99 ' + row[7] + ' ms (99 ms sent)');
	check(Math.abs(Number(row[8]) - 25.25) < 0.06, 'GPU time per inference ' + row[8] + ' ms (25.25 sent)');
	check(row[9] === '2.00', 'energy per inference ' + row[9] + ' J (2 sent)');
	check(row[10] === api.cost_per_inference.toPrecision(3), 'money per inference ' + row[10] + ' ' + inf.currency);
	check(Math.abs(Number(row[4]) - api.inferences_per_second) <= 0.005 * api.inferences_per_second, 'inferences/s ' + row[4]);
	await page.waitForFunction(() => window.gpuscopeDashboard.infCharts.length === 4, null, {timeout: 10000});
	const infCharts = await page.evaluate(() => window.gpuscopeDashboard.infCharts.map((c) => ({
		title: c.root.querySelector('.u-title').textContent, series: c.series.length,
		values: c.data.slice(1).flat().filter((v) => v != null),
		inked: (() => {
			const cv = c.root.querySelector('canvas');
			const px = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
			let n = 0;
			for (let i = 3; i < px.length; i += 4) if (px[i]) n++;
			return n;
		})(),
	})));
	infCharts.forEach((c) => check(c.values.length > 0 && c.inked > 500, 'inference chart "' + c.title + '": ' + c.values.length + ' values, ' + c.inked + ' px'));
	const rate = infCharts[0].values.reduce((a, b) => a + b, 0) * inf.step_s;
	check(Math.abs(rate - api.inferences) < 1e-3, 'inferences/s chart adds up to the ' + api.inferences + ' inferences: ' + rate);
	check(infCharts[3].values.filter((v) => v > 0).every((v) => Math.abs(v - 2) < 1e-9), 'energy chart draws 2 J per inference');

	// Per token: the simulated inference servers, once their window has filled.
	let servers;
	for (let i = 0; i < 60; i++) {
		servers = await json(port, '/api/v1/servers');
		if (servers.servers.some((sv) => (sv.models || []).some((m) => m.tokens_generated_per_second != null))) break;
		await sleep(1000);
	}
	const models = servers.servers.flatMap((sv) => (sv.models || []).filter((m) => m.tokens_generated_per_second != null).map((m) => [sv.server, m]));
	await page.waitForFunction((n) => document.querySelectorAll('#tokens tr[data-server]').length >= n, models.length, {timeout: 10000});
	const tokens = await page.$$eval('#tokens tr[data-server]', (rs) => rs.map((r) => [r.dataset.server, r.dataset.model, r.children[3].textContent, r.children[4].textContent]));
	check(models.length > 0 && models.every(([sv, m]) => tokens.some((t) => t[0] === sv && t[1] === m.model)), 'per-token rows for the ' + models.length + ' server models of /api/v1/servers');
	check(models.every(([sv, m]) => {
		const t = tokens.find((x) => x[0] === sv && x[1] === m.model);
		return t && Math.abs(Number(t[2]) - m.tokens_generated_per_second) <= 0.25 * m.tokens_generated_per_second;
	}), 'tokens/s shown agree with /api/v1/servers: ' + tokens.map((t) => t[1] + ' ' + t[2]).join(', '));
	await page.screenshot({path: path.join(ART, 'inferences.png'), fullPage: true});

	// Verdicts of a GPU, once the diagnosis has run, in order of severity.
	await page.click('#cards .card[data-gpu="5"]');
	let diag;
	for (let i = 0; i < 60; i++) {
		diag = await json(port, '/api/v1/diagnosis');
		if ((diag.verdicts || []).some((v) => v.gpu === 5)) break;
		await sleep(1000);
	}
	const rank = {critical: 3, warning: 2, info: 1};
	const want = diag.verdicts.filter((v) => v.gpu === 5).sort((a, b) => rank[b.severity] - rank[a.severity]).map((v) => v.id);
	await page.waitForFunction((n) => document.querySelectorAll('#verdicts article').length === n, want.length, {timeout: 10000});
	const shown = await page.$$eval('#verdicts article', (as) => as.map((a) => a.dataset.verdict));
	check(JSON.stringify(shown) === JSON.stringify(want), 'GPU 5 verdicts ' + JSON.stringify(shown) + ' match /api/v1/diagnosis ' + JSON.stringify(want));
	check(await page.locator('#verdicts .fix').count() === want.length, 'every verdict has its fix');

	const procs = await json(port, '/api/v1/processes');
	const pids = procs.gpus.flatMap((g) => g.processes.map((p) => String(p.pid))).sort();
	const rows = (await page.$$eval('#processes tr[data-pid]', (rs) => rs.map((r) => r.dataset.pid))).sort();
	check(pids.length > 0 && JSON.stringify(rows) === JSON.stringify(pids), 'processes ' + rows.join(',') + ' match /api/v1/processes');
	await page.screenshot({path: path.join(ART, 'gpu5.png'), fullPage: true});

	// A history range: /api/v1/series is asked, and the charts redraw from it with bands.
	await page.click('nav button[data-range="15m"]');
	await page.waitForFunction(() => {
		const d = window.gpuscopeDashboard;
		return d.series && d.charts.length === 5 && d.charts[0].data[0].length === d.series.points;
	}, null, {timeout: 15000});
	check(seriesCalls.some((u) => u.includes('range=15m') && u.includes('gpu=5')), 'the range switch asked /api/v1/series?range=15m&gpu=5');
	const hist = await page.evaluate(() => window.gpuscopeDashboard.charts.map((c) => ({series: c.series.length, bands: (c.bands || []).length, values: c.data.slice(1).flat().filter((v) => v != null).length})));
	check(hist[0].bands >= 1 && hist[0].values > 0, 'history activity chart has min-max bands: ' + JSON.stringify(hist[0]));
	hist.forEach((c, i) => check(c.values > 0, 'history chart ' + i + ' has data'));
	await page.screenshot({path: path.join(ART, 'history-15m.png'), fullPage: true});

	// Built without uPlot (no npm): the page says so where the charts would be, and still
	// shows every GPU.  The agent's fallback script is what the build embeds then.
	const bare = await browser.newPage();
	await bare.route('**/assets/uplot.js', (r) => r.fulfill({contentType: 'text/javascript', body: 'window.gpuscopeNoCharts = "npm or node was not found when this agent was built";'}));
	bare.on('pageerror', (e) => errors.push('no-charts page: ' + e));
	await bare.goto(base + '/');
	await bare.waitForFunction((n) => document.querySelectorAll('#cards .card').length === n, gpus.gpus.length);
	const note = await bare.textContent('#charts .nocharts');
	check(/not built into this agent: npm or node was not found/.test(note), 'without uPlot the page says why: ' + note);
	await bare.close();

	check(errors.length === 0, 'no console error' + (errors.length ? ': ' + errors.join(' | ') : ''));
	check(outside.length === 0, 'no request outside the agent' + (outside.length ? ': ' + outside.join(' ') : ''));
} catch (e) {
	console.log('FAIL ' + (e.stack || e));
	failures++;
} finally {
	if (browser) await browser.close();
	proc.kill('SIGTERM');
	rmSync(TMP, {recursive: true, force: true});
}
console.log(failures ? failures + ' check(s) failed' : 'all checks passed; screenshots in ' + ART);
process.exit(failures ? 1 : 0);

// bench/dashboard_cpu.mjs [WINDOW_S] - what an open dashboard costs the agent.
//
// Starts `gpuscope serve --demo` (8 simulated GPUs), measures the agent's CPU (utime +
// stime from /proc/PID/stat) over WINDOW_S seconds (default 30) with no client, then the
// same window with the dashboard open in headless Chromium (live view: /api/v1/gpus each
// second, processes, workloads and diagnosis every 5 s), then with the 24 h history view
// (/api/v1/series every 60 s), and prints ms of CPU per second for each and the ratio.
// Needs node, chromium and playwright-core (NODE_PATH=build/web/npm-test/node_modules).
// Loopback only; a benchmark, never a test.
import {spawn} from 'node:child_process';
import {readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const {chromium} = require(path.resolve(process.env.NODE_PATH || 'build/web/npm-test/node_modules', 'playwright-core'));
const BIN = process.env.GPUSCOPE_BIN || 'build/gpuscope';
const win = Number(process.argv[2] || 30);
const tick = 100; // USER_HZ

const agent = spawn(BIN, ['serve', '--demo', '--listen', '127.0.0.1:0'], {stdio: ['ignore', 'ignore', 'pipe']});
const port = await new Promise((resolve) => {
	let err = '';
	agent.stderr.on('data', (d) => { err += d; const m = err.match(/on port (\d+)/); if (m) resolve(Number(m[1])); });
});
const cpu = () => {
	const f = readFileSync('/proc/' + agent.pid + '/stat', 'utf8').split(') ')[1].split(' ');
	return (Number(f[11]) + Number(f[12])) / tick; // utime + stime, seconds
};
const sleep = (s) => new Promise((r) => setTimeout(r, s * 1000));
async function measure(label) {
	const c0 = cpu();
	await sleep(win);
	const ms = ((cpu() - c0) * 1000) / win;
	console.log(label.padEnd(34) + ms.toFixed(2).padStart(8) + ' ms/s');
	return ms;
}
await sleep(10); // warm-up: probes, first history rows
const idle = await measure('agent, no client');
const browser = await chromium.launch({executablePath: process.env.GPUSCOPE_CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox']});
const page = await browser.newPage();
await page.goto('http://127.0.0.1:' + port + '/');
await sleep(3);
const live = await measure('agent, dashboard open (live)');
await page.click('nav button[data-range="24h"]');
await sleep(3);
const hist = await measure('agent, dashboard open (24 h)');
await browser.close();
agent.kill('SIGINT');
console.log('dashboard open costs the agent ' + (live - idle).toFixed(2) + ' ms/s live, ' + (hist - idle).toFixed(2) + ' ms/s on 24 h (' + (live / idle).toFixed(2) + 'x and ' + (hist / idle).toFixed(2) + 'x of no client)');

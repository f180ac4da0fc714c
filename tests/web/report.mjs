// report.mjs - the HTML report rendered in a real headless Chromium (playwright-core).
//
// `gpuscope report --demo --format html` for the default 8-GPU scenario: four charts per
// GPU plus a temperature and clock pair under each thermal or power verdict (counted from
// the same report as JSON), a summary table linking every GPU, Xid marks on the GPU that
// has them, no console error, and a page shorter than 1,000 px per GPU.  Then a scenario
// with 10 s bursts each minute over 6 h: the utilization chart's band reaches the bursts
// (100%) while its mean line stays near their average (17%); and two GPUs sharing a
// "not judged" reason get it once.  Screenshots are kept.
//   env: GPUSCOPE_BIN, GPUSCOPE_SIM_LIB, GPUSCOPE_CHROMIUM, GPUSCOPE_ARTIFACTS, NODE_PATH
import {execFileSync} from 'node:child_process';
import {mkdirSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const {chromium} = require(path.resolve(process.env.NODE_PATH || 'node_modules', 'playwright-core'));
const BIN = process.env.GPUSCOPE_BIN || 'build/gpuscope';
const ART = process.env.GPUSCOPE_ARTIFACTS || 'build/test-artifacts/report';
mkdirSync(ART, {recursive: true});

let failures = 0;
function check(ok, what) {
	console.log((ok ? 'ok   ' : 'FAIL ') + what);
	if (!ok) failures++;
}
const report = (...args) => execFileSync(BIN, ['report', ...args], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']});

const browser = await chromium.launch({executablePath: process.env.GPUSCOPE_CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox']});
try {
	const page = await browser.newPage({viewport: {width: 1200, height: 900}});
	const errors = [];
	page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
	page.on('pageerror', (e) => errors.push(String(e)));

	const doc = JSON.parse(report('--demo', '--format', 'json'));
	const ngpus = doc.gpus.length;
	const clockGpus = new Set(doc.verdicts.filter((v) => ['thermal_throttling', 'power_capped'].includes(v.id)).map((v) => v.gpu));
	const file = path.join(os.tmpdir(), 'gpuscope-report-' + process.pid + '.html');
	writeFileSync(file, report('--demo', '--format', 'html'));
	await page.goto('file://' + file);
	const charts = await page.$$eval('svg.chart', (s) => s.map((e) => ({chart: e.dataset.chart, marks: Number(e.dataset.marks)})));
	const want = 4 * ngpus + 2 * clockGpus.size;
	check(charts.length === want, charts.length + ' charts (4 a GPU, 2 more under each of ' + clockGpus.size + ' thermal or power verdicts: ' + want + ')');
	for (const g of clockGpus) {
		const under = await page.$$eval('#gpu-' + g + ' ~ div.v + div.charts svg.chart', (s) => s.map((e) => e.dataset.chart));
		check(under.includes('Temperature') && under.includes('SM clock'), 'GPU ' + g + ': temperature and clock charts under its verdict');
	}
	const links = await page.$$eval('table.summary a', (as) => as.map((a) => a.getAttribute('href')));
	check(links.length === ngpus && links.every((h, i) => h === '#gpu-' + i), 'the summary table links every GPU');
	check(charts.some((c) => c.marks > 0), 'Xid or ECC events are marked on a chart');
	const ticks = await page.$$eval('svg.chart', (s) => Math.min(...s.map((e) => e.querySelectorAll('text').length)));
	check(ticks >= 6, 'every chart has tick labels (at least ' + ticks + ' texts)');
	const height = await page.evaluate(() => document.documentElement.scrollHeight);
	check(height < 1000 * ngpus, 'page height ' + height + ' px for ' + ngpus + ' GPUs (< 1000 a GPU)');
	await page.screenshot({path: path.join(ART, 'report-demo.png'), fullPage: true});

	// 10 s bursts to 100% once a minute, over 6 h: a bucket is a minute, its mean ~17%.
	const scen = path.join(os.tmpdir(), 'gpuscope-bursts-' + process.pid + '.json');
	writeFileSync(scen, JSON.stringify({name: 'bursts', gpus: [{model: 'NVIDIA H200', metrics: {util_gpu_pct: {square: {low: 0, high: 100, period: 60, duty: 10 / 60}}}}]}));
	writeFileSync(file, report('--demo', scen, '--since', '6h', '--format', 'html'));
	await page.goto('file://' + file);
	const util = await page.$eval('svg.chart[data-chart="Utilization"]', (e) => ({mean: Number(e.dataset.meanMax), band: Number(e.dataset.bandMax)}));
	check(util.band >= 99 && util.mean < 30, '10 s bursts: band reaches ' + util.band + '%, mean line peaks at ' + util.mean + '%');
	await page.screenshot({path: path.join(ART, 'report-bursts.png'), fullPage: true});
	// Two GPUs without processes: the same "not judged" reason on both, said once.
	writeFileSync(scen, JSON.stringify({name: 'two', gpus: [{model: 'NVIDIA H200'}, {model: 'NVIDIA H200'}]}));
	const two = JSON.parse(report('--demo', scen, '--format', 'json'));
	const shared = two.not_judged.filter((n) => n.id === 'cpu_bound_input');
	writeFileSync(file, report('--demo', scen, '--format', 'html'));
	await page.goto('file://' + file);
	const nj = await page.$$eval('div.nj', (ds) => ds.map((d) => d.textContent).filter((t) => t.includes('cpu_bound_input')));
	check(shared.length === 2 && nj.length === 1 && nj[0].startsWith('not judged on any GPU'), 'a reason every GPU shares is said once: ' + JSON.stringify(nj));
	check(errors.length === 0, 'no console error' + (errors.length ? ': ' + errors.join(' | ') : ''));
} catch (e) {
	console.log('FAIL ' + (e.stack || e));
	failures++;
} finally {
	await browser.close();
}
console.log(failures ? failures + ' check(s) failed' : 'all checks passed; screenshots in ' + ART);
process.exit(failures ? 1 : 0);

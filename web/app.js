/* app.js - gpuscope's dashboard: the node's GPUs at a glance, live and historical charts,
 * verdicts with evidence and fixes, processes and workloads.
 *
 * Everything comes from the agent's own JSON API (same origin, nothing else is fetched):
 * /api/v1/gpus every second (cards and the live charts, which keep the last ten minutes in
 * the page), /api/v1/processes, /api/v1/workloads and /api/v1/diagnosis every five
 * seconds, and /api/v1/series for a history range (15 min, 1 h, 24 h, 7 d), drawn as a
 * mean line inside its min-max band so no burst is averaged away.  Per-inference figures
 * (/api/v1/inference: programs under `gpuscope run`) and per-token figures
 * (/api/v1/servers: inference servers joined to the GPUs) come every five seconds, over
 * the chosen range (15 min when live).  Text from the agent is
 * set with textContent only, never parsed as HTML.  The page stays usable without charts
 * when uPlot was not bundled (window.gpuscopeNoCharts says why).
 */
'use strict';
(function () {
	const LIVE_POINTS = 600;
	const RANGES = [['live', 'Live'], ['15m', '15 min'], ['1h', '1 h'], ['24h', '24 h'], ['7d', '7 d']];
	const SEVERITY = {critical: 3, warning: 2, info: 1};
	const M = {
		util: 'gpuscope_gpu_utilization_ratio', sm: 'gpuscope_sm_active_ratio',
		tensor: 'gpuscope_tensor_active_ratio', dram: 'gpuscope_dram_active_ratio',
		memUsed: 'gpuscope_memory_used_bytes', memTotal: 'gpuscope_memory_total_bytes',
		power: 'gpuscope_power_watts', powerLimit: 'gpuscope_power_limit_watts',
		temp: 'gpuscope_temperature_celsius', slowdown: 'gpuscope_temperature_slowdown_threshold_celsius',
		clock: 'gpuscope_sm_clock_hertz', reasons: 'gpuscope_clock_event_reasons',
		xid: 'gpuscope_xid_errors_total', xidLast: 'gpuscope_xid_last',
		eccU: 'gpuscope_ecc_errors_total{error="uncorrected",scope="volatile"}',
	};
	const REASONS = [[0x4, 'power cap'], [0x8, 'hw slowdown'], [0x20, 'sw thermal'],
		[0x40, 'hw thermal'], [0x80, 'power brake'], [0x2, 'clocks set'], [0x10, 'sync boost']];

	const state = {range: 'live', gpu: 0, gpus: null, diag: null, procs: null, work: null,
		live: new Map(), series: null, charts: [], errors: 0, lastSeriesAt: 0,
		inf: null, infCharts: [], servers: null};
	window.gpuscopeDashboard = state; /* for the browser tests */

	function h(tag, attrs, ...kids) {
		const e = document.createElement(tag);
		for (const [k, v] of Object.entries(attrs || {})) {
			if (k === 'class') e.className = v;
			else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
			else e.setAttribute(k, v);
		}
		for (const k of kids.flat()) if (k != null) e.append(k instanceof Node ? k : String(k));
		return e;
	}
	const num = (v) => (typeof v === 'number' && isFinite(v) ? v : null);
	const pct = (v) => (num(v) === null ? '-' : Math.round(v * 100) + '%');
	const fix = (v, d, unit) => (num(v) === null ? '-' : v.toFixed(d) + (unit || ''));
	const gib = (v) => (num(v) === null ? null : v / 2 ** 30);

	async function getJSON(path) {
		const r = await fetch(path, {cache: 'no-store', credentials: 'same-origin'});
		if (!r.ok && r.status !== 503) throw new Error(path + ': HTTP ' + r.status);
		return r.json();
	}

	/* ---- layout ---- */
	const root = document.getElementById('app');
	const status = h('p', {class: 'status', id: 'status'}, 'loading...');
	const nav = h('nav', {class: 'ranges'});
	const cards = h('section', {class: 'cards', id: 'cards'});
	const chartTitle = h('h2', {id: 'chart-title'});
	const chartBox = h('section', {class: 'charts', id: 'charts'});
	const verdictBox = h('section', {id: 'verdicts'});
	const procBox = h('section', {id: 'processes'});
	const workBox = h('section', {id: 'workloads'});
	const infBox = h('section', {id: 'inferences'});
	const tokenBox = h('section', {id: 'tokens'});
	for (const [key, label] of RANGES)
		nav.append(h('button', {type: 'button', 'data-range': key, onclick: () => setRange(key)}, label));
	root.append(status, nav, cards, chartTitle, chartBox, infBox, tokenBox, verdictBox, procBox, workBox);
	document.body.classList.add('js');

	function setRange(key) {
		state.range = key;
		for (const b of nav.children) b.classList.toggle('on', b.dataset.range === key);
		state.series = null;
		drawCharts();
		if (key !== 'live') loadSeries();
	}

	function selectGpu(i) {
		state.gpu = i;
		renderCards();
		state.series = null;
		drawCharts();
		renderVerdicts();
		renderProcesses();
		renderInference();
		if (state.range !== 'live') loadSeries();
	}

	/* ---- cards: the same facts as `gpuscope top` ---- */
	function worstVerdict(gpu) {
		const vs = (state.diag && state.diag.verdicts || []).filter((v) => v.gpu === gpu);
		vs.sort((a, b) => (SEVERITY[b.severity] || 0) - (SEVERITY[a.severity] || 0));
		return vs[0];
	}

	function renderCards() {
		cards.replaceChildren();
		for (const g of state.gpus.gpus) {
			const m = g.metrics || {};
			const reasons = REASONS.filter(([bit]) => (m[M.reasons] | 0) & bit).map(([, w]) => w);
			const v = worstVerdict(g.gpu);
			const flags = [];
			if (m[M.xid] > 0) flags.push(h('span', {class: 'flag crit'}, 'Xid ' + m[M.xid] + ' (last ' + m[M.xidLast] + ')'));
			if (m[M.eccU] > 0) flags.push(h('span', {class: 'flag crit'}, 'ECC ' + m[M.eccU] + ' uncorrected'));
			if (reasons.length) flags.push(h('span', {class: 'flag warn'}, reasons.join(', ')));
			if (g.health !== 'ok') flags.push(h('span', {class: 'flag crit'}, g.health + (g.reason ? ': ' + g.reason : '')));
			cards.append(h('button', {type: 'button', class: 'card' + (g.gpu === state.gpu ? ' on' : ''),
				'data-gpu': g.gpu, onclick: () => selectGpu(g.gpu)},
			h('b', null, 'GPU ' + g.gpu + ' ', h('small', null, g.name)),
			h('div', {class: 'big'}, pct(m[M.util])),
			h('div', null, 'SM ' + pct(m[M.sm]) + ' · tensor ' + pct(m[M.tensor]) + ' · DRAM ' + pct(m[M.dram])),
			h('div', null, 'memory ' + fix(gib(m[M.memUsed]), 1) + ' of ' + fix(gib(m[M.memTotal]), 0) + ' GiB'),
			h('div', null, 'power ' + fix(m[M.power], 0) + ' of ' + fix(m[M.powerLimit], 0) + ' W'),
			h('div', null, fix(m[M.temp], 0) + ' °C of ' + fix(m[M.slowdown], 0) + ' · ' + fix(num(m[M.clock]) && m[M.clock] / 1e6, 0) + ' MHz'),
			flags.length ? h('div', null, flags) : null,
			v ? h('div', {class: 'verdict ' + v.severity}, v.severity + ': ' + v.id) : null));
		}
	}

	/* ---- charts ---- */
	function liveAppend() {
		const now = Date.now() / 1000;
		for (const g of state.gpus.gpus) {
			let l = state.live.get(g.uuid);
			if (!l) state.live.set(g.uuid, l = {t: []});
			const m = g.metrics || {};
			l.t.push(now);
			for (const k of Object.values(M)) (l[k] = l[k] || []).push(num(m[k]));
			if (l.t.length > LIVE_POINTS) for (const k of Object.keys(l)) l[k].shift();
		}
	}

	/* The chart set: each [title, axis label, scale, lines]; a line is [metric, label,
	 * colour, factor, dashed] and draws with its band when the data has min and max. */
	const CHARTS = [
		['Activity', '%', 100, [[M.util, 'utilization', '#1f6fb5'], [M.sm, 'SM active', '#2a9d5b'],
			[M.tensor, 'tensor active', '#b5651f'], [M.dram, 'DRAM active', '#8a3fb5']]],
		['Power', 'W', 1, [[M.power, 'power', '#c0392b'], [M.powerLimit, 'limit', '#555', 1, true]]],
		['Temperature', '°C', 1, [[M.temp, 'temperature', '#d35400'], [M.slowdown, 'slowdown', '#555', 1, true]]],
		['SM clock', 'MHz', 1e-6, [[M.clock, 'SM clock', '#16a085']]],
		['Memory', 'GiB', 2 ** -30, [[M.memUsed, 'used', '#2c3e50'], [M.memTotal, 'total', '#555', 1, true]]],
	];

	function seriesFor(gpu) {
		if (state.range === 'live') {
			const g = state.gpus && state.gpus.gpus.find((x) => x.gpu === gpu);
			const l = g && state.live.get(g.uuid);
			if (!l) return null;
			const get = (k) => ({mean: l[k] || []});
			return {t: l.t, get};
		}
		const s = state.series;
		const g = s && s.gpus.find((x) => x.gpu === gpu);
		if (!g) return null;
		return {t: s.t, get: (k) => g.series[k] || {mean: []}};
	}

	function drawCharts() {
		for (const c of state.charts) c.destroy();
		state.charts = [];
		chartBox.replaceChildren();
		const rangeLabel = RANGES.find(([k]) => k === state.range)[1];
		chartTitle.textContent = 'GPU ' + state.gpu + ': ' + (state.range === 'live' ? 'live (this page, 1 s)' : 'last ' + rangeLabel + ' from the agent\'s history (mean in its min-max band)');
		if (window.gpuscopeNoCharts || typeof window.uPlot !== 'function') {
			chartBox.append(h('p', {class: 'nocharts'}, 'Charts are not built into this agent: ' + (window.gpuscopeNoCharts || 'uPlot did not load') + '. Every number is still below and on /api/v1/*.'));
			return;
		}
		const data = seriesFor(state.gpu);
		if (!data) {
			chartBox.append(h('p', {class: 'nocharts'}, state.range === 'live' ? 'waiting for data...' : 'loading history...'));
			return;
		}
		const width = Math.max(300, Math.min(560, (chartBox.clientWidth || 1100) / 2 - 24));
		for (const [title, unit, scale, lines] of CHARTS) {
			const cols = [data.t];
			const series = [{}];
			const bands = [];
			for (const [key, label, colour, , dashed] of lines) {
				const d = data.get(key);
				const sc = (a) => (a || []).map((v) => (v === null ? null : v * scale));
				cols.push(sc(d.mean));
				series.push({label, stroke: colour, width: dashed ? 1 : 1.5, dash: dashed ? [6, 4] : undefined,
					value: (u, v) => (v == null ? '-' : v.toFixed(scale === 100 ? 0 : 1) + ' ' + unit)});
				if (d.max && d.min && !dashed) {
					const hi = cols.length;
					cols.push(sc(d.max), sc(d.min));
					series.push({label: label + ' max', stroke: colour + '55', width: 0.5},
						{label: label + ' min', stroke: colour + '55', width: 0.5});
					bands.push({series: [hi, hi + 1], fill: colour + '22'});
				}
			}
			const box = h('figure', {class: 'chart', 'data-chart': title});
			chartBox.append(box);
			const opts = {
				title: title + ' (' + unit + ')', width, height: 200, series, bands,
				scales: {x: {time: true}, y: {range: (u, lo, hi) => [Math.min(0, lo), Math.max(hi, scale === 100 ? 100 : hi * 1.05)]}},
				axes: [{grid: {show: true}}, {label: unit, grid: {show: true}, size: 60}],
				legend: {live: true},
			};
			state.charts.push(new window.uPlot(opts, cols, box));
		}
	}

	/* One history request at a time: the agent answers a second one 503 (it runs one
	 * query at a time), and a newer choice is loaded when the current one returns. */
	let seriesBusy = false, seriesAgain = false;
	async function loadSeries() {
		if (seriesBusy) {
			seriesAgain = true;
			return;
		}
		seriesBusy = true;
		state.lastSeriesAt = Date.now();
		const want = state.range, gpu = state.gpu;
		try {
			const s = await getJSON('/api/v1/series?range=' + want + '&gpu=' + gpu + '&points=600');
			if (s.error) throw new Error(s.error);
			if (state.range !== want || state.gpu !== gpu) return;
			state.series = s;
			state.lastSeriesAt = Date.now();
			drawCharts();
		} catch (e) {
			chartBox.replaceChildren(h('p', {class: 'nocharts error'}, 'history: ' + e.message));
		} finally {
			seriesBusy = false;
			if (seriesAgain) {
				seriesAgain = false;
				if (state.range !== 'live') loadSeries();
			}
		}
	}

	/* ---- per inference (gpuscope run) and per token (inference servers) ---- */
	const ms = (v) => (num(v) === null ? '-' : (v * 1e3).toPrecision(3));
	const g3 = (v) => (num(v) === null ? '-' : Math.abs(v) >= 1000 ? String(Math.round(v)) : v.toPrecision(3));
	/* Each [title, unit, [key, label, colour, factor] for the series of a row]. */
	const INF_CHARTS = [
		['Inferences per second', '/s', [['inferences_per_second', '', '#1f6fb5', 1]]],
		['Latency', 'ms', [['latency_p50_seconds', ' p50', '#2a9d5b', 1e3], ['latency_p95_seconds', ' p95', '#b5651f', 1e3],
			['latency_p99_seconds', ' p99', '#c0392b', 1e3]]],
		['GPU time per inference', 'ms', [['gpu_busy_seconds_per_inference', '', '#8a3fb5', 1e3]]],
		['Energy per inference', 'J', [['energy_joules_per_inference', '', '#d35400', 1]]],
	];

	function renderInference() {
		for (const c of state.infCharts) c.destroy();
		state.infCharts = [];
		const d = state.inf;
		const span = state.range === 'live' ? '15 min' : RANGES.find(([k]) => k === state.range)[1];
		infBox.replaceChildren(h('h2', null, 'Inferences (gpuscope run), last ' + span));
		if (!d || !d.rows) {
			infBox.append(h('p', {class: 'muted'}, d && d.error ? 'history: ' + d.error : 'loading...'));
			return;
		}
		if (!d.rows.length) {
			infBox.append(h('p', {class: 'muted'}, 'No inference reported in this range: programs run under `gpuscope run` report theirs here (docs/inference.md).'));
		} else {
			const t = h('table', {class: 'inf'}, h('tr', null, ['GPU', 'process', 'range', 'inferences', 'per s', 'p50 ms', 'p95 ms', 'p99 ms',
				'GPU time ms', 'energy J', d.currency + ' per inference'].map((x) => h('th', null, x))));
			d.rows.forEach((r, i) => {
				const l = r.latency_seconds || {};
				t.append(h('tr', {class: r.gpu === state.gpu ? 'on' : '', 'data-row': i},
					h('td', null, r.gpu === null ? '-' : r.gpu), h('td', null, r.process + ' (' + r.pid + ')'), h('td', null, r.range || r.boundary),
					h('td', null, r.inferences), h('td', null, g3(r.inferences_per_second)), h('td', null, ms(l.p50)), h('td', null, ms(l.p95)),
					h('td', null, ms(l.p99)), h('td', null, ms(r.gpu_busy_seconds_per_inference)), h('td', null, g3(r.energy_joules_per_inference)),
					h('td', null, g3(r.cost_per_inference))));
			});
			infBox.append(t);
		}
		const mine = d.rows.map((r, i) => [r, d.series[i]]).filter(([r]) => r.gpu === state.gpu).slice(0, 3);
		if (!mine.length || window.gpuscopeNoCharts || typeof window.uPlot !== 'function') return;
		const box = h('div', {class: 'charts', id: 'inference-charts'});
		infBox.append(box);
		const width = Math.max(300, Math.min(560, (chartBox.clientWidth || 1100) / 2 - 24));
		for (const [title, unit, lines] of INF_CHARTS) {
			const cols = [d.t], series = [{}];
			for (const [r, s] of mine)
				for (const [key, label, colour, f] of lines) {
					cols.push((s[key] || []).map((v) => (v === null ? null : v * f)));
					series.push({label: (r.range || r.boundary) + label, stroke: colour, width: 1.5,
						value: (u, v) => (v == null ? '-' : v.toPrecision(3) + ' ' + unit)});
				}
			const fig = h('figure', {class: 'chart', 'data-chart': title});
			box.append(fig);
			state.infCharts.push(new window.uPlot({title: title + ' (' + unit + '), GPU ' + state.gpu, width, height: 180, series,
				scales: {x: {time: true}, y: {range: (u, lo, hi) => [0, Math.max(hi * 1.1, 1e-9)]}},
				axes: [{grid: {show: true}}, {label: unit, grid: {show: true}, size: 60}], legend: {live: true}}, cols, fig));
		}
	}

	function renderTokens() {
		tokenBox.replaceChildren();
		const rows = [];
		for (const sv of (state.servers && state.servers.servers) || [])
			for (const m of sv.models || [])
				if (num(m.tokens_generated_per_second) !== null) rows.push([sv, m]);
		if (!rows.length) return;
		tokenBox.append(h('h2', null, 'Per token (inference servers)'));
		const t = h('table', {class: 'tokens'}, h('tr', null, ['GPU', 'server', 'model', 'tokens/s', 'J per token', 'per million tokens', 'requests/s', 'TTFT p50 ms'].map((x) => h('th', null, x))));
		for (const [sv, m] of rows) {
			const gpus = (sv.gpus || []).map((g) => g.gpu);
			t.append(h('tr', {class: gpus.includes(state.gpu) ? 'on' : '', 'data-server': sv.server, 'data-model': m.model},
				h('td', null, gpus.join(', ')), h('td', null, sv.kind + ' ' + sv.server), h('td', null, m.model),
				h('td', null, g3(m.tokens_generated_per_second)), h('td', null, g3(m.tokens_energy_joules_per_token)),
				h('td', null, g3(m.tokens_cost_per_million)), h('td', null, g3(m.requests_per_second)), h('td', null, ms(m.ttft_p50_seconds))));
		}
		tokenBox.append(t);
	}

	/* ---- verdicts, processes, workloads ---- */
	function renderVerdicts() {
		const d = state.diag;
		verdictBox.replaceChildren(h('h2', null, 'Verdicts for GPU ' + state.gpu));
		if (!d) return;
		const vs = (d.verdicts || []).filter((v) => v.gpu === state.gpu);
		vs.sort((a, b) => (SEVERITY[b.severity] || 0) - (SEVERITY[a.severity] || 0));
		if (!vs.length) verdictBox.append(h('p', {class: 'muted'}, d.status && d.status !== 'ok' ? d.status : 'No verdict on this GPU.'));
		for (const v of vs)
			verdictBox.append(h('article', {class: 'verdict ' + v.severity, 'data-verdict': v.id},
				h('h3', null, v.severity + ': ' + v.title),
				h('p', null, v.evidence && v.evidence.text),
				h('p', {class: 'fix'}, 'Fix: ' + v.fix)));
		const nj = (d.not_judged || []).filter((x) => x.gpu === state.gpu || x.gpu == null);
		if (nj.length)
			verdictBox.append(h('p', {class: 'muted'}, 'Not judged: ' + nj.map((x) => x.id + ' (' + x.reason + ')').join('; ')));
	}

	function workloadOf(w) {
		if (!w) return '-';
		if (w.pod) return (w.namespace ? w.namespace + '/' : '') + w.pod;
		if (w.container_id) return 'container ' + w.container_id.slice(0, 12);
		if (w.slurm_job != null) return 'slurm job ' + w.slurm_job;
		return w.systemd_unit || '-';
	}

	function renderProcesses() {
		procBox.replaceChildren(h('h2', null, 'Processes'));
		if (!state.procs) return;
		const rows = [];
		for (const g of state.procs.gpus || [])
			for (const p of g.processes || []) rows.push([g.gpu, p]);
		rows.sort((a, b) => (b[1].memory_used_bytes || 0) - (a[1].memory_used_bytes || 0));
		const t = h('table', {class: 'procs'}, h('tr', null, ['GPU', 'PID', 'name', 'user', 'container / pod', 'GPU memory GiB', 'SM %', 'CPU %'].map((x) => h('th', null, x))));
		for (const [gpu, p] of rows)
			t.append(h('tr', {class: gpu === state.gpu ? 'on' : '', 'data-pid': p.pid},
				h('td', null, gpu), h('td', null, p.pid), h('td', null, p.name), h('td', null, p.user || '-'),
				h('td', null, workloadOf(p.workload)), h('td', null, fix(gib(p.memory_used_bytes), 1)),
				h('td', null, num(p.sm_utilization_ratio) === null ? '-' : Math.round(p.sm_utilization_ratio * 100)),
				h('td', null, num(p.cpu_utilization_ratio) === null ? '-' : Math.round(p.cpu_utilization_ratio * 100))));
		procBox.append(t);
		const w = state.work && state.work.workloads;
		workBox.replaceChildren();
		if (w && w.length) {
			workBox.append(h('h2', null, 'Workloads'));
			const wt = h('table', null, h('tr', null, ['workload', 'user', 'GPUs', 'processes', 'GPU memory GiB', 'CPU %', 'energy kJ'].map((x) => h('th', null, x))));
			for (const x of w) {
				const name = x.pod ? (x.namespace ? x.namespace + '/' : '') + x.pod : x.key ? x.key.kind + ' ' + String(x.key.value).slice(0, 24) : '-';
				wt.append(h('tr', null, h('td', null, name), h('td', null, x.user || '-'), h('td', null, (x.gpus || []).join(', ')),
					h('td', null, (x.processes || []).map((p) => p.name + ' (' + p.pid + ')').join(', ')),
					h('td', null, fix(gib(x.memory_used_bytes), 1)),
					h('td', null, num(x.cpu_utilization_ratio) === null ? '-' : Math.round(x.cpu_utilization_ratio * 100)),
					h('td', null, fix(num(x.energy_joules) === null ? null : x.energy_joules / 1000, 1))));
			}
			workBox.append(wt);
		}
	}

	/* ---- refresh loops ---- */
	async function tickFast() {
		try {
			state.gpus = await getJSON('/api/v1/gpus');
			if (!state.gpus.gpus.some((g) => g.gpu === state.gpu) && state.gpus.gpus.length) state.gpu = state.gpus.gpus[0].gpu;
			liveAppend();
			renderCards();
			if (state.range === 'live') {
				if (state.charts.length !== CHARTS.length) drawCharts();
				else {
					const data = seriesFor(state.gpu);
					state.charts.forEach((c, i) => {
						const cols = [data.t];
						for (const [key] of CHARTS[i][3]) cols.push((data.get(key).mean || []).map((v) => (v === null ? null : v * CHARTS[i][2])));
						c.setData(cols);
					});
				}
			} else if (!seriesBusy && Date.now() - state.lastSeriesAt > (state.range === '15m' ? 10000 : 60000)) {
				loadSeries();
			}
			status.textContent = state.gpus.hostname + ' · ' + state.gpus.gpus.length + ' GPUs · driver ' + state.gpus.driver_version + ' · updated ' + new Date().toLocaleTimeString();
			status.classList.remove('error');
		} catch (e) {
			status.textContent = 'agent unreachable: ' + e.message + ' (retrying)';
			status.classList.add('error');
		}
	}

	async function tickSlow() {
		const span = state.range === 'live' ? '15m' : state.range;
		const [d, p, w, inf, sv] = await Promise.allSettled([getJSON('/api/v1/diagnosis'), getJSON('/api/v1/processes'),
			getJSON('/api/v1/workloads'), state.infOff ? state.inf : getJSON('/api/v1/inference?range=' + span), getJSON('/api/v1/servers')]);
		if (d.status === 'fulfilled') state.diag = d.value;
		if (p.status === 'fulfilled') state.procs = p.value;
		if (w.status === 'fulfilled') state.work = w.value;
		/* busy (503 while another history query runs): keep what is shown */
		if (inf.status === 'fulfilled' && !(inf.value.error && /^busy/.test(inf.value.error))) state.inf = inf.value;
		state.infOff = !!(state.inf && state.inf.error && /^no history/.test(state.inf.error)); /* --no-history: stop asking */
		if (sv.status === 'fulfilled') state.servers = sv.value;
		if (state.gpus) renderCards();
		renderVerdicts();
		renderProcesses();
		renderInference();
		renderTokens();
	}

	setRange('live');
	tickFast().then(tickSlow);
	setInterval(tickFast, 1000);
	setInterval(tickSlow, 5000);
})();

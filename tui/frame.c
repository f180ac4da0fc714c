/* frame.c - the layout of `gpuscope top` (see frame.h).
 *
 * Overview: a header line, then each GPU on two lines (one on a short terminal, one wide
 * line on a wide one), then the processes, then a status line.  The selected-GPU view
 * gives that GPU's history as labelled sparklines, its verdicts with evidence and fix,
 * and its processes.  Everything is clipped to the size, so 80x24 and 200x60 use the
 * same code; what does not fit is counted ("+3 more"), never silently dropped.
 */
#include "tui/frame.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Writes UTF-8 text at (row, col) clipped to the frame; returns the column after it. */
static int put(struct top_frame *f, int row, int col, int attr, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p && col < f->cols) {
		uint32_t ch = *p++;
		int more = ch >= 0xf0 ? 3 : ch >= 0xe0 ? 2 : ch >= 0xc0 ? 1 : 0;
		if (more)
			ch &= 0x3f >> more;
		for (; more && (*p & 0xc0) == 0x80; more--)
			ch = ch << 6 | (*p++ & 0x3f);
		if (more || ch < 0x20 || (ch >= 0x80 && ch < 0xa0))
			ch = '?'; /* broken UTF-8 or a control character from a remote name */
		if (!f->unicode && ch > 0x7e)
			ch = '?';
		if (row >= 0 && row < f->rows && col >= 0)
			f->cell[row][col] = (struct top_cell){ch, (uint8_t)attr};
		col++;
	}
	return col;
}

__attribute__((format(printf, 5, 6))) static int putf(struct top_frame *f, int row, int col,
                                                      int attr, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return put(f, row, col, attr, buf);
}

/* A sparkline of the ring's last `width` points scaled to [lo, hi]; absent points blank. */
static void spark(struct top_frame *f, int row, int col, int width, const struct top_ring *r,
                  double lo, double hi)
{
	static const char *blocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
	static const char ascii[] = "_.-:=+*#";
	double v[TOP_RING];
	bool ok[TOP_RING];
	if (width <= 0)
		return;
	unsigned n = top_ring_last(r, width > TOP_RING ? TOP_RING : (unsigned)width, v, ok);
	int start = col + width - (int)n;
	for (unsigned i = 0; i < n; i++) {
		if (!ok[i] || hi <= lo)
			continue;
		double x = (v[i] - lo) / (hi - lo);
		int level = (int)floor(x * 7.999);
		level = level < 0 ? 0 : level > 7 ? 7 : level;
		if (f->unicode) {
			put(f, row, start + (int)i, TA_SPARK, blocks[level]);
		} else {
			char one[2] = {ascii[level], 0};
			put(f, row, start + (int)i, TA_SPARK, one);
		}
	}
}

static const char *short_name(const char *name)
{
	return strncmp(name, "NVIDIA ", 7) == 0 ? name + 7 : name;
}

static int severity_attr(const char *severity)
{
	int r = top_severity_rank(severity);
	return r == 3 ? TA_CRIT : r == 2 ? TA_WARN : r == 1 ? TA_GOOD : TA_DIM;
}

/* "74%" or " - " for an absent ratio. */
static void pct(char *buf, size_t len, struct top_value x)
{
	if (x.ok)
		snprintf(buf, len, "%3.0f", x.v * 100);
	else
		snprintf(buf, len, "  -");
}

static double ring_max(const struct top_ring *r, unsigned span, bool *any)
{
	double v[TOP_RING], best = 0;
	bool ok[TOP_RING];
	unsigned n = top_ring_last(r, span, v, ok);
	*any = false;
	for (unsigned i = 0; i < n; i++)
		if (ok[i] && (!*any || v[i] > best)) {
			best = v[i];
			*any = true;
		}
	return best;
}

/* The numbers of one GPU: util, SM/tensor/DRAM, memory, power, temperature. */
static int gpu_numbers(struct top_frame *f, int row, int col, const struct top_gpu *g)
{
	char u[8], sm[8], tc[8], dr[8];
	pct(u, sizeof(u), g->util);
	pct(sm, sizeof(sm), g->sm);
	pct(tc, sizeof(tc), g->tensor);
	pct(dr, sizeof(dr), g->dram);
	col = putf(f, row, col, TA_PLAIN, " %s%% SM%s TC%s DR%s", u, sm, tc, dr);
	if (g->mem_used.ok && g->mem_total.ok)
		col = putf(f, row, col, TA_PLAIN, " %3.0f/%3.0fG", g->mem_used.v / 1e9,
		           g->mem_total.v / 1e9);
	else
		col = put(f, row, col, TA_DIM, "     -/-G");
	bool near_cap = g->power.ok && g->power_limit.ok && g->power.v >= 0.95 * g->power_limit.v;
	if (g->power.ok)
		col = putf(f, row, col, near_cap ? TA_WARN : TA_PLAIN, " %3.0f/%3.0fW", g->power.v,
		           g->power_limit.ok ? g->power_limit.v : NAN);
	else
		col = put(f, row, col, TA_DIM, "    -/-W");
	bool hot = g->temp.ok && g->temp_slowdown.ok && g->temp.v >= g->temp_slowdown.v - 5;
	if (g->temp.ok)
		col = putf(f, row, col, hot ? TA_CRIT : TA_PLAIN, " %2.0f/%2.0fC", g->temp.v,
		           g->temp_slowdown.ok ? g->temp_slowdown.v : NAN);
	else
		col = put(f, row, col, TA_DIM, "  -/-C");
	return col;
}

/* Clocks, power window max, throttle reasons, Xid and ECC flags, the live verdict. */
static int gpu_facts(struct top_frame *f, int row, int col, const struct top_gpu *g)
{
	if (strcmp(g->health, "ok") != 0 && g->health[0]) {
		col = putf(f, row, col, TA_CRIT, " %s", g->health);
		if (g->reason[0])
			col = putf(f, row, col, TA_CRIT, ": %s", g->reason);
		return col;
	}
	if (g->sm_clock.ok)
		col = putf(f, row, col, TA_PLAIN, " %4.0fMHz", g->sm_clock.v / 1e6);
	bool any;
	double pmax = ring_max(&g->ring[TS_POWER], 60, &any);
	if (any)
		col = putf(f, row, col, TA_DIM, " max%3.0fW", pmax);
	char reasons[128];
	top_clock_reasons_text(g->clock_reasons.ok ? g->clock_reasons.v : 0, reasons,
	                       sizeof(reasons));
	if (reasons[0] && strcmp(reasons, "idle") != 0)
		col = putf(f, row, col, TA_WARN, " [%s]", reasons);
	if (g->xid_total.ok && g->xid_total.v > 0)
		col = putf(f, row, col, TA_CRIT, " XID %.0f(last %.0f)", g->xid_total.v,
		           g->xid_last.ok ? g->xid_last.v : NAN);
	if (g->ecc_uncorrected.ok && g->ecc_uncorrected.v > 0)
		col = putf(f, row, col, TA_CRIT, " ECC %.0f uncorr", g->ecc_uncorrected.v);
	else if (g->ecc_corrected.ok && g->ecc_corrected.v > 0)
		col = putf(f, row, col, TA_WARN, " ECC %.0f corr", g->ecc_corrected.v);
	if (g->remap_pending.ok && g->remap_pending.v > 0)
		col = put(f, row, col, TA_CRIT, " REMAP pending");
	if (g->verdict_severity[0]) {
		/* "GPU 3 (NVIDIA H200) is idle: ..." reads "idle: ..." on the GPU's own line. */
		const char *title = g->verdict_title, *after = strstr(title, ") ");
		if (strncmp(title, "GPU ", 4) == 0 && after)
			title = after + 2;
		if (strncmp(title, "is ", 3) == 0)
			title += 3;
		col = putf(f, row, col, severity_attr(g->verdict_severity), " %s: %s",
		           g->verdict_severity, title);
		if (g->verdicts > 1)
			col = putf(f, row, col, TA_DIM, " (+%u)", g->verdicts - 1);
	}
	return col;
}

/* One GPU on one or two lines; returns the rows used. */
static int gpu_lines(struct top_frame *f, int row, const struct top_gpu *g, bool selected,
                     int lines)
{
	int spark_w = f->cols - 73;
	spark_w = spark_w < 6 ? 6 : spark_w > 60 ? 60 : spark_w;
	if (lines == 1 && f->cols >= 150)
		spark_w = 30;
	int col = putf(f, row, 0, selected ? TA_SEL : TA_HEAD, "%s%2u %-9.9s", selected ? ">" : " ",
	               g->index, short_name(g->name));
	spark(f, row, col + 1, spark_w, &g->ring[TS_UTIL], 0, 1);
	col = gpu_numbers(f, row, col + 1 + spark_w, g);
	if (lines == 2) {
		gpu_facts(f, row + 1, 3, g);
		return 2;
	}
	if (f->cols - col > 20)
		gpu_facts(f, row, col, g);
	return 1;
}

static bool proc_matches(const struct top_proc *p, const char *filter)
{
	if (!filter[0])
		return true;
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", p->pid);
	return strcasestr(p->name, filter) || strcasestr(p->user, filter) ||
	       strcasestr(p->workload, filter) || strstr(pid, filter);
}

static int by_value(struct top_value a, struct top_value b)
{
	if (a.ok != b.ok)
		return a.ok ? -1 : 1;
	return a.v > b.v ? -1 : a.v < b.v ? 1 : 0;
}

static int proc_cmp(const void *pa, const void *pb, void *ctx)
{
	const struct top_proc *a = pa, *b = pb;
	enum top_sort s = *(const enum top_sort *)ctx;
	int c = 0;
	switch (s) {
	case SORT_MEM:
		c = by_value(a->mem, b->mem);
		break;
	case SORT_SM:
		c = by_value(a->sm, b->sm);
		break;
	case SORT_CPU:
		c = by_value(a->cpu, b->cpu);
		break;
	case SORT_NAME:
		c = strcmp(a->name, b->name);
		break;
	default:
		break;
	}
	return c ? c : (a->pid > b->pid) - (a->pid < b->pid);
}

/* The processes (of one GPU when gpu >= 0), sorted and filtered, from row to last. */
static void processes(struct top_frame *f, int row, int last, const struct top_model *m,
                      const struct top_view *v, int gpu)
{
	if (row > last)
		return;
	struct top_proc *list = malloc(sizeof(*list) * (m->n_procs ? m->n_procs : 1));
	unsigned n = 0, all = 0;
	for (unsigned i = 0; list && i < m->n_procs; i++) {
		if (gpu >= 0 && m->proc[i].gpu != (unsigned)gpu)
			continue;
		all++;
		if (proc_matches(&m->proc[i], v->filter))
			list[n++] = m->proc[i];
	}
	enum top_sort s = v->sort;
	if (list)
		qsort_r(list, n, sizeof(*list), proc_cmp, &s);
	int col = putf(f, row, 0, TA_HEAD, "PROCESSES %u of %u  sort:%s", n, all, top_sort_name(s));
	if (v->filter[0] || v->editing)
		putf(f, row, col, v->editing ? TA_SEL : TA_WARN, "  filter:%s%s", v->filter,
		     v->editing ? "_" : "");
	row++;
	if (row <= last)
		putf(f, row++, 0, TA_HEAD, "%7s %3s %-8s %-20s %7s %4s %5s %s", "PID", "GPU",
		     "USER", "CONTAINER/POD", "GPUMEM", "SM%", "CPU%", "NAME");
	for (unsigned i = 0; i < n && row <= last; i++, row++) {
		const struct top_proc *p = &list[i];
		if (row == last && i + 1 < n) {
			putf(f, row, 0, TA_DIM, "  +%u more (filter with /)", n - i);
			break;
		}
		char mem[16] = "      -", sm[8] = "   -", cpu[8] = "    -";
		if (p->mem.ok)
			snprintf(mem, sizeof(mem), "%6.1fG", p->mem.v / 1e9);
		if (p->sm.ok)
			snprintf(sm, sizeof(sm), "%4.0f", p->sm.v * 100);
		if (p->cpu.ok)
			snprintf(cpu, sizeof(cpu), "%5.0f", p->cpu.v * 100);
		putf(f, row, 0, TA_PLAIN, "%7d %3u %-8.8s %-20.20s %s %s %s %s", p->pid, p->gpu,
		     p->user[0] ? p->user : "-", p->workload[0] ? p->workload : "-", mem, sm, cpu,
		     p->name);
	}
	free(list);
}

static void header(struct top_frame *f, const struct top_model *m, const struct top_status *st)
{
	char when[16] = "--:--:--";
	time_t t = (time_t)st->now;
	struct tm tm;
	if (localtime_r(&t, &tm))
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
	int right = f->cols - 9; /* the clock keeps its place; the rest gives way */
	int col = putf(f, 0, 0, TA_HEAD, "gpuscope top  %s  %u GPU%s", m->hostname, m->n_gpus,
	               m->n_gpus == 1 ? "" : "s");
	if (m->simulated)
		col = putf(f, 0, col, TA_CRIT, "  SIMULATED (%s)", m->scenario);
	char more[256];
	snprintf(more, sizeof(more), "  %s every %gs", st->source, st->interval_s);
	if (col + (int)strlen(more) < right)
		col = put(f, 0, col, TA_DIM, more);
	snprintf(more, sizeof(more), "  driver %s", m->driver[0] ? m->driver : "?");
	if (col + (int)strlen(more) < right)
		put(f, 0, col, TA_DIM, more);
	putf(f, 0, right > col ? right : col, TA_HEAD, " %s", when);
}

/* The bottom line: an error, why verdicts are missing, or the keys. */
static void status_line(struct top_frame *f, const struct top_model *m, const struct top_status *st)
{
	int row = f->rows - 1;
	if (m->error[0]) {
		if (m->updated > 0)
			putf(f, row, 0, TA_CRIT, "%s; showing data from %.0f s ago", m->error,
			     st->now - m->updated);
		else
			putf(f, row, 0, TA_CRIT, "%s", m->error);
		return;
	}
	int col = 0;
	if (m->diagnosis_state[0])
		col = putf(f, row, 0, TA_DIM, "%s  ", m->diagnosis_state);
	put(f, row, col, TA_DIM, "?:help q:quit s:sort /:filter up/down:GPU enter:details");
}

static void overview(struct top_frame *f, const struct top_model *m, const struct top_view *v)
{
	int avail = f->rows - 2; /* header and status */
	unsigned n = m->n_gpus;
	int procs_min = 4; /* title, column header, two processes */
	int lines = f->cols >= 150 ? 1 : ((int)n * 2 + procs_min <= avail ? 2 : 1);
	int gpu_rows = avail - procs_min;
	if (gpu_rows < 1)
		gpu_rows = avail;
	unsigned fit = (unsigned)(gpu_rows / lines);
	unsigned first = 0;
	if (n > fit && fit > 0) {
		fit = fit > 1 ? fit - 1 : fit; /* a line for "+N more" */
		if (v->selected >= fit)
			first = v->selected - fit + 1;
	}
	int row = 1;
	for (unsigned i = first; i < n && i < first + fit; i++)
		row += gpu_lines(f, row, &m->gpu[i], i == v->selected, lines);
	if (first + fit < n || first > 0)
		putf(f, row++, 0, TA_DIM, "  (GPUs %u-%u of %u shown; up/down scrolls)", first,
		     first + fit - 1, n);
	if (n == 0)
		put(f, row++, 0, TA_DIM, "  no GPUs");
	processes(f, row, f->rows - 2, m, v, -1);
}

static void detail(struct top_frame *f, const struct top_model *m, const struct top_view *v)
{
	const struct top_gpu *g = &m->gpu[v->selected];
	int row = 1;
	putf(f, row, 0, TA_HEAD, "GPU %u  %s  %s  (esc: all GPUs)", g->index, g->name, g->uuid);
	row++;
	static const struct {
		enum top_series s;
		const char *label;
	} rows[] = {{TS_UTIL, "util"},   {TS_SM, "SM"},       {TS_TENSOR, "tensor"},
	            {TS_DRAM, "DRAM"},   {TS_MEM, "memory"},  {TS_POWER, "power W"},
	            {TS_TEMP, "temp C"}, {TS_CLOCK, "SM MHz"}};
	int w = f->cols - 24;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]) && row < f->rows - 6; i++, row++) {
		const struct top_ring *r = &g->ring[rows[i].s];
		double lo = 0, hi = 1;
		if (rows[i].s == TS_POWER)
			hi = g->power_limit.ok ? g->power_limit.v : 1000;
		else if (rows[i].s == TS_TEMP)
			hi = g->temp_slowdown.ok ? g->temp_slowdown.v : 100;
		else if (rows[i].s == TS_CLOCK)
			hi = g->sm_clock_max.ok ? g->sm_clock_max.v / 1e6 : 2000;
		double last[1];
		bool ok[1];
		bool have = top_ring_last(r, 1, last, ok) == 1 && ok[0];
		bool ratio = hi == 1 && lo == 0;
		char now[24] = "-";
		if (have)
			snprintf(now, sizeof(now), ratio ? "%.0f%%" : "%.0f",
			         ratio ? last[0] * 100 : last[0]);
		putf(f, row, 0, TA_PLAIN, "%-8s %6s", rows[i].label, now);
		spark(f, row, 16, w, r, lo, hi);
		putf(f, row, 17 + w, TA_DIM, "%g", ratio ? 100 : hi);
	}
	row = gpu_facts(f, row, 0, g) > 0 ? row + 1 : row;
	/* Inferences of `gpuscope run` programs on this GPU (remote agents, last 15 min). */
	for (unsigned i = 0; i < m->n_inferences && row < f->rows - 6; i++) {
		const struct top_inference *x = &m->inference[i];
		if (x->gpu != (int)g->index)
			continue;
		char p50[16] = "-", p95[16] = "-", p99[16] = "-", busy[16] = "-", e[16] = "-";
		if (x->p50.ok)
			snprintf(p50, sizeof(p50), "%.3g", x->p50.v * 1e3);
		if (x->p95.ok)
			snprintf(p95, sizeof(p95), "%.3g", x->p95.v * 1e3);
		if (x->p99.ok)
			snprintf(p99, sizeof(p99), "%.3g", x->p99.v * 1e3);
		if (x->busy.ok)
			snprintf(busy, sizeof(busy), "%.3g", x->busy.v * 1e3);
		if (x->energy.ok)
			snprintf(e, sizeof(e), "%.3g", x->energy.v);
		putf(
		    f, row++, 0, TA_PLAIN,
		    "infer    %s %.20s[%d]: %.0f, %.3g/s, p50/p95/p99 %s/%s/%s ms, GPU %s ms, %s J",
		    x->range, x->process, x->pid, x->count, x->rate.ok ? x->rate.v : 0.0, p50, p95,
		    p99, busy, e);
	}
	int shown = 0;
	for (int pass = 3; pass >= 0; pass--)
		for (unsigned i = 0; i < m->n_verdicts && row < f->rows - 5; i++) {
			const struct top_verdict *vd = &m->verdict[i];
			if (vd->gpu != (int)g->index || top_severity_rank(vd->severity) != pass)
				continue;
			putf(f, row++, 0, severity_attr(vd->severity), "%-8s %s", vd->severity,
			     vd->title);
			if (f->rows - row > 8)
				putf(f, row++, 9, TA_PLAIN, "%s", vd->evidence);
			putf(f, row++, 9, TA_DIM, "fix: %s", vd->fix);
			shown++;
		}
	if (!shown)
		put(f, row++, 0, TA_DIM,
		    m->diagnosis_state[0] ? m->diagnosis_state : "no verdict on this GPU");
	processes(f, row, f->rows - 2, m, v, (int)g->index);
}

static void help(struct top_frame *f)
{
	static const char *lines[] = {
	    "gpuscope top - keys",
	    "",
	    "  q            quit",
	    "  ?            this help (any key closes it)",
	    "  up/down j/k  select a GPU",
	    "  enter        the selected GPU: history, verdicts, its processes",
	    "  esc          back to all GPUs",
	    "  s            sort processes: memory, SM, CPU, pid, name",
	    "  /            filter processes (pid, name, user, container); enter",
	    "               keeps it, esc clears it",
	    "",
	    "Per GPU: util sparkline and now, SM / tensor (TC) / DRAM activity %,",
	    "memory used/total, power now/limit, temperature now/slowdown, SM clock,",
	    "power max over the last 60 refreshes, throttle reasons, XID and ECC,",
	    "and the most severe live verdict (+N: more in the GPU's view).",
	};
	int row = 2;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]) && row < f->rows; i++, row++) {
		for (int c = 2; c < f->cols - 2 && c < 80; c++)
			f->cell[row][c] = (struct top_cell){' ', TA_SEL};
		put(f, row, 3, TA_SEL, lines[i]);
	}
}

void top_frame_draw(struct top_frame *f, int rows, int cols, bool unicode,
                    const struct top_model *m, const struct top_view *v,
                    const struct top_status *st)
{
	f->rows = rows < 1 ? 1 : rows > TOP_MAX_ROWS ? TOP_MAX_ROWS : rows;
	f->cols = cols < 1 ? 1 : cols > TOP_MAX_COLS ? TOP_MAX_COLS : cols;
	f->unicode = unicode;
	for (int r = 0; r < f->rows; r++)
		for (int c = 0; c < f->cols; c++)
			f->cell[r][c] = (struct top_cell){' ', TA_PLAIN};
	header(f, m, st);
	if (v->detail && v->selected < m->n_gpus)
		detail(f, m, v);
	else
		overview(f, m, v);
	status_line(f, m, st);
	if (v->help)
		help(f);
}

void top_frame_print(const struct top_frame *f, FILE *out)
{
	for (int r = 0; r < f->rows; r++) {
		int end = f->cols;
		while (end > 0 && f->cell[r][end - 1].ch == ' ')
			end--;
		for (int c = 0; c < end; c++) {
			uint32_t ch = f->cell[r][c].ch;
			char b[4];
			if (ch < 0x80) {
				fputc((int)ch, out);
			} else if (ch < 0x800) {
				b[0] = (char)(0xc0 | ch >> 6);
				b[1] = (char)(0x80 | (ch & 0x3f));
				fwrite(b, 1, 2, out);
			} else {
				b[0] = (char)(0xe0 | ch >> 12);
				b[1] = (char)(0x80 | ((ch >> 6) & 0x3f));
				b[2] = (char)(0x80 | (ch & 0x3f));
				fwrite(b, 1, 3, out);
			}
		}
		fputc('\n', out);
	}
}

const char *top_sort_name(enum top_sort s)
{
	static const char *names[] = {"memory", "sm", "cpu", "pid", "name"};
	return s < SORT_COUNT ? names[s] : "?";
}

bool top_view_key(struct top_view *v, const struct top_model *m, int key)
{
	if (v->editing) {
		size_t len = strlen(v->filter);
		if (key == TOP_KEY_ENTER) {
			v->editing = false;
		} else if (key == TOP_KEY_ESC) {
			v->editing = false;
			v->filter[0] = 0;
		} else if (key == TOP_KEY_BACK) {
			if (len)
				v->filter[len - 1] = 0;
		} else if (key >= 0x20 && key < 0x7f && len + 1 < sizeof(v->filter)) {
			v->filter[len] = (char)key;
			v->filter[len + 1] = 0;
		} else {
			return false;
		}
		return true;
	}
	if (v->help) {
		v->help = false;
		if (key == 'q')
			v->quit = true;
		return true;
	}
	switch (key) {
	case 'q':
		v->quit = true;
		return true;
	case '?':
	case 'h':
		v->help = true;
		return true;
	case 's':
		v->sort = (enum top_sort)((v->sort + 1) % SORT_COUNT);
		return true;
	case '/':
		v->editing = true;
		return true;
	case TOP_KEY_ESC:
		v->detail = false;
		v->filter[0] = 0;
		return true;
	case TOP_KEY_ENTER:
		v->detail = m->n_gpus > 0;
		return true;
	case 'k':
	case TOP_KEY_UP:
		if (v->selected > 0)
			v->selected--;
		return true;
	case 'j':
	case TOP_KEY_DOWN:
		if (v->selected + 1 < m->n_gpus)
			v->selected++;
		return true;
	default:
		return false;
	}
}

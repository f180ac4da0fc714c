/* run_summary.c - per-inference lines -> percentiles per range name -> verdicts.
 *
 * Verdict thresholds are written next to each verdict, with the reason; they are medians
 * over a group, so one odd inference does not earn a verdict.
 */
#include "inference/run_summary.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *const fig_names[] = {
#define X(id, label, unit) #id,
    RUN_FIGURES(X)
#undef X
};
static const char *const fig_labels[] = {
#define X(id, label, unit) label,
    RUN_FIGURES(X)
#undef X
};
static const char fig_units[] = {
#define X(id, label, unit) unit,
    RUN_FIGURES(X)
#undef X
};

void run_summary_init(struct run_summary *s)
{
	memset(s, 0, sizeof(*s));
}

void run_summary_free(struct run_summary *s)
{
	for (size_t i = 0; i < s->ngroups; i++)
		free(s->groups[i].inf);
	memset(s, 0, sizeof(*s));
}

void run_summary_note(struct run_summary *s, const char *f, ...)
{
	size_t n = strlen(s->notes);
	if (n + 2 >= sizeof(s->notes))
		return;
	va_list ap;
	va_start(ap, f);
	vsnprintf(s->notes + n, sizeof(s->notes) - n, f, ap);
	va_end(ap);
}

static struct run_group *group(struct run_summary *s, const char *name, bool nvtx)
{
	for (size_t i = 0; i < s->ngroups; i++)
		if (s->groups[i].nvtx == nvtx && strcmp(s->groups[i].name, name) == 0)
			return &s->groups[i];
	if (s->ngroups == RUN_GROUPS_MAX)
		return NULL;
	struct run_group *g = &s->groups[s->ngroups++];
	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->nvtx = nvtx;
	return g;
}

static double num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* A time stamp or pid from the program's JSON line as a whole number: a number that is not
 * one (missing, NaN, out of range) reads 0, never an undefined conversion. */
static long long whole(double v)
{
	return isfinite(v) && v >= -9.2e18 && v <= 9.2e18 ? (long long)v : 0;
}

/* A count from the program's JSON line: missing, negative, NaN or too large reads 0. */
static unsigned long long count_of(json_t *o, const char *key)
{
	double v = num(o, key);
	return isfinite(v) && v >= 0 && v < 1.8e19 ? (unsigned long long)v : 0;
}

static int add_inference(struct run_summary *s, json_t *o)
{
	const char *range = json_string_value(json_object_get(o, "range"));
	const char *boundary = json_string_value(json_object_get(o, "boundary"));
	struct run_group *g = group(s, range ? range : "", boundary && !strcmp(boundary, "nvtx"));
	if (!g) {
		s->overflow++;
		return 1;
	}
	if (g->n == g->cap) {
		size_t ncap = g->cap ? g->cap * 2 : 64;
		struct run_inference *n = realloc(g->inf, ncap * sizeof(*n));
		if (!n) {
			s->overflow++;
			return 1;
		}
		g->inf = n;
		g->cap = ncap;
	}
	struct run_inference *r = &g->inf[g->n++];
	for (int f = 0; f < RUN_FIG_COUNT; f++)
		r->v[f] = num(o, fig_names[f]);
	double copies = num(o, "h2d_bytes") + num(o, "d2h_bytes");
	r->v[RUN_FIG_pageable_share] = copies > 0 ? num(o, "pageable_bytes") / copies : NAN;
	r->complete = json_is_true(json_object_get(o, "complete"));
	r->start_unix_ns = whole(num(o, "start_unix_ns"));
	r->end_unix_ns = whole(num(o, "end_unix_ns"));
	r->device = (int)json_integer_value(json_object_get(o, "device"));
	r->pid = (int)json_integer_value(json_object_get(o, "pid"));
	if (!r->complete)
		g->incomplete++;
	return 1;
}

int run_summary_add_line(struct run_summary *s, const char *line, size_t len)
{
	json_error_t err;
	json_t *o = json_loadb(line, len, 0, &err);
	if (!json_is_object(o)) {
		json_decref(o);
		s->bad_lines++;
		return -1;
	}
	const char *type = json_string_value(json_object_get(o, "type"));
	int rc = 0;
	if (type && !strcmp(type, "inference")) {
		rc = add_inference(s, o);
	} else if (type && !strcmp(type, "status")) {
		const char *state = json_string_value(json_object_get(o, "state"));
		const char *why = json_string_value(json_object_get(o, "why"));
		const char *cupti = json_string_value(json_object_get(o, "cupti"));
		long long pid = whole(num(o, "pid"));
		s->processes++;
		if (state && !strcmp(state, "measuring")) {
			s->measured++;
			run_summary_note(s, "process %lld: measured with %s%s%s%s\n", pid,
			                 cupti ? cupti : "?", why && why[0] ? " (" : "",
			                 why && why[0] ? why : "", why && why[0] ? ")" : "");
		} else {
			run_summary_note(s, "process %lld: NOT measured (%s): %s\n", pid,
			                 state ? state : "?", why ? why : "");
		}
	} else if (type && !strcmp(type, "exit")) {
		s->dropped_records += count_of(o, "dropped_records");
		s->lost_events += count_of(o, "lost_events");
		s->agent_sent += count_of(o, "agent_sent");
		s->agent_dropped += count_of(o, "agent_dropped");
	} else if ((rc = run_nccl_add(&s->nccl, o)) != 0) {
		rc = rc > 0 ? 0 : -1;
		s->bad_lines += rc < 0;
	} else {
		s->bad_lines++;
		rc = -1;
	}
	json_decref(o);
	return rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct stats {
	size_t n;
	double p50, p95, p99, mean;
};

/* Nearest-rank percentiles of one figure over the group's inferences that have it. */
static struct stats stats_of(const struct run_group *g, int f)
{
	struct stats st = {0};
	double *v = malloc((g->n ? g->n : 1) * sizeof(*v));
	if (!v)
		return st;
	double sum = 0;
	for (size_t i = 0; i < g->n; i++)
		if (!isnan(g->inf[i].v[f])) {
			v[st.n++] = g->inf[i].v[f];
			sum += g->inf[i].v[f];
		}
	if (st.n) {
		qsort(v, st.n, sizeof(*v), cmp_double);
#define RANK(p) v[(size_t)ceil((p) / 100.0 * (double)st.n) - 1]
		st.p50 = RANK(50);
		st.p95 = RANK(95);
		st.p99 = RANK(99);
#undef RANK
		st.mean = sum / (double)st.n;
	}
	free(v);
	return st;
}

static double median(const struct run_group *g, int f)
{
	struct stats st = stats_of(g, f);
	return st.n ? st.p50 : NAN;
}

/* The held-memory means of the first and last quarter of pid's inferences, in order. */
static bool memory_grows(const struct run_group *g, int pid)
{
	size_t n = 0;
	for (size_t i = 0; i < g->n; i++)
		n += g->inf[i].pid == pid;
	if (n < 4)
		return false;
	size_t q = n / 4, seen = 0;
	double first = 0, last = 0;
	for (size_t i = 0; i < g->n; i++) {
		if (g->inf[i].pid != pid)
			continue;
		double held = g->inf[i].v[RUN_FIG_mem_held_after_bytes];
		if (seen < q)
			first += held / (double)q;
		if (seen >= n - q)
			last += held / (double)q;
		seen++;
	}
	return last - first > 1048576.0 && last > first * 1.05;
}

/* The verdicts, each with its threshold and why. */
unsigned run_group_verdicts(const struct run_group *g)
{
	unsigned v = 0;
	if (!g->n)
		return 0;
	double kernels = median(g, RUN_FIG_kernels), kmean = median(g, RUN_FIG_kernel_mean_s);
	double busy = median(g, RUN_FIG_gpu_busy_s);
	double lat = median(g, RUN_FIG_latency_s);
	/* Launch-bound: many kernels too short to hide the ~5-10 us launch cost, and the GPU
	 * idle between them longer than it runs them.  (Idle while copies run is not launch
	 * overhead: the busy share of the inference alone calls a copy-heavy load launch-bound.) */
	double gaps = median(g, RUN_FIG_launch_gap_s);
	if (kernels >= 20 && kmean < 50e-6 && gaps > busy)
		v |= RUN_VERDICT_LAUNCH_BOUND;
	/* PCIe-bound: the copies take longer than the kernels. */
	double copy = 0;
	size_t ncopy = 0;
	for (size_t i = 0; i < g->n; i++) {
		double c = g->inf[i].v[RUN_FIG_h2d_s] + g->inf[i].v[RUN_FIG_d2h_s];
		double k = g->inf[i].v[RUN_FIG_gpu_busy_s];
		if (!isnan(c) && !isnan(k) && c > k)
			ncopy++;
		if (!isnan(c))
			copy += c;
	}
	if (copy > 0 && ncopy * 2 > g->n)
		v |= RUN_VERDICT_PCIE_BOUND;
	/* Host-bound between inferences: the GPU waits longer between inferences than half an
	 * inference takes (and more than a millisecond, below which nothing is worth fixing). */
	double before = median(g, RUN_FIG_since_previous_s);
	if (g->n >= 2 && !isnan(before) && before > 1e-3 && before > 0.5 * lat)
		v |= RUN_VERDICT_HOST_BOUND;
	/* Memory growing: in one process (memory is per process), the memory held after an
	 * inference rises from the first quarter of its inferences to the last by more than
	 * 1 MiB and 5%. */
	for (size_t k = 0; k < g->n && !(v & RUN_VERDICT_MEMORY_GROWING); k++) {
		bool first_of_pid = true;
		for (size_t j = 0; j < k && first_of_pid; j++)
			first_of_pid = g->inf[j].pid != g->inf[k].pid;
		if (first_of_pid && memory_grows(g, g->inf[k].pid))
			v |= RUN_VERDICT_MEMORY_GROWING;
	}
	return v;
}

static void fmt(char *out, size_t cap, double x, char unit)
{
	if (isnan(x)) {
		snprintf(out, cap, "-");
		return;
	}
	switch (unit) {
	case 's':
		if (x < 1e-3)
			snprintf(out, cap, "%.1f us", x * 1e6);
		else if (x < 1)
			snprintf(out, cap, "%.3f ms", x * 1e3);
		else
			snprintf(out, cap, "%.3f s", x);
		break;
	case '%':
		snprintf(out, cap, "%.1f %%", x * 100);
		break;
	case 'b':
		if (x < 1024 * 1024)
			snprintf(out, cap, "%.1f KiB", x / 1024);
		else
			snprintf(out, cap, "%.2f MiB", x / 1048576);
		break;
	case 'J':
		snprintf(out, cap, "%.3f J", x);
		break;
	default:
		snprintf(out, cap, "%.6g", x);
	}
}

static void print_verdicts(const struct run_group *g, FILE *to)
{
	unsigned v = run_group_verdicts(g);
	if (!v) {
		fprintf(to, "  verdicts: none (not launch-, PCIe- or host-bound; memory steady)\n");
		return;
	}
	char a[32], b[32];
	if (v & RUN_VERDICT_LAUNCH_BOUND) {
		char c[32];
		fmt(a, sizeof(a), median(g, RUN_FIG_kernel_mean_s), 's');
		fmt(b, sizeof(b), median(g, RUN_FIG_launch_gap_s), 's');
		fmt(c, sizeof(c), median(g, RUN_FIG_gpu_busy_s), 's');
		fprintf(to,
		        "  LAUNCH-BOUND: %.0f kernels of %s each; the GPU idles %s between them "
		        "and runs them %s.\n"
		        "    Fix: CUDA Graphs, torch.compile (mode=\"reduce-overhead\"), fused "
		        "kernels.\n",
		        median(g, RUN_FIG_kernels), a, b, c);
	}
	if (v & RUN_VERDICT_PCIE_BOUND) {
		double c = median(g, RUN_FIG_h2d_s) + median(g, RUN_FIG_d2h_s);
		fmt(a, sizeof(a), c, 's');
		fmt(b, sizeof(b), median(g, RUN_FIG_gpu_busy_s), 's');
		double pg = median(g, RUN_FIG_pageable_share);
		fprintf(to,
		        "  PCIE-BOUND: copies take %s against %s of kernels (pageable share "
		        "%.0f%%).\n"
		        "    Fix: pinned memory (pin_memory=True), non_blocking copies overlapped "
		        "with compute, keep data on the GPU.\n",
		        a, b, isnan(pg) ? 0 : pg * 100);
	}
	if (v & RUN_VERDICT_HOST_BOUND) {
		fmt(a, sizeof(a), median(g, RUN_FIG_since_previous_s), 's');
		fmt(b, sizeof(b), median(g, RUN_FIG_latency_s), 's');
		fprintf(to,
		        "  HOST-BOUND BETWEEN INFERENCES: the GPU waits %s between inferences of "
		        "%s.\n"
		        "    Fix: batch requests, overlap pre/post-processing (DataLoader workers, "
		        "a second stream), move tokenization off the critical path.\n",
		        a, b);
	}
	if (v & RUN_VERDICT_MEMORY_GROWING) {
		fmt(a, sizeof(a), g->inf[0].v[RUN_FIG_mem_held_after_bytes], 'b');
		fmt(b, sizeof(b), g->inf[g->n - 1].v[RUN_FIG_mem_held_after_bytes], 'b');
		fprintf(
		    to,
		    "  MEMORY GROWING: device memory held after an inference went from %s to "
		    "%s.\n"
		    "    Fix: free per-request state (KV cache entries, outputs kept in lists), "
		    "bound caches.\n",
		    a, b);
	}
}

void run_summary_print(const struct run_summary *s, double gap_s, FILE *to)
{
	fprintf(to, "\n== gpuscope run: per-inference summary ==\n%s", s->notes);
	if (!s->processes)
		fprintf(to,
		        "no process initialised CUDA under the injection library: nothing was "
		        "measured (is it a CUDA program? was CUDA_INJECTION64_PATH cleared?)\n");
	for (size_t gi = 0; gi < s->ngroups; gi++) {
		const struct run_group *g = &s->groups[gi];
		if (g->nvtx)
			fprintf(to,
			        "\nrange \"%s\": %zu inferences (boundary: NVTX range; confidence "
			        "high)%s\n",
			        g->name, g->n, g->incomplete ? ", the last cut short by exit" : "");
		else
			fprintf(
			    to,
			    "\nbusy periods: %zu (boundary: GPU work separated by more than %.3g "
			    "ms "
			    "idle; no matching NVTX range was seen; confidence low: a period can "
			    "hold several inferences or part of one; use --range)\n",
			    g->n, gap_s * 1e3);
		fprintf(to, "  %-26s %12s %12s %12s %12s\n", "figure", "p50", "p95", "p99", "mean");
		for (int f = 0; f < RUN_FIG_COUNT; f++) {
			struct stats st = stats_of(g, f);
			if (!st.n)
				continue;
			char c[4][32];
			fmt(c[0], 32, st.p50, fig_units[f]);
			fmt(c[1], 32, st.p95, fig_units[f]);
			fmt(c[2], 32, st.p99, fig_units[f]);
			fmt(c[3], 32, st.mean, fig_units[f]);
			fprintf(to, "  %-26s %12s %12s %12s %12s\n", fig_labels[f], c[0], c[1],
			        c[2], c[3]);
		}
		/* Over the span from the first inference's start to the last one's end, not the
		 * command's wall time, which holds start-up (imports, model loading). */
		double busy = 0;
		long long first = 0, last = 0;
		for (size_t i = 0; i < g->n; i++) {
			const struct run_inference *r = &g->inf[i];
			busy += isnan(r->v[RUN_FIG_gpu_busy_s]) ? 0 : r->v[RUN_FIG_gpu_busy_s];
			if (!first || r->start_unix_ns < first)
				first = r->start_unix_ns;
			if (r->end_unix_ns > last)
				last = r->end_unix_ns;
		}
		double span = (double)(last - first) / 1e9;
		if (span > 0 && g->n) {
			double util = busy / span, rate = (double)g->n / span;
			fprintf(
			    to,
			    "  compute intensity (GPU utilization %.1f%% / %.2f inferences/s) = "
			    "%.3g s;\n"
			    "    GPU busy time per inference is the better figure: it does not "
			    "move with idle time or request rate.\n",
			    util * 100, rate, util / rate);
		}
		print_verdicts(g, to);
	}
	if (s->dropped_records || s->lost_events)
		fprintf(to,
		        "\nWARNING: CUPTI dropped %llu records and %llu events were lost: "
		        "figures undercount.\n",
		        s->dropped_records, s->lost_events);
	if (s->agent_sent || s->agent_dropped)
		fprintf(to, "agent: %llu inferences sent, %llu dropped (agent absent or busy)\n",
		        s->agent_sent, s->agent_dropped);
	if (s->bad_lines)
		fprintf(to, "%zu lines not understood\n", s->bad_lines);
}

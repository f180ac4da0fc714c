/* test_metric_table.c - the metric table's invariants and exact unit conversions, and that
 * every behaviour keyed by metric comes from the table's rows: window families, MIG series,
 * DCGM names and their inverse, history columns, process families.
 *
 * Built twice: as unit.series.metric_table, and as unit.series.metric_table_extra with one row
 * more (metric_table_extra.h), where the same checks, and test_extra_row, show that the row
 * alone gives a metric all of these. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "export/prom.h"
#include "export/prom_procs.h"
#include "export/strbuf.h"
#include "nvml/nvml_abi.h"
#include "series/metric_table.h"
#include "series/nvlink.h"
#include "series/window.h"
#include "store/internal.h"
#include "store/store.h"

static bool valid_prom_name(const char *s)
{
	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == ':'))
			return false;
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void test_names_follow_conventions(void **state)
{
	for (int i = 0; i < METRIC_COUNT; i++) {
		const struct metric_def *d = &metric_table[i];
		assert_true(valid_prom_name(d->name));
		assert_int_equal(strncmp(d->name, "gpuscope_", 9), 0);
		assert_true(d->help && strlen(d->help) > 10);
		/* Counters and only counters end in _total. */
		assert_int_equal(d->type == COUNTER, ends_with(d->name, "_total"));
		/* Base units in the name. */
		if (d->unit == UNIT_PERCENT || d->unit == UNIT_ACTIVITY || d->unit == UNIT_RATIO)
			assert_true(ends_with(d->name, "_ratio"));
		if (d->unit == UNIT_BYTES)
			assert_true(
			    ends_with(d->name, d->type == COUNTER ? "_bytes_total" : "_bytes"));
		if (d->unit == UNIT_MIB_PER_S)
			assert_true(ends_with(d->name, "_bytes_per_second"));
		if (d->unit == UNIT_MILLIWATTS)
			assert_true(ends_with(d->name, "_watts"));
		if (d->unit == UNIT_MILLIJOULES)
			assert_true(ends_with(d->name, "_joules_total"));
		if (d->unit == UNIT_MEGAHERTZ)
			assert_true(ends_with(d->name, "_hertz"));
		if (d->unit == UNIT_CELSIUS)
			assert_true(ends_with(d->name, "_celsius"));
		if (d->unit == UNIT_SECONDS)
			assert_true(
			    ends_with(d->name, d->type == COUNTER ? "_seconds_total" : "_seconds"));
		assert_int_equal(d->dcgm == NULL, d->dcgm_help == NULL);
		if (d->dcgm) {
			assert_true(valid_prom_name(d->dcgm));
			assert_int_equal(strncmp(d->dcgm, "DCGM_FI_", 8), 0);
		}
	}
}

static void test_series_unique_and_families_adjacent(void **state)
{
	for (int i = 0; i < METRIC_COUNT; i++) {
		for (int j = i + 1; j < METRIC_COUNT; j++) {
			const struct metric_def *a = &metric_table[i], *b = &metric_table[j];
			assert_false(strcmp(a->name, b->name) == 0 &&
			             strcmp(a->labels, b->labels) == 0);
			if (a->dcgm && b->dcgm)
				assert_string_not_equal(a->dcgm, b->dcgm);
			/* One family, one place: same name means adjacent rows of one type. */
			if (strcmp(a->name, b->name) == 0) {
				for (int k = i; k <= j; k++)
					assert_string_equal(metric_table[k].name, a->name);
				assert_int_equal(a->type, b->type);
				assert_string_equal(a->help, b->help);
				/* windows and MIG series are per family */
				assert_int_equal(a->flags, b->flags);
			}
		}
	}
}

static void test_every_source_has_a_tier(void **state)
{
	for (int i = 0; i < METRIC_COUNT; i++) {
		enum source_id s = metric_table[i].source;
		assert_true(s < SRC_COUNT);
		assert_true(source_table[s].tier < TIER_COUNT);
		assert_non_null(source_table[s].call);
	}
}

/* The flags ask for what the readers can give: a window of a gauge the fast sweeper reads
 * (its sweeps and the driver's buffers feed the ring), a MIG instance's value from the
 * sources sample/mig.c reads per instance (memory and GPM). */
static void test_flags_fit_their_sources(void **state)
{
	for (int i = 0; i < METRIC_COUNT; i++) {
		const struct metric_def *d = &metric_table[i];
		assert_int_equal(d->flags & ~(unsigned)(WINDOWED | PER_MIG), 0);
		if (d->flags & WINDOWED) {
			enum sample_tier t = source_table[d->source].tier;
			assert_int_equal(d->type, GAUGE);
			assert_true(t == TIER_FAST || t == TIER_BUFFER);
		}
		if (d->flags & PER_MIG)
			assert_true(d->source == SRC_MEMORY || d->source == SRC_GPM);
	}
}

/* The drop-in list: each must be a row of the table. */
static void test_dcgm_drop_in_names_present(void **state)
{
	static const char *const required[] = {"DCGM_FI_DEV_GPU_UTIL",
	                                       "DCGM_FI_DEV_MEM_COPY_UTIL",
	                                       "DCGM_FI_DEV_FB_USED",
	                                       "DCGM_FI_DEV_FB_FREE",
	                                       "DCGM_FI_DEV_FB_RESERVED",
	                                       "DCGM_FI_DEV_GPU_TEMP",
	                                       "DCGM_FI_DEV_MEMORY_TEMP",
	                                       "DCGM_FI_DEV_POWER_USAGE",
	                                       "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
	                                       "DCGM_FI_DEV_SM_CLOCK",
	                                       "DCGM_FI_DEV_MEM_CLOCK",
	                                       "DCGM_FI_DEV_ENC_UTIL",
	                                       "DCGM_FI_DEV_DEC_UTIL",
	                                       "DCGM_FI_DEV_PCIE_REPLAY_COUNTER",
	                                       "DCGM_FI_DEV_XID_ERRORS",
	                                       "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL",
	                                       "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",
	                                       "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
	                                       "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS",
	                                       "DCGM_FI_DEV_ROW_REMAP_FAILURE"};
	for (size_t r = 0; r < sizeof(required) / sizeof(required[0]); r++) {
		bool found = false;
		for (int i = 0; i < METRIC_COUNT; i++)
			found |=
			    metric_table[i].dcgm && strcmp(metric_table[i].dcgm, required[r]) == 0;
		if (!found)
			fail_msg("%s missing from the metric table", required[r]);
	}
}

/* Each conversion is one exact IEEE operation: the result equals the
 * literal a person would write, bit for bit. */
static void test_conversions_are_exact(void **state)
{
	assert_true(metric_native_value(UNIT_PERCENT, 45) == 0.45);
	assert_true(metric_native_value(UNIT_PERCENT, 7) == 0.07);
	assert_true(metric_native_value(UNIT_PERCENT, 100) == 1.0);
	assert_true(metric_dcgm_value(UNIT_PERCENT, 45) == 45);
	assert_true(metric_native_value(UNIT_MILLIWATTS, 697123) == 697.123);
	assert_true(metric_dcgm_value(UNIT_MILLIWATTS, 697123) == 697.123);
	assert_true(metric_native_value(UNIT_MILLIJOULES, 5000000123.0) == 5000000.123);
	assert_true(metric_dcgm_value(UNIT_MILLIJOULES, 5000000123.0) == 5000000123.0);
	assert_true(metric_native_value(UNIT_MEGAHERTZ, 1980) == 1980e6);
	assert_true(metric_dcgm_value(UNIT_MEGAHERTZ, 1980) == 1980);
	double h200 = 143771.0 * 1048576.0;
	assert_true(metric_native_value(UNIT_BYTES, h200) == h200);
	assert_true(metric_dcgm_value(UNIT_BYTES, h200) == 143771);
	/* DCGM floors partial MiB. */
	assert_true(metric_dcgm_value(UNIT_BYTES, 1048575) == 0);
	assert_true(metric_dcgm_value(UNIT_BYTES, 1048576 + 1048575) == 1);
	assert_true(metric_native_value(UNIT_CELSIUS, 51) == 51);
	assert_true(metric_native_value(UNIT_COUNT, 4) == 4);
}

static void check_double(double v, const char *want)
{
	struct strbuf sb;
	sb_init(&sb, 8);
	sb_double(&sb, v);
	assert_string_equal(sb.data, want);
	sb_free(&sb);
}

static void test_numbers_print_shortest_round_trip(void **state)
{
	check_double(metric_native_value(UNIT_PERCENT, 45), "0.45");
	check_double(metric_native_value(UNIT_MILLIWATTS, 697123), "697.123");
	check_double(metric_native_value(UNIT_MEGAHERTZ, 1980), "1980000000");
	check_double(143771.0 * 1048576.0, "150754820096");
	check_double(0.1 + 0.2, "0.30000000000000004");
	check_double(0, "0");
	check_double(1.0 / 0.0, "+Inf");
	check_double(-1.0 / 0.0, "-Inf");
	check_double(0.0 / 0.0, "NaN");
}

static void test_label_escaping(void **state)
{
	struct strbuf sb;
	sb_init(&sb, 4);
	sb_label_value(&sb, "a\"b\\c\nd");
	assert_string_equal(sb.data, "a\\\"b\\\\c\\nd");
	sb_free(&sb);
}

/* A raw value of the row's unit that both exported forms carry exactly (a whole MiB, a
 * whole ns, ...), so the inverse must give it back bit for bit; and so does the history
 * (its quantum, store/schema.c), for the value and for 1.5 and 2 times it. */
static double sample_raw(int m)
{
	switch (metric_table[m].unit) {
	case UNIT_BYTES:
		return 4096.0 * 1048576.0;
	case UNIT_SECONDS:
		return 1.5;
	case UNIT_RATIO:
		return 0.25;
	case UNIT_MIB_PER_S:
		return 300;
	case UNIT_BYTES_PER_S:
		return 2e9;
	case UNIT_MILLIWATTS:
		return 697124;
	case UNIT_MILLIJOULES:
		return 5000000124.0;
	case UNIT_MEGAHERTZ:
		return 1980;
	case UNIT_CELSIUS:
		return 51;
	case UNIT_PERCENT:
	case UNIT_ACTIVITY:
		return 50;
	default:
		return 4;
	}
}

/* One GPU with every row valid at sample_raw (two NVLink links, one Xid code), and one MIG
 * instance with every row valid at twice that. */
static struct gpu_record gpu;
static struct board_snapshot snap;

static int setup_snapshot(void **state)
{
	memset(&gpu, 0, sizeof(gpu));
	memset(&snap, 0, sizeof(snap));
	gpu.health = GPU_OK;
	snprintf(gpu.id.uuid, sizeof(gpu.id.uuid), "GPU-0");
	snprintf(gpu.id.name, sizeof(gpu.id.name), "NVIDIA H200");
	for (int m = 0; m < METRIC_COUNT; m++) {
		gpu.raw[m] = sample_raw(m);
		metric_set_add(&gpu.valid, m);
		metric_set_add(&gpu.supported, m);
	}
	/* every "@link" row on two links (NVLINK_UP 1, the byte counters 4096, the rest at
	 * sample_raw): its values sit where the row says (series/nvlink.h) */
	gpu.nvlink.links = 2;
	for (int m = 0; m < METRIC_COUNT; m++) {
		int k = metric_link_row(m);
		for (unsigned l = 0; k >= 0 && k < NVLINK_MAX_ROWS && l < 2; l++)
			gpu.nvlink.value[k][l] =
			    m == METRIC_NVLINK_UP ? 1
			    : m == METRIC_NVLINK_TX_BYTES || m == METRIC_NVLINK_RX_BYTES
			        ? 4096
			        : sample_raw(m);
	}
	gpu.xids.n = 1;
	gpu.xids.code[0] = 79;
	gpu.xids.count[0] = 1;
	snap.count = 1;
	snap.gpus = &gpu;
	return 0;
}

static void add_mig_instance(void)
{
	struct mig_record *r = &gpu.mig[0];
	gpu.n_mig = 1;
	r->gi = 1;
	snprintf(r->profile, sizeof(r->profile), "1g.18gb");
	for (int m = 0; m < METRIC_COUNT; m++) {
		r->raw[m] = 2 * sample_raw(m);
		metric_set_add(&r->valid, m);
	}
}

static char *render(unsigned names)
{
	struct strbuf sb;
	sb_init(&sb, 4096);
	struct prom_options o = {.names = names};
	prom_render(&snap, &o, &sb);
	assert_false(sb.oom);
	return sb.data;
}

/* Whether text has a line that starts with prefix. */
static bool has_line(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, n) == 0)
			return true;
	return false;
}

/* Every row with a DCGM twin is found again by its name, and its exported value, read back
 * through the inverse, is the raw value; every DCGM_FI_ line the exporter writes is a row's. */
static void test_dcgm_names_and_values_round_trip(void **state)
{
	for (int m = 0; m < METRIC_COUNT; m++) {
		const char *d = metric_table[m].dcgm;
		if (!d)
			continue;
		char name[128];
		snprintf(name, sizeof(name), "%s%s", d, metric_dynamic_label(m) ? "17" : "");
		assert_int_equal(metric_of_dcgm(name, 18), m);
		double raw = sample_raw(m);
		assert_true(metric_raw_of_dcgm(metric_table[m].unit,
		                               metric_dcgm_value(metric_table[m].unit, raw)) ==
		            raw);
	}
	assert_int_equal(metric_of_dcgm("DCGM_FI_DEV_NOT_A_FIELD", 18), -1);
	assert_int_equal(metric_of_dcgm("DCGM_FI_DEV_NVLINK_BANDWIDTH_L18", 18), -1);
	assert_int_equal(metric_of_dcgm("DCGM_FI_DEV_NVLINK_BANDWIDTH_L07", 18), -1);
	assert_int_equal(metric_of_dcgm("DCGM_FI_DEV_NVLINK_BANDWIDTH_L", 18), -1);

	char *text = render(NAMES_DCGM);
	metric_set seen = {0};
	for (char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, "DCGM_FI_", 8) != 0)
			continue;
		char name[128];
		size_t n = strcspn(p, "{ ");
		assert_true(n < sizeof(name));
		memcpy(name, p, n);
		name[n] = 0;
		int m = metric_of_dcgm(name, 18);
		if (m < 0)
			fail_msg("%s is served but is no row's DCGM name", name);
		double v = strtod(strstr(p, "} ") + 2, NULL);
		assert_true(metric_raw_of_dcgm(metric_table[m].unit, v) == sample_raw(m));
		metric_set_add(&seen, m);
	}
	for (int m = 0; m < METRIC_COUNT; m++)
		if (metric_table[m].dcgm && !metric_set_has(&seen, m))
			fail_msg("%s is not served", metric_table[m].dcgm);
	free(text);
}

/* A windowed row is folded into the window ring and served as its window families; no
 * other row is. */
static void test_windowed_rows_have_window_families(void **state)
{
	struct gpu_window *w = window_new();
	assert_non_null(w);
	double t = (double)(time(NULL) - 10);
	for (int m = 0; m < METRIC_COUNT; m++) {
		window_add(w, m, t, sample_raw(m));
		window_add(w, m, t + 0.5, 3 * sample_raw(m));
	}
	static struct window_agg agg[1][METRIC_COUNT];
	window_aggregate(w, (int64_t)t, (int64_t)t, agg[0]);
	window_free(w);
	struct strbuf sb;
	sb_init(&sb, 4096);
	struct prom_options o = {.names = NAMES_BOTH};
	prom_render_windows(&snap, &o, (const struct window_agg(*)[METRIC_COUNT])agg, 15, &sb);
	assert_false(sb.oom);
	for (int m = 0; m < METRIC_COUNT; m++) {
		assert_int_equal(agg[0][m].n, metric_windowed(m) ? 2 : 0);
		if (!metric_family_first(m))
			continue;
		for (int k = 0; k < 2; k++) {
			char name[160], type[200];
			prom_window_name(metric_table[m].name, k ? "mean" : "max", name,
			                 sizeof(name));
			snprintf(type, sizeof(type), "# TYPE %s gauge", name);
			assert_int_equal(has_line(sb.data, type), metric_windowed(m));
			strcat(name, "{");
			assert_int_equal(has_line(sb.data, name), metric_windowed(m));
		}
	}
	sb_free(&sb);
}

/* A per-MIG row is served for each GPU instance, with the instance's value, under both
 * name sets; the other rows are the GPU's alone natively. */
static void test_per_mig_rows_are_served_per_instance(void **state)
{
	add_mig_instance();
	char *text = render(NAMES_BOTH);
	for (int m = 0; m < METRIC_COUNT; m++) {
		const struct metric_def *d = &metric_table[m];
		if (metric_dynamic_label(m))
			continue;
		char line[512];
		snprintf(line, sizeof(line),
		         "%s{gpu=\"0\",uuid=\"GPU-0\"%s%s,GPU_I_PROFILE=", d->name,
		         d->labels[0] ? "," : "", d->labels);
		assert_int_equal(has_line(text, line), metric_per_mig(m));
		if (d->dcgm) {
			/* dcgm-exporter watches instances: every series is per instance, the
			 * instance's own value where it has one. */
			char value[64];
			snprintf(line, sizeof(line), "%s{", d->dcgm);
			const char *p = strstr(text, line);
			assert_non_null(p);
			assert_non_null(strstr(p, "GPU_I_ID=\"1\""));
			double want = metric_dcgm_value(d->unit, gpu.mig[0].raw[m]);
			if (!metric_per_mig(m))
				want = metric_dcgm_value(d->unit, gpu.raw[m]);
			struct strbuf v;
			sb_init(&v, 32);
			sb_double(&v, want);
			snprintf(value, sizeof(value), "} %s\n", v.data);
			sb_free(&v);
			const char *end = strchr(p, '\n');
			assert_non_null(end);
			assert_true(end + 1 - p > (long)strlen(value));
			assert_memory_equal(end + 1 - strlen(value), value, strlen(value));
		}
	}
	free(text);
}

/* Every history column is a row's, named after its id, three for a windowed row and one for
 * the others; and a second written with every row comes back from the file as written. */
static void test_history_columns_are_rows(void **state)
{
	static struct store_col cols[STORE_MAX_COLS];
	size_t n = store_columns(cols);
	int per_row[METRIC_COUNT] = {0};
	for (size_t i = 0; i < n; i++) {
		int m = cols[i].metric;
		assert_true(m >= 0 && m < METRIC_COUNT && metric_in_history(m));
		per_row[m]++;
		/* <id> in lower case, after mean_, max_ or min_ for a windowed row */
		char id[STORE_COL_NAME_MAX], want[STORE_COL_NAME_MAX + 8];
		size_t k = 0;
		for (; metric_table[m].id[k] && k + 1 < sizeof(id); k++)
			id[k] = (char)tolower((unsigned char)metric_table[m].id[k]);
		id[k] = 0;
		static const char *const prefix[] = {"mean_", "max_", "min_", ""};
		assert_int_equal(cols[i].stat == COL_VALUE, !metric_windowed(m));
		snprintf(want, sizeof(want), "%s%s", prefix[cols[i].stat], id);
		assert_string_equal(cols[i].name, want);
	}
	for (int m = 0; m < METRIC_COUNT; m++) {
		assert_int_equal(metric_in_history(m), metric_dynamic_label(m) == NULL);
		assert_int_equal(per_row[m], !metric_in_history(m) ? 0
		                             : metric_windowed(m)  ? 3
		                                                   : 1);
	}

	char dir[] = "/tmp/gpuscope-table-XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/h.db", dir);
	struct store_options opt;
	store_options_default(&opt);
	opt.verify_on_open = false;
	struct store *s;
	char err[256];
	assert_int_equal(store_open(path, &opt, &s, err, sizeof(err)), STORE_OK);
	static struct window_agg win[METRIC_COUNT];
	for (int m = 0; m < METRIC_COUNT; m++) /* readings x and 2x: min, mean, max differ */
		win[m] = (struct window_agg){.min = sample_raw(m),
		                             .max = 2 * sample_raw(m),
		                             .sum = 3 * sample_raw(m),
		                             .n = 2};
	const int64_t t = 1700000000;
	struct store_gpu_row row = {.uuid = "GPU-0", .t = t, .win = win, .raw = gpu.raw};
	assert_int_equal(store_put_gpu(s, &row), STORE_OK);
	assert_int_equal(store_flush(s), STORE_OK);
	static struct store_request req[3 * METRIC_COUNT];
	static double want[3 * METRIC_COUNT];
	size_t nreq = 0;
	for (int m = 0; m < METRIC_COUNT; m++) {
		if (!metric_in_history(m))
			continue;
		for (int st = STORE_MEAN; st <= (metric_windowed(m) ? STORE_MIN : STORE_MEAN);
		     st++) {
			req[nreq] = (struct store_request){m, (enum store_stat)st};
			want[nreq++] = !metric_windowed(m) ? sample_raw(m)
			               : st == STORE_MEAN  ? 1.5 * sample_raw(m)
			               : st == STORE_MAX   ? 2 * sample_raw(m)
			                                   : sample_raw(m);
		}
	}
	struct store_series ss;
	assert_int_equal(store_query(s, "GPU-0", t, t, req, nreq, STORE_RES_SECOND, &ss), STORE_OK);
	assert_int_equal(ss.n, 1);
	for (size_t k = 0; k < nreq; k++)
		if (ss.values[k] != want[k])
			fail_msg("%s stat %d: %.17g, wrote %.17g", metric_table[req[k].metric].id,
			         (int)req[k].stat, ss.values[k], want[k]);
	store_series_free(&ss);
	assert_int_equal(store_close(s), STORE_OK);
	unlink(path);
	char side[80];
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
	assert_int_equal(rmdir(dir), 0);
}

/* Every process family is served from a GPU's process table: one series per process for a
 * per-process family, one per GPU for the others. */
static void test_process_families_are_served(void **state)
{
	struct process_table *t = process_table_new(GPU_MAX_PROCESSES);
	assert_non_null(t);
	t->n = t->total = 1;
	struct process_record *r = &t->proc[0];
	r->pid = 42;
	snprintf(r->name, sizeof(r->name), "python");
	r->memory_valid = r->util_valid = r->cpu_valid = true;
	r->memory_bytes = 1048576;
	r->sm_util = 50;
	r->cpu_cores = 1.5;
	gpu.procs = t;
	struct strbuf sb;
	sb_init(&sb, 4096);
	prom_render_processes(&snap, 0, false, &sb);
	assert_false(sb.oom);
	for (int f = 0; f < PROC_FAMILY_COUNT; f++) {
		const struct process_family_def *d = &process_family_table[f];
		char line[200];
		/* a history column is a plain SQL name of its own, beside t, gpu_id, proc_id, n */
		for (const char *c = d->history; c && *c; c++)
			assert_true((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
			            *c == '_');
		for (int k = 0; d->history && k < f; k++)
			assert_true(!process_family_table[k].history ||
			            strcmp(process_family_table[k].history, d->history) != 0);
		if (d->history)
			assert_true(strcmp(d->history, "t") && strcmp(d->history, "gpu_id") &&
			            strcmp(d->history, "proc_id") && strcmp(d->history, "n"));
		snprintf(line, sizeof(line), "# HELP %s %s", d->name, d->help);
		assert_true(has_line(sb.data, line));
		snprintf(line, sizeof(line), "%s{gpu=\"0\",uuid=\"GPU-0\"%s", d->name,
		         d->per_process ? ",pid=\"42\"" : "}");
		assert_true(has_line(sb.data, line));
	}
	sb_free(&sb);
	gpu.procs = NULL;
	process_table_unref(t);
}

/* The clock event reasons are one table (series/clock_reasons.h): row i is NVML's bit 1 << i,
 * its seconds row and share row (if any) carry the reason's label, and every row of those two
 * families is some reason's; the sampler fills them from the bits. */
static void test_clock_reasons_are_rows(void **state)
{
	static const unsigned long long nvml_bits[] = {
	    NVML_CLOCKS_EVENT_REASON_GPU_IDLE,
	    NVML_CLOCKS_EVENT_REASON_APPLICATIONS_CLOCKS_SETTING,
	    NVML_CLOCKS_EVENT_REASON_SW_POWER_CAP,
	    NVML_CLOCKS_EVENT_REASON_HW_SLOWDOWN,
	    NVML_CLOCKS_EVENT_REASON_SYNC_BOOST,
	    NVML_CLOCKS_EVENT_REASON_SW_THERMAL_SLOWDOWN,
	    NVML_CLOCKS_EVENT_REASON_HW_THERMAL_SLOWDOWN,
	    NVML_CLOCKS_EVENT_REASON_HW_POWER_BRAKE_SLOWDOWN};
	assert_int_equal(CLOCK_REASON_COUNT, sizeof(nvml_bits) / sizeof(nvml_bits[0]));
	int owner[METRIC_COUNT];
	for (int m = 0; m < METRIC_COUNT; m++)
		owner[m] = -1;
	for (int r = 0; r < CLOCK_REASON_COUNT; r++) {
		const struct clock_reason_def *d = &clock_reason_table[r];
		assert_true(d->bit == 1ULL << r);
		assert_true(d->bit == nvml_bits[r]);
		assert_true(valid_prom_name(d->dcgm));
		const struct metric_def *sec = &metric_table[d->seconds];
		assert_string_equal(sec->name, "gpuscope_clock_event_seconds_total");
		assert_int_equal(sec->source, SRC_CLOCK_EVENT_REASONS);
		assert_int_equal(strncmp(sec->labels, "reason=\"", 8), 0);
		owner[d->seconds] = r;
		if (d->active == METRIC_NO_ROW)
			continue;
		const struct metric_def *act = &metric_table[d->active];
		assert_string_equal(act->name, "gpuscope_clock_event_active_ratio");
		assert_string_equal(act->labels, sec->labels);
		assert_int_equal(clock_reason_of_active(d->active), r);
		owner[d->active] = r;
	}
	for (int m = 0; m < METRIC_COUNT; m++) {
		const char *n = metric_table[m].name;
		if (strcmp(n, "gpuscope_clock_event_seconds_total") == 0 ||
		    strcmp(n, "gpuscope_clock_event_active_ratio") == 0)
			if (owner[m] < 0)
				fail_msg("%s is no clock reason's row", metric_table[m].id);
		if (owner[m] < 0)
			assert_int_equal(clock_reason_of_active(m), -1);
	}
}

/* Every "@link" row has its own place in a GPU's NVLink record, and its links are served
 * from there under its native name (the DCGM twin: test_dcgm_names_and_values_round_trip). */
static void test_link_rows_have_their_values(void **state)
{
	int rows = 0;
	for (int m = 0; m < METRIC_COUNT; m++) {
		const char *l = metric_dynamic_label(m);
		if (!l || strcmp(l, "link") != 0) {
			assert_int_equal(metric_link_row(m), -1);
			continue;
		}
		assert_int_equal(metric_link_row(m), rows++);
	}
	assert_true(rows <= NVLINK_MAX_ROWS);
	char *text = render(NAMES_NATIVE);
	for (int m = 0; m < METRIC_COUNT; m++) {
		if (metric_link_row(m) < 0)
			continue;
		for (unsigned l = 0; l < 2; l++) {
			char line[200];
			snprintf(line, sizeof(line), "%s{gpu=\"0\",uuid=\"GPU-0\",link=\"%u\"} ",
			         metric_table[m].name, l);
			assert_true(has_line(text, line));
			double v = strtod(strstr(text, line) + strlen(line), NULL);
			assert_true(v == metric_native_value(metric_table[m].unit,
			                                     nvlink_value(&gpu.nvlink, m, l)));
		}
	}
	free(text);
}

#ifdef GPUSCOPE_METRIC_TABLE_EXTRA_H
#include <sqlite3.h>

static void sql_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
	sqlite3_close(db);
}

static int64_t sql_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* The test build's extra process family: served through its reader, stored in proc_second
 * and proc_minute and their views, read back; a file without its columns (as an older
 * gpuscope wrote it) gains them on the next open and keeps its rows. */
static void test_extra_process_family(void **state)
{
	assert_string_equal(process_family_table[PROC_FAMILY_TEST_EXTRA].history, "test_extra");
	char dir[] = "/tmp/gpuscope-procfam-XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/h.db", dir);
	struct store_options opt;
	store_options_default(&opt);
	opt.verify_on_open = false;
	struct store *s;
	char err[256];
	const int64_t t = 1700000000;
	assert_int_equal(store_open(path, &opt, &s, err, sizeof(err)), STORE_OK);
	assert_int_equal(store_close(s), STORE_OK);
	/* the layout of a gpuscope without the family */
	sql_exec(path, "DROP VIEW proc_second_v; DROP VIEW proc_minute_v; "
	               "ALTER TABLE proc_second DROP COLUMN test_extra; "
	               "ALTER TABLE proc_minute DROP COLUMN test_extra_mean; "
	               "ALTER TABLE proc_minute DROP COLUMN test_extra_max");
	assert_int_equal(sql_int(path, "SELECT count(*) FROM pragma_table_info('proc_second') "
	                               "WHERE name = 'test_extra'"),
	                 0);
	sql_exec(path, "INSERT INTO gpus(id, uuid, first_t) VALUES(1, 'GPU-0', 1700000000); "
	               "INSERT INTO processes VALUES(1, 41, 'old', '', '', '', '', 1700000000, "
	               "1700000000); "
	               "INSERT INTO proc_second(t, gpu_id, proc_id, gpu_mem_bytes) "
	               "VALUES(1700000000, 1, 1, 5)");

	assert_int_equal(store_open(path, &opt, &s, err, sizeof(err)), STORE_OK);
	struct process_record r = {.pid = 42, .util_valid = true, .mem_util = 37.5};
	snprintf(r.name, sizeof(r.name), "python");
	struct store_process_row row = {.t = t, .uuid = "GPU-0", .pid = 42, .name = "python"};
	for (int f = 0; f < PROC_FAMILY_COUNT; f++)
		if (!process_family_value(f, &r, &row.value[f]))
			row.value[f] = NAN;
	assert_true(row.value[PROC_FAMILY_TEST_EXTRA] == 0.375);
	assert_int_equal(store_put_process(s, &row), STORE_OK);
	assert_int_equal(store_flush(s), STORE_OK);
	struct store_process_set ps;
	assert_int_equal(store_query_processes(s, "GPU-0", t, t, STORE_RES_SECOND, &ps), STORE_OK);
	assert_int_equal(ps.nprocs, 2);
	for (size_t j = 0; j < ps.nprocs; j++) {
		const struct store_process_series *p = &ps.procs[j];
		assert_non_null(p->value[PROC_FAMILY_TEST_EXTRA]);
		assert_null(p->value[PROC_FAMILY_PROCESSES]);
		if (p->pid == 42) {
			assert_true(p->value[PROC_FAMILY_TEST_EXTRA][0] == 0.375);
		} else {
			assert_int_equal(p->pid, 41);
			assert_true(p->value[PROC_FAMILY_MEMORY][0] == 5);
			assert_true(isnan(p->value[PROC_FAMILY_TEST_EXTRA][0]));
		}
	}
	store_process_set_free(&ps);
	assert_int_equal(store_close(s), STORE_OK);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM pragma_table_info('proc_minute') "
	                               "WHERE name IN ('test_extra_mean', 'test_extra_max')"),
	                 2);
	assert_int_equal(
	    sql_int(path, "SELECT test_extra * 1000 FROM proc_second_v WHERE pid = 42"), 375);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM pragma_table_info('proc_minute_v') "
	                               "WHERE name = 'test_extra_max'"),
	                 1);
	char side[80];
	unlink(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
	assert_int_equal(rmdir(dir), 0);
}

/* The test build's extra row, served, windowed, per MIG, found by its DCGM name and stored,
 * though no file but metric_table_extra.h names it. */
static void test_extra_row(void **state)
{
	assert_string_equal(metric_table[METRIC_TEST_EXTRA].id, "TEST_EXTRA");
	assert_int_equal(metric_of_dcgm("DCGM_FI_PROF_TEST_EXTRA", 18), METRIC_TEST_EXTRA);
	add_mig_instance();
	char *text = render(NAMES_BOTH);
	assert_true(has_line(text, "gpuscope_test_extra_ratio{gpu=\"0\",uuid=\"GPU-0\"} 0.5\n"));
	assert_true(has_line(text, "gpuscope_test_extra_ratio{gpu=\"0\",uuid=\"GPU-0\","
	                           "GPU_I_PROFILE=\"1g.18gb\",GPU_I_ID=\"1\"} 1\n"));
	assert_true(has_line(text, "DCGM_FI_PROF_TEST_EXTRA{"));
	free(text);
	char name[STORE_COL_NAME_MAX];
	assert_true(store_column_name(METRIC_TEST_EXTRA, STORE_MIN, name, sizeof(name)));
	assert_string_equal(name, "min_test_extra");
	char wname[160];
	prom_window_name("gpuscope_test_extra_ratio", "max", wname, sizeof(wname));
	assert_string_equal(wname, "gpuscope_test_extra_window_max_ratio");
	assert_true(metric_windowed(METRIC_TEST_EXTRA));

	/* the extra "@link" row: its links served under both names, found by its DCGM name */
	assert_int_equal(metric_of_dcgm("DCGM_FI_PROF_TEST_EXTRA_LINK_L1", 18),
	                 METRIC_TEST_EXTRA_LINK);
	gpu.n_mig = 0;
	text = render(NAMES_BOTH);
	assert_true(has_line(text, "gpuscope_test_extra_link_ratio{gpu=\"0\",uuid=\"GPU-0\","
	                           "link=\"1\"} 0.25\n"));
	assert_true(has_line(text, "DCGM_FI_PROF_TEST_EXTRA_LINK_L1{"));
	assert_false(has_line(text, "DCGM_FI_PROF_TEST_EXTRA_LINK_L2{"));
	free(text);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names_follow_conventions),
	    cmocka_unit_test(test_series_unique_and_families_adjacent),
	    cmocka_unit_test(test_every_source_has_a_tier),
	    cmocka_unit_test(test_flags_fit_their_sources),
	    cmocka_unit_test(test_dcgm_drop_in_names_present),
	    cmocka_unit_test(test_conversions_are_exact),
	    cmocka_unit_test(test_numbers_print_shortest_round_trip),
	    cmocka_unit_test(test_label_escaping),
	    cmocka_unit_test_setup(test_dcgm_names_and_values_round_trip, setup_snapshot),
	    cmocka_unit_test_setup(test_windowed_rows_have_window_families, setup_snapshot),
	    cmocka_unit_test_setup(test_per_mig_rows_are_served_per_instance, setup_snapshot),
	    cmocka_unit_test_setup(test_history_columns_are_rows, setup_snapshot),
	    cmocka_unit_test_setup(test_process_families_are_served, setup_snapshot),
	    cmocka_unit_test(test_clock_reasons_are_rows),
	    cmocka_unit_test_setup(test_link_rows_have_their_values, setup_snapshot),
#ifdef GPUSCOPE_METRIC_TABLE_EXTRA_H
	    cmocka_unit_test_setup(test_extra_row, setup_snapshot),
	    cmocka_unit_test(test_extra_process_family),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* sim_faults.c - the "faults" object of a scenario GPU: failing, slow and hanging calls, a lost
 * GPU, and the Xid and ECC events that nvmlEventSetWait delivers.
 *
 * Split out of sim_scenario.c, which parses everything else of a GPU.  A rule names a device
 * call by either of its symbols, checked against NVML_SYMBOLS so a misspelt call is an error
 * rather than a rule that never fires; it is stored as the newest symbol, the name that
 * sim_state.c compares.  Events are sorted by time, as struct sim_gpu promises.
 */
#include "sim/sim_faults.h"
#include "nvml/nvml_abi.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Every symbol of the ABI: {newest, fallback or NULL}. */
static const struct {
	const char *newest, *fallback;
} nvml_calls[] = {
#define SIM_CALL_ROW(field, req, ret, params, newest, fallback) {newest, fallback},
    NVML_SYMBOLS(SIM_CALL_ROW)
#undef SIM_CALL_ROW
};

/* The newest symbol name for a device call named by either name; "*" when allowed. */
static const char *device_call(const char *name, bool allow_star)
{
	if (allow_star && strcmp(name, "*") == 0)
		return "*";
	for (size_t i = 0; i < sizeof(nvml_calls) / sizeof(nvml_calls[0]); i++) {
		if (strncmp(nvml_calls[i].newest, "nvmlDevice", 10) != 0)
			continue;
		if (strcmp(nvml_calls[i].newest, name) == 0 ||
		    (nvml_calls[i].fallback && strcmp(nvml_calls[i].fallback, name) == 0))
			return nvml_calls[i].newest;
	}
	return NULL;
}

/* Reads the "call" of a fault rule. */
static bool get_call(const struct sim_json_ctx *c, const json_t *rule, const char *path,
                     const char **out)
{
	const json_t *v = json_object_get(rule, "call");
	char p[512];
	sim_json_join(p, sizeof(p), path, "call");
	if (!json_is_string(v)) {
		sim_json_fail(c, p, "expected the name of an NVML device call, or \"*\"");
		return false;
	}
	*out = device_call(json_string_value(v), true);
	if (!*out) {
		sim_json_fail(c, p, "\"%s\" is not a device call of the simulated NVML ABI",
		              json_string_value(v));
		return false;
	}
	return true;
}

static int event_cmp(const void *a, const void *b)
{
	const struct sim_event *x = a, *y = b;
	return (x->at > y->at) - (x->at < y->at);
}

bool sim_faults_parse(const struct sim_json_ctx *c, const json_t *f, const char *path,
                      struct sim_gpu *g)
{
	static const char *const keys[] = {"unsupported", "errors", "slow",           "hang",
	                                   "lost_at",     "xid",    "ecc_dbe_events", NULL};
	static const char *const error_keys[] = {"call", "return", "from", "until", NULL};
	static const char *const slow_keys[] = {"call", "ms", NULL};
	static const char *const hang_keys[] = {"call", "at", NULL};
	static const char *const xid_keys[] = {"at", "code", NULL};
	static const char *const ecc_keys[] = {"at", NULL};
	char p[512];
	const json_t *a, *item;
	size_t i;

	g->lost_at = INFINITY;
	if (!f)
		return true;
	if (!sim_json_check_keys(c, f, keys, path) ||
	    !sim_json_get_double(c, f, "lost_at", path, INFINITY, &g->lost_at))
		return false;

	if (!sim_json_get_array(c, f, "unsupported", path, &a))
		return false;
	g->unsupported_calls = calloc(a ? json_array_size(a) + 1 : 1, sizeof(char *));
	if (!g->unsupported_calls)
		goto oom;
	json_array_foreach(a, i, item)
	{
		sim_path_printf(p, sizeof(p), "%s.unsupported[%zu]", path, i);
		const char *name = json_is_string(item) ? json_string_value(item) : "";
		int sig = sim_signal_index(name);
		const char *call = device_call(name, false);
		if (sig >= 0)
			g->unsupported_signals[sig] = true;
		else if (call)
			g->unsupported_calls[g->n_unsupported_calls++] = call;
		else {
			sim_json_fail(c, p, "\"%s\" is neither a device call nor a signal name",
			              name);
			return false;
		}
	}

	if (!sim_json_get_array(c, f, "errors", path, &a))
		return false;
	if (a && !(g->errors = calloc(json_array_size(a) + 1, sizeof(*g->errors))))
		goto oom;
	json_array_foreach(a, i, item)
	{
		struct sim_fault_error *e = &g->errors[i];
		unsigned long long ret;
		sim_path_printf(p, sizeof(p), "%s.errors[%zu]", path, i);
		if (!sim_json_check_keys(c, item, error_keys, p) ||
		    !get_call(c, item, p, &e->call) ||
		    !sim_json_get_uint(c, item, "return", p, NVML_ERROR_UNKNOWN, INT_MAX, &ret) ||
		    !sim_json_get_double(c, item, "from", p, 0, &e->from))
			return false;
		const json_t *until = json_object_get(item, "until");
		e->until = INFINITY;
		if (until && !json_is_null(until) &&
		    !sim_json_get_double(c, item, "until", p, INFINITY, &e->until))
			return false;
		e->ret = (int)ret;
		g->n_errors++;
	}

	if (!sim_json_get_array(c, f, "slow", path, &a))
		return false;
	if (a && !(g->slow = calloc(json_array_size(a) + 1, sizeof(*g->slow))))
		goto oom;
	json_array_foreach(a, i, item)
	{
		sim_path_printf(p, sizeof(p), "%s.slow[%zu]", path, i);
		if (!sim_json_check_keys(c, item, slow_keys, p) ||
		    !get_call(c, item, p, &g->slow[i].call) ||
		    !sim_json_get_double(c, item, "ms", p, 0, &g->slow[i].ms))
			return false;
		if (g->slow[i].ms < 0) {
			sim_json_fail(c, p, "\"ms\" must be >= 0");
			return false;
		}
		g->n_slow++;
	}

	if (!sim_json_get_array(c, f, "hang", path, &a))
		return false;
	if (a && !(g->hangs = calloc(json_array_size(a) + 1, sizeof(*g->hangs))))
		goto oom;
	json_array_foreach(a, i, item)
	{
		sim_path_printf(p, sizeof(p), "%s.hang[%zu]", path, i);
		if (!sim_json_check_keys(c, item, hang_keys, p) ||
		    !get_call(c, item, p, &g->hangs[i].call) ||
		    !sim_json_get_double(c, item, "at", p, 0, &g->hangs[i].at))
			return false;
		g->n_hangs++;
	}

	const json_t *xid, *ecc;
	if (!sim_json_get_array(c, f, "xid", path, &xid) ||
	    !sim_json_get_array(c, f, "ecc_dbe_events", path, &ecc))
		return false;
	size_t n = (xid ? json_array_size(xid) : 0) + (ecc ? json_array_size(ecc) : 0);
	if (n && !(g->events = calloc(n, sizeof(*g->events))))
		goto oom;
	json_array_foreach(xid, i, item)
	{
		struct sim_event *e = &g->events[g->n_events];
		sim_path_printf(p, sizeof(p), "%s.xid[%zu]", path, i);
		if (!sim_json_check_keys(c, item, xid_keys, p) ||
		    !sim_json_get_double(c, item, "at", p, 0, &e->at) ||
		    !sim_json_get_uint(c, item, "code", p, 79, UINT_MAX, &e->data))
			return false;
		e->type = nvmlEventTypeXidCriticalError;
		g->n_events++;
	}
	json_array_foreach(ecc, i, item)
	{
		struct sim_event *e = &g->events[g->n_events];
		sim_path_printf(p, sizeof(p), "%s.ecc_dbe_events[%zu]", path, i);
		if (!sim_json_check_keys(c, item, ecc_keys, p) ||
		    !sim_json_get_double(c, item, "at", p, 0, &e->at))
			return false;
		e->type = nvmlEventTypeDoubleBitEccError;
		g->n_events++;
	}
	if (g->n_events)
		qsort(g->events, g->n_events, sizeof(*g->events), event_cmp);
	return true;
oom:
	sim_json_fail(c, path, "out of memory");
	return false;
}

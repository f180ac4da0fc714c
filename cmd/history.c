/* history.c - `gpuscope serve`'s history: flags, recorder, live diagnosis,
 * and the HTTP extras that expose them.
 *
 * Everything here runs beside the sampler and the HTTP server and can fail
 * on its own: a history that cannot be written is reported in /healthz and
 * on stderr, and metrics keep being served.
 */
#include "cmd/history.h"

#include <limits.h>
#include <math.h>
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inference/history.h"
#include "inference/receiver.h"
#include "report/live_diagnosis.h"
#include "report/series_api.h"
#include "series/time_text.h"
#include "store/recorder.h"

const char serve_history_usage[] =
    "  --history PATH         keep 1 s history in this SQLite file (default\n"
    "                         /var/lib/gpuscope/history.db when writable, else\n"
    "                         $XDG_STATE_HOME or ~/.local/state/gpuscope/history.db;\n"
    "                         under --demo a temporary file removed at exit)\n"
    "  --history-group GROUP  let GROUP read the history: new file 0640, new folders\n"
    "                         02750 (default: the owner's alone, 0600 and 0700)\n"
    "  --no-history           keep no history (no /api/v1/diagnosis verdicts)\n"
    "  --retention-1s DUR     keep 1 s rows this long, then 1 min rows (default 48h)\n"
    "  --retention-1m DUR     keep 1 min rows this long (default 90d)\n"
    "  --diagnosis-window DUR window of /api/v1/diagnosis and gpuscope_verdict,\n"
    "                         1m-24h (default 10m)\n"
    "  --threshold NAME=VALUE change a diagnosis threshold (repeatable), e.g.\n"
    "                         idle_util_max=0.1; names in docs/diagnosis.md\n";

void serve_history_init(struct serve_history *h)
{
	memset(h, 0, sizeof(*h));
	h->retention_1s = 48 * 3600.0;
	h->retention_1m = 90 * 86400.0;
	h->diagnosis_window = 600;
	h->group = -1;
	h->inference_price = NAN;
	analyze_config_default(&h->thresholds);
}

/* A group by name or number, as chgrp takes it; -1 when there is none. */
static long group_id(const char *name)
{
	char *end;
	errno = 0;
	long v = strtol(name, &end, 10);
	if (!*end && end != name && errno == 0 && v >= 0 && v < 0x7fffffffL)
		return v;
	char buf[16384];
	struct group g, *found = NULL;
	if (getgrnam_r(name, &g, buf, sizeof(buf), &found) != 0 || !found)
		return -1;
	return (long)found->gr_gid;
}

int serve_history_take(struct serve_history *h, int argc, char **argv, int *i, char *err,
                       size_t errlen)
{
	const char *a = argv[*i];
	const char *val = *i + 1 < argc ? argv[*i + 1] : NULL;
	if (strcmp(a, "--no-history") == 0) {
		h->off = true;
		return 1;
	}
	bool history = strcmp(a, "--history") == 0;
	bool r1s = strcmp(a, "--retention-1s") == 0, r1m = strcmp(a, "--retention-1m") == 0;
	bool dw = strcmp(a, "--diagnosis-window") == 0;
	bool th = strcmp(a, "--threshold") == 0;
	bool group = strcmp(a, "--history-group") == 0;
	if (!history && !r1s && !r1m && !dw && !th && !group)
		return 0;
	if (!val || !*val) {
		snprintf(err, errlen, "%s needs a value", a);
		return -1;
	}
	++*i;
	if (th) {
		char why[256];
		if (analyze_config_set(&h->thresholds, val, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "--threshold %s", why);
			return -1;
		}
		return 1;
	}
	if (history) {
		h->path = val;
		return 1;
	}
	if (group) {
		if ((h->group = group_id(val)) < 0) {
			snprintf(err, errlen, "--history-group '%s': no such group (getent group)",
			         val);
			return -1;
		}
		return 1;
	}
	double v;
	if (parse_span(val, &v) != 0) {
		snprintf(err, errlen,
		         "%s '%s': give a number and a unit (s, m, h, d, w) up to 100 years, "
		         "e.g. 48h",
		         a, val);
		return -1;
	}
	if (dw) {
		if (v < 60 || v > 86400) {
			snprintf(err, errlen, "--diagnosis-window '%s': give 1m to 24h", val);
			return -1;
		}
		h->diagnosis_window = v;
	} else if (v < 60) {
		snprintf(err, errlen, "%s '%s': give at least 1m", a, val);
		return -1;
	} else if (r1s) {
		h->retention_1s = v;
	} else {
		h->retention_1m = v;
	}
	return 1;
}

static char *extra_health_history(void *ctx)
{
	struct serve_history *h = ctx;
	if (h->recorder)
		return recorder_status_json(h->recorder);
	return strdup("{\"state\": \"off\"}");
}

static char *extra_diagnosis(void *ctx, unsigned *status)
{
	struct serve_history *h = ctx;
	return live_diagnosis_json(h->diagnosis, status);
}

static void extra_metrics(void *ctx, const struct prom_options *o, struct strbuf *out)
{
	struct serve_history *h = ctx;
	live_diagnosis_metrics(h->diagnosis, o, out);
	inference_receiver_metrics(h->inference, o, out);
}

static char *extra_series(void *ctx, const char *const args[5], unsigned *status)
{
	struct serve_history *h = ctx;
	return series_api_json(h->series, args, status);
}

static char *extra_inference(void *ctx, const char *const args[5], unsigned *status)
{
	struct serve_history *h = ctx;
	return inference_history_json(h->infhist, args, status);
}

int serve_history_start(struct serve_history *h, struct board *b, bool demo)
{
	char err[512];
	h->extras = (struct http_extras){.ctx = h,
	                                 .health_history = extra_health_history,
	                                 .diagnosis = extra_diagnosis,
	                                 .metrics = extra_metrics};
	bool on = !h->off && (h->path || !demo);
	bool default_path = !h->path;
	if (on && default_path) {
		if (!recorder_default_path(false, h->resolved, sizeof(h->resolved))) {
			fprintf(stderr,
			        "gpuscope: history: no place for the history file (/var/lib/"
			        "gpuscope is not writable and HOME is not set); give --history "
			        "PATH or --no-history\n");
			on = false;
		}
	} else if (on) {
		snprintf(h->resolved, sizeof(h->resolved), "%s", h->path);
	}
	if (on) {
		struct recorder_config rc = {.path = h->resolved, .create_dir = default_path};
		store_options_default(&rc.opt);
		rc.opt.second_retention_s = (int64_t)h->retention_1s;
		rc.opt.minute_retention_s = (int64_t)h->retention_1m;
		rc.opt.group = h->group;
		if (!(h->infhist = inference_history_new(b, h->resolved, h->inference_price))) {
			fprintf(stderr, "gpuscope: out of memory\n");
			return -1;
		}
		rc.extra = inference_history_write;
		rc.extra_ctx = h->infhist;
		h->extras.inference = extra_inference;
		h->recorder = recorder_start(b, &rc, err, sizeof(err));
		if (!h->recorder) {
			fprintf(stderr, "gpuscope: %s\n", err);
			inference_history_free(h->infhist);
			h->infhist = NULL;
			return -1;
		}
		h->series = series_api_new(b, h->resolved);
		if (!h->series) {
			fprintf(stderr, "gpuscope: out of memory\n");
			recorder_stop(h->recorder);
			h->recorder = NULL;
			inference_history_free(h->infhist);
			h->infhist = NULL;
			return -1;
		}
		h->extras.series = extra_series;
	}
	h->diagnosis = live_diagnosis_start(b, on ? h->resolved : NULL, h->diagnosis_window,
	                                    &h->thresholds, err, sizeof(err));
	if (!h->diagnosis) {
		fprintf(stderr, "gpuscope: %s\n", err);
		recorder_stop(h->recorder);
		h->recorder = NULL;
		inference_history_free(h->infhist);
		h->infhist = NULL;
		series_api_free(h->series);
		h->series = NULL;
		return -1;
	}
	return 0;
}

const struct http_extras *serve_history_extras(struct serve_history *h)
{
	return &h->extras;
}

void serve_history_stop(struct serve_history *h)
{
	live_diagnosis_stop(h->diagnosis);
	h->diagnosis = NULL;
	recorder_stop(h->recorder);
	h->recorder = NULL;
	inference_history_free(h->infhist); /* after the receiver and the recorder stopped */
	h->infhist = NULL;
	series_api_free(h->series);
	h->series = NULL;
}

/* servers.c - the reader thread of servers.h: fetch, discover, join, window. */
#include "servers/servers.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyze/analyze.h"
#include "series/snapshot.h"
#include "servers/discover.h"
#include "servers/internal.h"

void servers_config_default(struct servers_config *c)
{
	memset(c, 0, sizeof(*c));
	c->window_s = 60;
	c->poll_s = 5;
	c->timeout_s = 2;
	c->max_body = 4u << 20;
	c->price_per_gpu_hour = NAN;
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct fetch_buf *b = ctx;
	size_t len = size * n;
	if (b->len + len > b->max) {
		b->over = true;
		return 0; /* libcurl stops with CURLE_WRITE_ERROR */
	}
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64 * 1024;
		while (cap < b->len + len + 1)
			cap *= 2;
		char *nb = realloc(b->data, cap);
		if (!nb)
			return 0;
		b->data = nb;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = 0;
	return len;
}

/* Sets c up to GET url into b. */
static void fetch_setup(CURL *c, const char *url, double timeout_s, struct fetch_buf *b, size_t max)
{
	b->len = 0;
	b->over = false;
	b->max = max;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout_s * 1000));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_s * 1000));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "gpuscope/" GPUSCOPE_VERSION);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
}

/* 0 when the transfer gave a 200 body, else -1 with why filled. */
static int fetch_result(CURL *c, CURLcode rc, const struct fetch_buf *b, char *why, size_t whylen)
{
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK) {
		if (b->over)
			snprintf(why, whylen, "response larger than %zu bytes: not read", b->max);
		else
			snprintf(why, whylen, "%s", curl_easy_strerror(rc));
		return -1;
	}
	if (status != 200) {
		snprintf(why, whylen, "HTTP status %ld", status);
		return -1;
	}
	return 0;
}

/* One GET, waiting for it (discovery's probes). */
static int fetch(struct servers *s, CURL *c, const char *url, double timeout_s, char *why,
                 size_t whylen)
{
	fetch_setup(c, url, timeout_s, &s->probe, s->cfg.max_body);
	return fetch_result(c, curl_easy_perform(c), &s->probe, why, whylen);
}

/* Splits "http://host:port/path#gpus=0,1" into the URL to fetch, name, port, pins. */
static int target_init(struct target *t, const char *spec, char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	const char *hash = strchr(spec, '#');
	size_t ulen = hash ? (size_t)(hash - spec) : strlen(spec);
	if (ulen >= sizeof(t->url) ||
	    (strncmp(spec, "http://", 7) && strncmp(spec, "https://", 8))) {
		snprintf(err, errlen, "--inference-server '%s': give http://HOST:PORT/metrics",
		         spec);
		return -1;
	}
	memcpy(t->url, spec, ulen);
	t->url[ulen] = 0;
	const char *host = strstr(t->url, "://") + 3;
	size_t hl = strcspn(host, "/");
	snprintf(t->name, sizeof(t->name), "%.*s", (int)(hl < 79 ? hl : 79), host);
	const char *colon = strrchr(t->name, ':');
	bool https = t->url[4] == 's';
	t->port = colon ? (unsigned)atoi(colon + 1) : (https ? 443 : 80);
	t->local = strncmp(host, "127.", 4) == 0 || strncmp(host, "localhost", 9) == 0 ||
	           strncmp(host, "[::1]", 5) == 0 || strncmp(host, "0.0.0.0", 7) == 0;
	if (hash) {
		if (strncmp(hash, "#gpus=", 6) != 0) {
			snprintf(err, errlen,
			         "--inference-server '%s': the fragment must be #gpus=0,1", spec);
			return -1;
		}
		const char *p = hash + 6;
		while (*p && t->npinned < SERVER_GPUS_MAX) {
			char *e;
			long g = strtol(p, &e, 10);
			if (e == p || g < 0 || (*e && *e != ',')) {
				snprintf(err, errlen, "--inference-server '%s': bad GPU list",
				         spec);
				return -1;
			}
			t->pinned[t->npinned++] = (int)g;
			p = *e ? e + 1 : e;
		}
	}
	return 0;
}

static int target_alloc(struct servers *s, struct target *t)
{
	t->cap = (unsigned)ceil(s->cfg.window_s / s->cfg.poll_s) + 3;
	if (t->cap > SERVER_WINDOW_READINGS_MAX)
		t->cap = SERVER_WINDOW_READINGS_MAX;
	t->ring = calloc(t->cap, sizeof(*t->ring));
	t->curl = curl_easy_init();
	t->memory_used = t->sm_active = NAN;
	return t->ring && t->curl ? 0 : -1;
}

static void target_free(struct target *t)
{
	for (unsigned i = 0; i < t->cap && t->ring; i++)
		free(t->ring[i].r);
	free(t->ring);
	free(t->buf.data);
	if (t->curl)
		curl_easy_cleanup(t->curl);
}

const struct server_reading *target_latest(const struct target *t)
{
	return t->n ? t->ring[(t->head + t->n - 1) % t->cap].r : NULL;
}

/* --- the pid -> listening ports cache ------------------------------------------------ */

static struct pidports *pid_info(struct servers *s, int pid, double now)
{
	struct pidports *p = NULL;
	for (unsigned i = 0; i < s->npids; i++)
		if (s->pids[i].pid == pid)
			p = &s->pids[i];
	if (!p) {
		unsigned k = s->npids < PIDPORTS_MAX ? s->npids++ : (unsigned)(pid % PIDPORTS_MAX);
		p = &s->pids[k];
		memset(p, 0, sizeof(*p));
		p->pid = pid;
		p->checked = -1e9;
	}
	if (now - p->checked >= 60) {
		p->checked = now;
		p->parent = discover_parent(s->host_root, pid);
		p->nports = (unsigned)discover_ports(s->host_root, pid, p->ports, 4);
		p->probed = false;
	}
	return p;
}

/* True when pid is `who` or descends from it within three generations. */
static bool descends(struct servers *s, int pid, int who, double now)
{
	for (int gen = 0; gen < 4 && pid > 1; gen++) {
		if (pid == who)
			return true;
		pid = pid_info(s, pid, now)->parent;
	}
	return false;
}

static struct target *add_discovered(struct servers *s, int pid, unsigned port, double now)
{
	if (s->ntargets == SERVERS_MAX)
		return NULL;
	for (unsigned i = 0; i < s->ntargets; i++)
		if (s->targets[i].port == port && s->targets[i].local)
			return NULL; /* configured already, or found through another process */
	char url[64], err[160];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", port);
	struct target *t = &s->targets[s->ntargets];
	if (target_init(t, url, err, sizeof(err)) != 0 || target_alloc(s, t) != 0) {
		target_free(t);
		return NULL;
	}
	t->discovered = true;
	t->pid = pid;
	s->ntargets++;
	return t;
}

/* Asks each port of a GPU process (or ancestor) for /metrics once per minute. */
static void discover(struct servers *s, const struct board_snapshot *snap, double now)
{
	CURL *c = curl_easy_init();
	if (!c)
		return;
	for (unsigned g = 0; g < snap->count; g++) {
		const struct process_table *pt = snap->gpus[g].procs;
		for (unsigned i = 0; pt && i < pt->n; i++) {
			int pid = pt->proc[i].pid;
			for (int gen = 0; gen < 3 && pid > 1; gen++) {
				struct pidports *p = pid_info(s, pid, now);
				if (!p->probed) {
					p->probed = true;
					for (unsigned k = 0; k < p->nports; k++) {
						char url[64], why[160];
						snprintf(url, sizeof(url),
						         "http://127.0.0.1:%u/metrics",
						         p->ports[k]);
						struct server_reading *r = malloc(sizeof(*r));
						const char *bad;
						if (r &&
						    fetch(s, c, url, 1.0, why, sizeof(why)) == 0 &&
						    server_reading_parse(
						        s->probe.data, s->probe.len, r, &bad) == 0)
							add_discovered(s, pid, p->ports[k], now);
						free(r);
					}
				}
				pid = p->parent;
			}
		}
	}
	curl_easy_cleanup(c);
}

/* --- the join ------------------------------------------------------------------------ */

/* Which GPUs the target holds and its share of each (by the attribution's energy split,
 * else its memory, else the whole GPU). */
static void join(struct servers *s, struct target *t, const struct board_snapshot *snap, double now)
{
	t->ngpus = 0;
	if (!t->pid && t->local) {
		/* the GPU process, or its ancestor, that listens on the URL's port */
		for (unsigned g = 0; g < snap->count && !t->pid; g++) {
			const struct process_table *pt = snap->gpus[g].procs;
			for (unsigned i = 0; pt && i < pt->n && !t->pid; i++)
				for (int pid = pt->proc[i].pid, gen = 0;
				     gen < 3 && pid > 1 && !t->pid; gen++) {
					struct pidports *p = pid_info(s, pid, now);
					for (unsigned k = 0; k < p->nports; k++)
						if (p->ports[k] == t->port)
							t->pid = pid;
					pid = p->parent;
				}
		}
	}
	if (t->npinned) {
		/* the fragment's GPUs, whole (the listener above is still looked for: the JSON
		 * says whether the process was seen) */
		for (unsigned i = 0; i < t->npinned; i++)
			if ((unsigned)t->pinned[i] < snap->count) {
				t->gpus[t->ngpus] = (unsigned)t->pinned[i];
				t->share[t->ngpus++] = 1;
			}
		return;
	}
	if (!t->pid)
		return;
	for (unsigned g = 0; g < snap->count && t->ngpus < SERVER_GPUS_MAX; g++) {
		const struct process_table *pt = snap->gpus[g].procs;
		if (!pt)
			continue;
		double mine_e = 0, all_e = 0, mine_m = 0, all_m = 0;
		bool held = false;
		for (unsigned i = 0; i < pt->n; i++) {
			const struct process_record *r = &pt->proc[i];
			bool mine = descends(s, r->pid, t->pid, now);
			held |= mine;
			all_e += r->energy_fraction;
			all_m += r->memory_valid ? r->memory_bytes : 0;
			if (mine) {
				mine_e += r->energy_fraction;
				mine_m += r->memory_valid ? r->memory_bytes : 0;
			}
		}
		if (!held)
			continue;
		double share = all_e > 0 ? mine_e / all_e : all_m > 0 ? mine_m / all_m : 1;
		t->gpus[t->ngpus] = g;
		t->share[t->ngpus++] = share;
	}
}

/* Folds the interval since the previous poll into each target's GPU counters. */
static void gpu_step(struct servers *s, const struct board_snapshot *snap, double now)
{
	long long newest = (long long)wall_now() - WINDOW_SETTLE_S;
	struct window_agg agg[METRIC_COUNT];
	for (unsigned g = 0; g < snap->count && g < s->nprev; g++) {
		const struct gpu_record *r = &snap->gpus[g];
		struct gpu_prev *p = &s->prev[g];
		int metric = -1;
		if (metric_set_has(&r->valid, METRIC_POWER_INTEGRATED))
			metric = METRIC_POWER_INTEGRATED;
		else if (metric_set_has(&r->valid, METRIC_ENERGY))
			metric = METRIC_ENERGY;
		double dt = p->valid ? now - p->t : 0;
		double te =
		    metric == METRIC_ENERGY ? r->published[TIER_COSTLY] : r->published[TIER_BUFFER];
		double dj = NAN, dte = 0, sm = NAN, util = NAN;
		if (p->valid && metric >= 0 && metric == p->metric && r->raw[metric] >= p->mj) {
			dj = (r->raw[metric] - p->mj) / 1000.0;
			dte = te - p->te;
		}
		if (p->valid && newest > p->last_sec) {
			board_window(s->board, g, p->last_sec + 1, newest, agg);
			if (agg[METRIC_GPM_SM_ACTIVE].n)
				sm = agg[METRIC_GPM_SM_ACTIVE].sum / agg[METRIC_GPM_SM_ACTIVE].n /
				     100;
			if (agg[METRIC_GPU_UTIL].n)
				util = agg[METRIC_GPU_UTIL].sum / agg[METRIC_GPU_UTIL].n / 100;
		}
		for (unsigned k = 0; k < s->ntargets && dt > 0; k++) {
			struct target *t = &s->targets[k];
			for (unsigned j = 0; j < t->ngpus; j++) {
				if (t->gpus[j] != g)
					continue;
				double sh = t->share[j];
				t->acc.gpu_seconds += sh * dt;
				if (isnan(dj) || g >= ACC_GPUS_MAX) {
					t->acc.energy_gaps++;
				} else if (dte > 0) {
					t->acc.joules[g] += sh * dj;
					t->acc.energy_time[g] += dte;
				}
				if (isnan(sm))
					t->acc.sm_gaps++;
				else
					t->acc.sm_seconds += sh * sm * dt;
				if (isnan(util))
					t->acc.util_gaps++;
				else
					t->acc.busy_seconds += sh * util * dt;
			}
		}
		if (p->valid && metric == p->metric && te == p->te) {
			p->t =
			    now; /* the counter did not move: keep its last publish as the base */
			if (newest > p->last_sec)
				p->last_sec = newest;
			continue;
		}
		p->te = te;
		p->valid = metric >= 0;
		p->metric = metric;
		p->mj = metric >= 0 ? r->raw[metric] : 0;
		p->t = now;
		if (newest > p->last_sec)
			p->last_sec = newest;
	}
	for (unsigned k = 0; k < s->ntargets; k++) {
		struct target *t = &s->targets[k];
		double mem = NAN, smsum = 0;
		unsigned smn = 0;
		for (unsigned j = 0; j < t->ngpus; j++) {
			const struct gpu_record *r = &snap->gpus[t->gpus[j]];
			snprintf(t->gpu_model, sizeof(t->gpu_model), "%s", r->id.name);
			if (j == 0)
				snprintf(t->gpu_uuid, sizeof(t->gpu_uuid), "%s", r->id.uuid);
			double used = r->raw[METRIC_FB_USED], total = r->raw[METRIC_FB_TOTAL];
			if (metric_set_has(&r->valid, METRIC_FB_USED) && total > 0 &&
			    (isnan(mem) || used / total > mem))
				mem = used / total;
			if (metric_set_has(&r->valid, METRIC_GPM_SM_ACTIVE)) {
				smsum += r->raw[METRIC_GPM_SM_ACTIVE] / 100;
				smn++;
			}
		}
		t->memory_used = mem;
		t->sm_active = smn ? smsum / smn : NAN;
	}
}

/* --- one target ---------------------------------------------------------------------- */

/* The target's transfer ended with rc at now: parse it; true when a reading was added. */
static bool take_reading(struct target *t, CURLcode rc, double now)
{
	char why[200];
	t->last_try = now;
	struct server_reading *r = malloc(sizeof(*r));
	const char *bad = NULL;
	if (!r) {
		snprintf(t->error, sizeof(t->error), "out of memory");
	} else if (fetch_result(t->curl, rc, &t->buf, why, sizeof(why)) != 0) {
		snprintf(t->error, sizeof(t->error), "%s", why);
	} else if (server_reading_parse(t->buf.data, t->buf.len, r, &bad) != 0) {
		snprintf(t->error, sizeof(t->error), "%s (%zu bytes)", bad, t->buf.len);
	} else {
		if (t->kind != SERVER_UNKNOWN && t->kind != r->kind)
			t->n = 0; /* another server on the port: start over */
		t->kind = r->kind;
		t->up = true;
		t->last_ok = now;
		t->error[0] = 0;
		if (t->n == t->cap) {
			t->head = (t->head + 1) % t->cap;
			t->n--;
		}
		struct slot *sl = &t->ring[(t->head + t->n) % t->cap];
		free(sl->r);
		*sl = (struct slot){now, r, t->acc};
		t->n++;
		return true;
	}
	free(r);
	t->up = false;
	t->failures++;
	return false;
}

/* Reads every target at once (one libcurl multi handle), so a server that hangs costs its
 * own timeout and delays nobody's reading; each reading is stamped when its response
 * ended.  added[k] says whether target k got a new reading. */
static void read_targets(struct servers *s, bool *added)
{
	CURLM *m = curl_multi_init();
	CURLcode rc[SERVERS_MAX];
	double done[SERVERS_MAX];
	for (unsigned k = 0; k < s->ntargets; k++) {
		struct target *t = &s->targets[k];
		/* within the poll period, so a hung server never stretches the cadence */
		double timeout = fmin(s->cfg.timeout_s, s->cfg.poll_s * 0.8);
		fetch_setup(t->curl, t->url, timeout, &t->buf, s->cfg.max_body);
		rc[k] = CURLE_FAILED_INIT;
		done[k] = 0;
		if (m)
			curl_multi_add_handle(m, t->curl);
	}
	int running = m ? 1 : 0;
	while (running) {
		if (curl_multi_perform(m, &running) != CURLM_OK)
			break;
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m, &left)) != NULL)
			for (unsigned k = 0; k < s->ntargets; k++)
				if (msg->msg == CURLMSG_DONE &&
				    msg->easy_handle == s->targets[k].curl) {
					rc[k] = msg->data.result;
					done[k] = mono_now();
				}
		if (running)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	for (unsigned k = 0; k < s->ntargets; k++) {
		if (m)
			curl_multi_remove_handle(m, s->targets[k].curl);
		added[k] = take_reading(&s->targets[k], rc[k], done[k] > 0 ? done[k] : mono_now());
	}
	if (m)
		curl_multi_cleanup(m);
}

/* Adds the tokens and requests of the target's newest pair of readings to its GPUs'
 * counters (the history's gpuscope_tokens_generated_total), each GPU by its part of the
 * target's shares. */
static void count_work(struct servers *s, struct target *t)
{
	if (t->n < 2 || !t->ngpus || !t->ring[(t->head + t->n - 1) % t->cap].r)
		return;
	const struct server_reading *a = t->ring[(t->head + t->n - 2) % t->cap].r;
	const struct server_reading *b = t->ring[(t->head + t->n - 1) % t->cap].r;
	double tokens = 0, requests = 0;
	for (unsigned m = 0; m < b->n_models; m++) {
		const struct server_model *mb = &b->model[m],
		                          *ma = server_reading_model(a, mb->name);
		double v[2];
		if (ma && ma->valid[SF_GEN_TOKENS] && mb->valid[SF_GEN_TOKENS]) {
			v[0] = ma->v[SF_GEN_TOKENS], v[1] = mb->v[SF_GEN_TOKENS];
			tokens += server_counter_increase(v, 2);
		}
		if (ma && ma->valid[SF_REQUESTS] && mb->valid[SF_REQUESTS]) {
			v[0] = ma->v[SF_REQUESTS], v[1] = mb->v[SF_REQUESTS];
			requests += server_counter_increase(v, 2);
		}
	}
	double shares = 0;
	for (unsigned j = 0; j < t->ngpus; j++)
		shares += t->share[j];
	for (unsigned j = 0; j < t->ngpus && shares > 0; j++) {
		unsigned g = t->gpus[j];
		if (g >= s->nprev)
			continue;
		s->gpu_served[g] = true;
		s->gpu_tokens[g] += tokens * t->share[j] / shares;
		s->gpu_requests[g] += requests * t->share[j] / shares;
	}
}

/* Figures and advice of every model of the target, over the newest window. */
static void compute(struct servers *s, struct target *t)
{
	t->nmodels = 0;
	if (t->n < 2)
		return;
	unsigned last = t->n - 1, first = 0;
	double tl = t->ring[(t->head + last) % t->cap].t;
	for (unsigned i = 0; i < last; i++)
		if (tl - t->ring[(t->head + i) % t->cap].t >= s->cfg.window_s - s->cfg.poll_s / 2)
			first = i;
	const struct slot *a = &t->ring[(t->head + first) % t->cap];
	const struct slot *b = &t->ring[(t->head + last) % t->cap];
	t->warming = b->t - a->t < s->cfg.window_s - s->cfg.poll_s / 2;
	const struct server_reading *rs[SERVER_WINDOW_READINGS_MAX];
	double ts[SERVER_WINDOW_READINGS_MAX];
	unsigned n = 0;
	for (unsigned i = first; i <= last; i++) {
		rs[n] = t->ring[(t->head + i) % t->cap].r;
		ts[n++] = t->ring[(t->head + i) % t->cap].t;
	}
	/* Each GPU's mean power over the counter updates inside the window, times its length. */
	double joules = 0, window = b->t - a->t;
	bool energy = b->acc.energy_gaps == a->acc.energy_gaps && t->ngpus > 0;
	for (unsigned j = 0; j < t->ngpus && energy; j++) {
		unsigned g = t->gpus[j];
		double et = g < ACC_GPUS_MAX ? b->acc.energy_time[g] - a->acc.energy_time[g] : 0;
		if (et < window / 2)
			energy = false; /* the counter moved too little inside the window */
		else
			joules += (b->acc.joules[g] - a->acc.joules[g]) * window / et;
	}
	struct server_gpu_side side = {.energy_valid = energy,
	                               .joules = joules,
	                               .gpu_seconds = b->acc.gpu_seconds - a->acc.gpu_seconds,
	                               .sm_valid = b->acc.sm_gaps == a->acc.sm_gaps,
	                               .sm_active_seconds = b->acc.sm_seconds - a->acc.sm_seconds,
	                               .util_valid = b->acc.util_gaps == a->acc.util_gaps,
	                               .busy_seconds = b->acc.busy_seconds - a->acc.busy_seconds,
	                               .price_per_hour = s->cfg.price_per_gpu_hour};
	if (isnan(side.price_per_hour))
		side.price_per_hour = analyze_model_price(
		    analyze_default_prices, analyze_default_prices_count, t->gpu_model);
	const struct server_reading *latest = b->r;
	/* Each model's share of the server's GPUs: its share of generated tokens (else
	 * requests, else an equal split). */
	double total_tok = 0, total_req = 0;
	struct server_figures plain[SERVER_MODELS_MAX];
	for (unsigned m = 0; m < latest->n_models && m < SERVER_MODELS_MAX; m++) {
		server_figures_compute(rs, ts, n, latest->model[m].name, NULL, &plain[m]);
		total_tok += isnan(plain[m].gen_tokens) ? 0 : plain[m].gen_tokens;
		total_req += isnan(plain[m].requests) ? 0 : plain[m].requests;
	}
	for (unsigned m = 0; m < latest->n_models && m < SERVER_MODELS_MAX; m++) {
		double part =
		    total_tok > 0
		        ? (isnan(plain[m].gen_tokens) ? 0 : plain[m].gen_tokens) / total_tok
		    : total_req > 0 ? (isnan(plain[m].requests) ? 0 : plain[m].requests) / total_req
		                    : 1.0 / latest->n_models;
		struct server_gpu_side ms = side;
		ms.joules *= part;
		ms.gpu_seconds *= part;
		ms.sm_active_seconds *= part;
		ms.busy_seconds *= part;
		snprintf(t->model[m], sizeof(t->model[m]), "%s", latest->model[m].name);
		server_figures_compute(rs, ts, n, latest->model[m].name, t->ngpus ? &ms : NULL,
		                       &t->fig[m]);
		t->nmodels = m + 1;
	}
}

/* The best J/token of the same model on the same GPU kind among the other servers. */
static void advise(struct servers *s)
{
	for (unsigned k = 0; k < s->ntargets; k++) {
		struct target *t = &s->targets[k];
		for (unsigned m = 0; m < t->nmodels; m++) {
			struct advice_input in = {.kind = t->kind,
			                          .fig = &t->fig[m],
			                          .sm_active = t->sm_active,
			                          .memory_used = t->memory_used,
			                          .peer_j_per_token = NAN,
			                          .server = t->name,
			                          .model = t->model[m],
			                          .uuid = t->ngpus ? t->gpu_uuid : NULL,
			                          .gpu_index = t->ngpus ? (long)t->gpus[0] : -1};
			for (unsigned o = 0; o < s->ntargets; o++) {
				const struct target *u = &s->targets[o];
				if (o == k || strcmp(u->gpu_model, t->gpu_model) != 0)
					continue;
				for (unsigned j = 0; j < u->nmodels; j++)
					if (strcmp(u->model[j], t->model[m]) == 0 &&
					    u->fig[j].valid[SFIG_J_PER_TOKEN] &&
					    (isnan(in.peer_j_per_token) ||
					     u->fig[j].v[SFIG_J_PER_TOKEN] < in.peer_j_per_token)) {
						in.peer_j_per_token = u->fig[j].v[SFIG_J_PER_TOKEN];
						in.peer = u->name;
					}
			}
			server_advise(&in, &t->advice[m]);
		}
	}
}

unsigned servers_poll_now(struct servers *s)
{
	double now = mono_now();
	struct board_snapshot snap;
	if (board_snapshot(s->board, &snap) != 0)
		return s->ntargets;
	if (!s->prev && snap.count) {
		s->prev = calloc(snap.count, sizeof(*s->prev));
		s->gpu_tokens = calloc(snap.count, sizeof(double));
		s->gpu_requests = calloc(snap.count, sizeof(double));
		s->gpu_served = calloc(snap.count, sizeof(bool));
		s->nprev =
		    s->prev && s->gpu_tokens && s->gpu_requests && s->gpu_served ? snap.count : 0;
	}
	if (!s->cfg.no_discovery)
		discover(s, &snap, now);
	for (unsigned k = 0; k < s->ntargets; k++)
		join(s, &s->targets[k], &snap, now);
	gpu_step(s, &snap, now);
	bool added[SERVERS_MAX];
	read_targets(s, added);
	for (unsigned k = 0; k < s->ntargets; k++) {
		if (added[k])
			count_work(s, &s->targets[k]);
		compute(s, &s->targets[k]);
	}
	for (unsigned g = 0; g < s->nprev; g++)
		if (s->gpu_served[g]) {
			board_publish_one(s->board, g, METRIC_TOKENS_GENERATED, s->gpu_tokens[g]);
			board_publish_one(s->board, g, METRIC_REQUESTS_COMPLETED,
			                  s->gpu_requests[g]);
		}
	advise(s);
	board_snapshot_free(&snap);
	servers_render(s);
	return s->ntargets;
}

static void *reader(void *arg)
{
	struct servers *s = arg;
	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		pthread_mutex_unlock(&s->lock);
		/* a fixed cadence: the next poll is due poll_s after this one began */
		double next = mono_now() + s->cfg.poll_s;
		servers_poll_now(s);
		pthread_mutex_lock(&s->lock);
		s->polls++;
		pthread_cond_broadcast(&s->wake);
		struct timespec ts;
		ts.tv_sec = (time_t)next;
		ts.tv_nsec = (long)((next - (double)ts.tv_sec) * 1e9);
		while (!s->stop && pthread_cond_timedwait(&s->wake, &s->lock, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

void servers_wait_polled(struct servers *s, double timeout_s)
{
	double end = mono_now() + timeout_s;
	struct timespec ts = {.tv_sec = (time_t)end,
	                      .tv_nsec = (long)((end - (double)(time_t)end) * 1e9)};
	pthread_mutex_lock(&s->lock);
	while (s->started && !s->polls && !s->stop &&
	       pthread_cond_timedwait(&s->wake, &s->lock, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&s->lock);
}

struct servers *servers_start(struct board *b, const struct servers_config *cfg, char *err,
                              size_t errlen)
{
	struct servers *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->board = b;
	s->cfg = *cfg;
	snprintf(s->host_root, sizeof(s->host_root), "%s",
	         cfg->host_root && *cfg->host_root && strcmp(cfg->host_root, "/") ? cfg->host_root
	                                                                          : "");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	for (unsigned i = 0; i < cfg->nurls && i < SERVERS_MAX; i++) {
		struct target *t = &s->targets[s->ntargets];
		if (target_init(t, cfg->urls[i], err, errlen) != 0 || target_alloc(s, t) != 0) {
			if (!*err)
				snprintf(err, errlen, "out of memory");
			target_free(t);
			servers_stop(s);
			return NULL;
		}
		s->ntargets++;
	}
	servers_render(s);
	if (pthread_create(&s->thread, NULL, reader, s) != 0) {
		snprintf(err, errlen, "cannot start the inference-server reader thread");
		servers_stop(s);
		return NULL;
	}
	s->started = true;
	return s;
}

void servers_stop(struct servers *s)
{
	if (!s)
		return;
	if (s->started) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_cond_broadcast(&s->wake);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
	}
	for (unsigned i = 0; i < s->ntargets; i++)
		target_free(&s->targets[i]);
	free(s->prev);
	free(s->gpu_tokens);
	free(s->gpu_requests);
	free(s->gpu_served);
	free(s->probe.data);
	free(s->json);
	free(s->advice_json);
	free(s->health_json);
	free(s->prom);
	free(s->doctor);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

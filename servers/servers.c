/* servers.c - the reader thread of servers.h: each poll discovers (join.c), reads (fetch.c),
 * windows and advises; and the targets' lifetime. */
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

/* Splits "http://host:port/path#gpus=0,1" into the URL to fetch, name, port, pins. */
int target_init(struct target *t, const char *spec, char *err, size_t errlen)
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

struct target *target_slot(struct servers *s)
{
	if (s->ntargets == SERVERS_MAX)
		return NULL;
	if (s->ntargets == s->tcap) {
		unsigned cap = s->tcap ? 2 * s->tcap : 1;
		struct target *grown = realloc(s->targets, cap * sizeof(*grown));
		if (!grown)
			return NULL;
		s->targets = grown;
		s->tcap = cap;
	}
	return &s->targets[s->ntargets];
}

int target_alloc(struct servers *s, struct target *t)
{
	t->cap = (unsigned)ceil(s->cfg.window_s / s->cfg.poll_s) + 3;
	if (t->cap > SERVER_WINDOW_READINGS_MAX)
		t->cap = SERVER_WINDOW_READINGS_MAX;
	t->ring = calloc(t->cap, sizeof(*t->ring));
	t->curl = curl_easy_init();
	t->memory_used = t->sm_active = NAN;
	return t->ring && t->curl ? 0 : -1;
}

void target_free(struct target *t)
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
		t->side[m] = ms;
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
		for (unsigned g = 0; g < s->nprev; g++)
			s->prev[g].sm = s->prev[g].util = NAN;
	}
	/* the known targets' listeners first, so discovery does not add a second port of a
	 * configured server (TGI answers /metrics on two) */
	for (unsigned k = 0; k < s->ntargets; k++)
		servers_join(s, &s->targets[k], &snap, now);
	unsigned known = s->ntargets;
	if (!s->cfg.no_discovery)
		servers_discover(s, &snap, now);
	for (unsigned k = known; k < s->ntargets; k++)
		servers_join(s, &s->targets[k], &snap, now);
	servers_gpu_step(s, &snap, now);
	bool added[SERVERS_MAX];
	servers_read_targets(s, added);
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
	servers_history_collect(s, wall_now());
	board_snapshot_free(&snap);
	servers_render(s);
	return s->ntargets;
}

static void *reader(void *arg)
{
	struct servers *s = arg;
	pthread_setname_np(pthread_self(), "gpuscope-reader");
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
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	for (unsigned i = 0; i < cfg->nurls && i < SERVERS_MAX; i++) {
		struct target *t = target_slot(s);
		if (!t || target_init(t, cfg->urls[i], err, errlen) != 0 ||
		    target_alloc(s, t) != 0) {
			if (!*err)
				snprintf(err, errlen, "out of memory");
			if (t)
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
	free(s->targets);
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
	free(s->pending);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

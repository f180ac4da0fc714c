/* nccl.c - parse the NCCL plugin's lines and keep the latest per key (see nccl.h). */
#include "series/nccl.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void copy_str(char *dst, size_t cap, json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	snprintf(dst, cap, "%s", s ? s : "");
}

/* A number that must be finite and not negative; NAN otherwise. */
static double num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	double d = json_is_number(v) ? json_number_value(v) : NAN;
	return isfinite(d) && d >= 0 ? d : NAN;
}

int nccl_msg_parse(const char *buf, size_t len, struct nccl_msg *m)
{
	memset(m, 0, sizeof(*m));
	json_error_t err;
	json_t *o = json_loadb(buf, len, 0, &err);
	int rc = -1;
	const char *type = json_string_value(json_object_get(o, "type"));
	if (!json_is_object(o) || !type || json_integer_value(json_object_get(o, "v")) != 1)
		goto out;
	m->pid = (int)json_integer_value(json_object_get(o, "pid"));
	copy_str(m->process, sizeof(m->process), o, "process");
	if (!strcmp(type, "nccl")) {
		m->type = NCCL_MSG_COLL;
		copy_str(m->comm, sizeof(m->comm), o, "comm");
		copy_str(m->collective, sizeof(m->collective), o, "collective");
		copy_str(m->algorithm, sizeof(m->algorithm), o, "algorithm");
		copy_str(m->protocol, sizeof(m->protocol), o, "protocol");
		copy_str(m->timing, sizeof(m->timing), o, "timing");
		m->rank = (int)json_integer_value(json_object_get(o, "rank"));
		m->nranks = (int)json_integer_value(json_object_get(o, "nranks"));
		m->count = num(o, "count");
		m->bytes = num(o, "bytes");
		m->time_s = num(o, "time_s");
		m->timed = num(o, "timed");
		m->timed_bytes = num(o, "timed_bytes");
		m->enqueue_s = num(o, "enqueue_s");
		m->busbw = num(o, "busbw_bytes_per_s");
		/* A line we cannot key or count is not one. */
		if (!m->comm[0] || !m->collective[0] || isnan(m->count) || isnan(m->bytes))
			goto out;
	} else if (!strcmp(type, "nccl_process")) {
		m->type = NCCL_MSG_PROCESS;
		m->busy_s = num(o, "busy_s");
		m->wall_s = num(o, "wall_s");
		m->window_s = num(o, "window_s");
		m->window_share = num(o, "window_share");
		if (isnan(m->busy_s))
			goto out;
	} else {
		goto out;
	}
	rc = 0;
out:
	json_decref(o);
	return rc;
}

int nccl_table_init(struct nccl_table *t)
{
	memset(t, 0, sizeof(*t));
	t->s = calloc(NCCL_SERIES_CAP, sizeof(*t->s));
	if (!t->s)
		return -1;
	pthread_mutex_init(&t->lock, NULL);
	return 0;
}

void nccl_table_free(struct nccl_table *t)
{
	if (!t->s)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t->s);
	t->s = NULL;
}

static bool same_key(const struct nccl_series *s, const struct nccl_msg *m, const char *workload)
{
	if (s->m.type != m->type || s->m.pid != m->pid || strcmp(s->m.process, m->process) ||
	    strcmp(s->workload, workload))
		return false;
	return m->type == NCCL_MSG_PROCESS ||
	       (!strcmp(s->m.comm, m->comm) && s->m.rank == m->rank &&
	        !strcmp(s->m.collective, m->collective));
}

void nccl_table_add(struct nccl_table *t, const struct nccl_msg *m, const char *workload,
                    double now)
{
	pthread_mutex_lock(&t->lock);
	t->received++;
	struct nccl_series *s = NULL;
	for (unsigned i = 0; i < t->n && !s; i++)
		if (same_key(&t->s[i], m, workload))
			s = &t->s[i];
	if (!s && t->n < NCCL_SERIES_CAP) {
		s = &t->s[t->n++];
		snprintf(s->workload, sizeof(s->workload), "%s", workload);
	}
	if (s) {
		s->m = *m;
		s->received_at = now;
	} else {
		t->folded++;
	}
	pthread_mutex_unlock(&t->lock);
}

int nccl_table_copy(struct nccl_table *t, struct nccl_series **out, unsigned *n,
                    uint64_t counters[2])
{
	pthread_mutex_lock(&t->lock);
	*out = malloc((t->n ? t->n : 1) * sizeof(**out));
	if (*out) {
		memcpy(*out, t->s, t->n * sizeof(**out));
		*n = t->n;
	}
	counters[0] = t->received;
	counters[1] = t->folded;
	pthread_mutex_unlock(&t->lock);
	return *out ? 0 : -1;
}

static void top_kind(struct nccl_table *t, const struct nccl_series *p, struct nccl_window *w)
{
	double best = -1;
	for (unsigned i = 0; i < t->n; i++) {
		struct nccl_series *c = &t->s[i];
		if (c->m.type != NCCL_MSG_COLL || c->m.pid != p->m.pid ||
		    strcmp(c->m.process, p->m.process) || strcmp(c->workload, p->workload))
			continue;
		double dt = c->m.time_s - c->mark_time;
		if (isnan(dt) || dt < 0) /* enqueue-only kinds have no time; judged by count */
			dt = 0;
		if (dt > best || (dt == best && c->m.count - c->mark_count > w->calls)) {
			best = dt;
			snprintf(w->collective, sizeof(w->collective), "%s", c->m.collective);
			snprintf(w->timing, sizeof(w->timing), "%s", c->m.timing);
			w->calls = c->m.count - c->mark_count;
			w->bytes = c->m.bytes - c->mark_bytes;
			w->busbw = c->m.busbw;
			w->nranks = c->m.nranks;
		}
	}
}

unsigned nccl_table_windows(struct nccl_table *t, double now, double fresh_s,
                            struct nccl_window *out, unsigned cap)
{
	unsigned n = 0;
	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < t->n && n < cap; i++) {
		struct nccl_series *p = &t->s[i];
		if (p->m.type != NCCL_MSG_PROCESS || now - p->received_at > fresh_s)
			continue;
		struct nccl_window *w = &out[n];
		memset(w, 0, sizeof(*w));
		w->pid = p->m.pid;
		snprintf(w->process, sizeof(w->process), "%s", p->m.process);
		snprintf(w->workload, sizeof(w->workload), "%s", p->workload);
		w->window_s = isnan(p->m.wall_s) ? NAN : p->m.wall_s - p->mark_wall;
		w->busy_s = p->m.busy_s - p->mark_busy;
		w->busbw = NAN;
		top_kind(t, p, w);
		if (!(w->window_s > 0))
			continue; /* nothing new since the last look */
		n++;
	}
	/* Advance every mark only now, so each process saw its kinds' old marks. */
	for (unsigned i = 0; i < t->n; i++) {
		struct nccl_series *s = &t->s[i];
		if (now - s->received_at > fresh_s)
			continue;
		s->mark_busy = s->m.busy_s;
		s->mark_wall = s->m.wall_s;
		s->mark_time = s->m.time_s;
		s->mark_count = s->m.count;
		s->mark_bytes = s->m.bytes;
	}
	pthread_mutex_unlock(&t->lock);
	return n;
}

/* eval.c - the alert state machine over a ring of recent inputs per GPU.
 *
 * Each GPU (by UUID) has a ring of timestamped inputs, as long as the
 * longest enabled window needs (sized on every rule change; a larger window
 * starts with an empty ring rather than a guessed history).  A rule's value
 * is a statistic of its signal over the samples in its window; counters
 * take the increase, summing positive steps so a driver reload (counter
 * back to 0) is not read as a negative burst.
 *
 * Alerts live in one array.  It holds only pending and firing alerts;
 * resolving removes the entry.  Every (rule, GPU) pair looks its alert up
 * every evaluation (64 GPUs x 15 rules: about a thousand lookups a second),
 * so the array has an open-addressing index by fingerprint, kept as the
 * 64-bit number the fingerprint's text spells; each rule's hash of its own
 * name and the host is computed once per rule change, so a lookup hashes
 * only the UUID.  (A linear scan comparing the text was a quarter of the
 * alert thread's CPU with 64 idle GPUs.)
 */
#include "alert/eval.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sample {
	double t;
	double v[ALERT_SIG_COUNT];
};

struct gpu_ring {
	char uuid[96];
	struct sample *s; /* cap entries, oldest at head */
	size_t head, n;
	bool seen; /* in the current evaluation's input */
};

struct alert_engine {
	struct alert_rules rules;
	uint64_t rule_seed[ALERT_RULES_MAX]; /* fingerprint hash after (rule, host) */
	char hostname[256];
	size_t cap; /* ring entries per GPU */
	struct gpu_ring *rings;
	size_t nrings;
	struct alert *alerts;
	uint64_t *keys;      /* alerts[i]'s fingerprint as a number */
	uint64_t *described; /* alerts[i]'s describe_key when last described; 0: never */
	size_t nalerts, alerts_cap;
	size_t *slots; /* index: 1 + position in alerts, 0 empty; a power of two */
	size_t nslots;
};

#define FNV_OFFSET 1469598103934665603ULL
#define FNV_PRIME  1099511628211ULL

static uint64_t fnv_bytes(uint64_t h, const void *p, size_t n)
{
	for (const unsigned char *c = p; n--; c++)
		h = (h ^ *c) * FNV_PRIME;
	return h;
}

/* FNV-1a 64 over one part of a fingerprint and its separator. */
static uint64_t fnv_part(uint64_t h, const char *part)
{
	return (fnv_bytes(h, part, strlen(part)) ^ 0xff) * FNV_PRIME;
}

static void seed_rules(struct alert_engine *e)
{
	for (size_t i = 0; i < e->rules.n; i++)
		e->rule_seed[i] =
		    fnv_part(fnv_part(FNV_OFFSET, e->rules.rule[i].name), e->hostname);
}

/* The index's slot of key: where it is, or the empty slot where it would go. */
static size_t slot_of(const struct alert_engine *e, uint64_t key)
{
	size_t mask = e->nslots - 1;
	size_t i = (size_t)(key ^ key >> 29) & mask;
	while (e->slots[i] && e->keys[e->slots[i] - 1] != key)
		i = (i + 1) & mask;
	return i;
}

/* Rebuilds the index of the alerts there are now, grown for room alerts at a
 * load factor of at most a half (to grow, or after removals moved alerts).  It
 * never shrinks, so a rebuild after a removal cannot fail.  -1 when out of
 * memory: the old index stays, still right for the alerts it holds. */
static int reindex(struct alert_engine *e, size_t room)
{
	size_t want = e->nslots ? e->nslots : 16;
	while (want < 2 * room)
		want *= 2;
	if (want != e->nslots) {
		size_t *s = malloc(want * sizeof(*s));
		if (!s)
			return -1;
		free(e->slots);
		e->slots = s;
		e->nslots = want;
	}
	memset(e->slots, 0, e->nslots * sizeof(*e->slots));
	for (size_t i = 0; i < e->nalerts; i++)
		e->slots[slot_of(e, e->keys[i])] = i + 1;
	return 0;
}

/* Entries a ring needs: one a second over the longest window, plus slack
 * for evaluations that come a little faster than once a second. */
static size_t ring_cap(const struct alert_rules *rs)
{
	double w = 0;
	for (size_t i = 0; i < rs->n; i++)
		if (rs->rule[i].window_s > w)
			w = rs->rule[i].window_s;
	return (size_t)(w * 1.25) + 8;
}

struct alert_engine *alert_engine_new(const struct alert_rules *rules, const char *hostname)
{
	struct alert_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->rules = *rules;
	e->cap = ring_cap(rules);
	snprintf(e->hostname, sizeof(e->hostname), "%s", hostname ? hostname : "");
	seed_rules(e);
	if (reindex(e, 0) != 0) {
		free(e);
		return NULL;
	}
	return e;
}

void alert_engine_free(struct alert_engine *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nrings; i++)
		free(e->rings[i].s);
	free(e->rings);
	free(e->alerts);
	free(e->keys);
	free(e->described);
	free(e->slots);
	free(e);
}

int alert_engine_set_rules(struct alert_engine *e, const struct alert_rules *rules)
{
	size_t cap = ring_cap(rules);
	if (cap > e->cap) {
		/* Grow every ring, keeping what it has in order. */
		for (size_t i = 0; i < e->nrings; i++) {
			struct gpu_ring *g = &e->rings[i];
			struct sample *s = malloc(cap * sizeof(*s));
			if (!s)
				return -1;
			for (size_t k = 0; k < g->n; k++)
				s[k] = g->s[(g->head + k) % e->cap];
			free(g->s);
			g->s = s;
			g->head = 0;
		}
		e->cap = cap;
	}
	e->rules = *rules;
	seed_rules(e);
	if (e->nalerts) /* a rule's text may have changed */
		memset(e->described, 0, e->nalerts * sizeof(*e->described));
	return 0;
}

/* The fingerprint's text: FNV-1a 64 over rule, host and UUID, each ended by a
 * separator, in 16 hex digits (stable across versions: saved alerts carry it). */
static void fingerprint_text(uint64_t key, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)key);
}

static struct alert *find_alert(struct alert_engine *e, uint64_t key)
{
	size_t i = e->slots[slot_of(e, key)];
	return i ? &e->alerts[i - 1] : NULL;
}

/* A zeroed alert of that key at the end of the array, indexed; NULL when out of memory. */
static struct alert *new_alert(struct alert_engine *e, uint64_t key)
{
	if (e->nalerts == e->alerts_cap) {
		size_t cap = e->alerts_cap ? e->alerts_cap * 2 : 16;
		uint64_t *k = realloc(e->keys, cap * sizeof(*k));
		if (!k)
			return NULL;
		e->keys = k;
		uint64_t *d = realloc(e->described, cap * sizeof(*d));
		if (!d)
			return NULL;
		e->described = d;
		struct alert *a = realloc(e->alerts, cap * sizeof(*a));
		if (!a)
			return NULL;
		e->alerts = a;
		e->alerts_cap = cap;
	}
	if (2 * (e->nalerts + 1) > e->nslots && reindex(e, e->nalerts + 1) != 0)
		return NULL;
	size_t i = e->nalerts++;
	e->keys[i] = key;
	e->described[i] = 0;
	e->slots[slot_of(e, key)] = i + 1;
	struct alert *a = &e->alerts[i];
	memset(a, 0, sizeof(*a));
	return a;
}

/* The number a saved fingerprint spells.  Other text (a file edited by hand)
 * gets its own hash: a key no rule of ours computes, which resolves through
 * keep_firing_for like a rule that is gone. */
static uint64_t key_of_text(const char *fp)
{
	uint64_t h = 0;
	size_t n = 0;
	for (; fp[n] && n < 16; n++) {
		char c = fp[n];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			break;
		h = h << 4 | (uint64_t)d;
	}
	return n == 16 && !fp[16] ? h : fnv_part(FNV_OFFSET, fp);
}

int alert_engine_restore(struct alert_engine *e, double now, const struct alert *firing, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t key = key_of_text(firing[i].fingerprint);
		if (firing[i].state != ALERT_STATE_FIRING || find_alert(e, key))
			continue;
		struct alert *a = new_alert(e, key);
		if (!a)
			return -1;
		*a = firing[i];
		a->last_true = now; /* damping counts from the restart */
	}
	return 0;
}

/* The index of the GPU's ring, created when new; -1 when out of memory.
 * An index, not a pointer: creating a ring may move them all. */
static long ring_for(struct alert_engine *e, size_t hint, const char *uuid)
{
	if (hint < e->nrings && strcmp(e->rings[hint].uuid, uuid) == 0)
		return (long)hint; /* the GPUs come in the same order every evaluation */
	for (size_t i = 0; i < e->nrings; i++)
		if (strcmp(e->rings[i].uuid, uuid) == 0)
			return (long)i;
	struct gpu_ring *r = realloc(e->rings, (e->nrings + 1) * sizeof(*r));
	if (!r)
		return -1;
	e->rings = r;
	struct gpu_ring *g = &e->rings[e->nrings];
	memset(g, 0, sizeof(*g));
	if (!(g->s = malloc(e->cap * sizeof(*g->s))))
		return -1;
	snprintf(g->uuid, sizeof(g->uuid), "%s", uuid);
	return (long)e->nrings++;
}

static void ring_push(struct alert_engine *e, struct gpu_ring *g, double now, const double *v)
{
	struct sample *s;
	if (g->n < e->cap) {
		s = &g->s[(g->head + g->n) % e->cap];
		g->n++;
	} else {
		s = &g->s[g->head];
		g->head = (g->head + 1) % e->cap;
	}
	s->t = now;
	memcpy(s->v, v, sizeof(s->v));
}

/* The signal's statistic over samples no older than window_s (the newest
 * sample alone when window_s is 0).  NaN when no sample has a value. */
static double windowed(const struct alert_engine *e, const struct gpu_ring *g, double now,
                       enum alert_signal sig, enum alert_stat stat, double window_s)
{
	if (!g->n)
		return NAN;
	bool counter = alert_signal_is_counter(sig);
	double acc = NAN, prev = NAN;
	size_t used = 0;
	/* Samples sit in the order they came, so the window is a tail of the ring: found
	 * from the newest back, a rule costs its own window, not the longest rule's ring. */
	size_t first = g->n - 1; /* window 0: the newest sample alone */
	if (window_s > 0) {
		double from = now - window_s - 1e-6;
		first = g->n;
		while (first > 0 && g->s[(g->head + first - 1) % e->cap].t >= from)
			first--;
	}
	for (size_t k = first; k < g->n; k++) {
		const struct sample *s = &g->s[(g->head + k) % e->cap];
		double v = s->v[sig];
		if (isnan(v))
			continue;
		if (counter) {
			/* Increase: positive steps between consecutive readings. */
			if (isnan(acc))
				acc = 0;
			if (!isnan(prev) && v > prev)
				acc += v - prev;
			prev = v;
			continue;
		}
		if (isnan(acc))
			acc = stat == ALERT_STAT_MEAN ? 0 : v;
		switch (stat) {
		case ALERT_STAT_LAST:
			acc = v;
			break;
		case ALERT_STAT_MEAN:
			acc += v;
			break;
		case ALERT_STAT_MAX:
			acc = v > acc ? v : acc;
			break;
		case ALERT_STAT_MIN:
			acc = v < acc ? v : acc;
			break;
		}
		used++;
	}
	if (!counter && stat == ALERT_STAT_MEAN && used)
		acc /= (double)used;
	return acc;
}

static double verdict_value(const struct alert_gpu_input *in, const struct alert_cond *c)
{
	for (size_t i = 0; i < in->nverdicts; i++)
		if (strcmp(in->verdicts[i].id, c->verdict) == 0 &&
		    in->verdicts[i].severity >= c->verdict_min)
			return 1;
	return 0;
}

static bool cond_holds(const struct alert_engine *e, const struct gpu_ring *g, double now,
                       const struct alert_gpu_input *in, const struct alert_rule *r,
                       const struct alert_cond *c, double *value, double *threshold)
{
	double v = c->signal == ALERT_SIG_VERDICT
	               ? verdict_value(in, c)
	               : windowed(e, g, now, c->signal, c->stat, r->window_s);
	double thr = c->threshold;
	if (c->gpu_threshold == ALERT_GPU_THRESHOLD_SLOWDOWN_TEMP && !isnan(in->slowdown_temp_c) &&
	    in->slowdown_temp_c > 0)
		thr = in->slowdown_temp_c;
	if (value)
		*value = v;
	if (threshold)
		*threshold = thr;
	return alert_compare(c->op, v, thr);
}

/* Everything describe() reads that changes between evaluations of rule k, hashed (never
 * 0): a pending alert is described again only when it changes, not every second (64
 * workless GPUs hold 64 pending GpuUtilizationLow alerts, each a dozen snprintf calls). */
static uint64_t describe_key(size_t k, const struct alert *a, const struct alert_gpu_input *in)
{
	uint64_t h = fnv_bytes(FNV_OFFSET, &k, sizeof(k));
	h = fnv_bytes(h, &a->value, sizeof(a->value));
	h = fnv_bytes(h, &a->threshold, sizeof(a->threshold));
	h = fnv_bytes(h, &in->index, sizeof(in->index));
	h = fnv_bytes(h, &in->xid_last, sizeof(in->xid_last));
	const char *text[] = {in->uuid, in->model,     in->pod_namespace,
	                      in->pod,  in->container, in->process};
	for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++)
		h = fnv_part(h, text[i]);
	return h ? h : 1;
}

static void add_label(struct alert *a, const char *name, const char *value)
{
	if (!value || !*value || a->nlabels == ALERT_LABELS_MAX)
		return;
	struct alert_label *l = &a->labels[a->nlabels++];
	snprintf(l->name, sizeof(l->name), "%s", name);
	snprintf(l->value, sizeof(l->value), "%s", value);
}

/* Labels and text of an alert from the rule and the GPU (while pending;
 * frozen once it fires, so a notification and its resolve match). */
static void describe(struct alert_engine *e, struct alert *a, const struct alert_rule *r,
                     const struct alert_gpu_input *in)
{
	char idx[24];
	a->nlabels = 0;
	snprintf(idx, sizeof(idx), "%ld", in->index);
	add_label(a, "alertname", r->name);
	add_label(a, "severity", alert_severity_name(r->severity));
	add_label(a, "hostname", e->hostname);
	add_label(a, "gpu", idx);
	add_label(a, "UUID", in->uuid);
	add_label(a, "modelName", in->model);
	add_label(a, "namespace", in->pod_namespace);
	add_label(a, "pod", in->pod);
	add_label(a, "container", in->container);
	add_label(a, "process", in->process);
	if (r->cond.signal == ALERT_SIG_XID_ERRORS && in->xid_last) {
		char x[16];
		snprintf(x, sizeof(x), "%u", in->xid_last);
		add_label(a, "xid", x);
	}
	if (r->cond.signal == ALERT_SIG_VERDICT)
		add_label(a, "verdict", r->cond.verdict);
	a->severity = r->severity;
	a->gpu = in->index;
	snprintf(a->uuid, sizeof(a->uuid), "%s", in->uuid);
	snprintf(a->summary, sizeof(a->summary), "%s", r->summary);
	char win[32], dur[32];
	alert_format_duration(r->window_s, win, sizeof(win));
	alert_format_duration(r->for_s, dur, sizeof(dur));
	if (r->cond.signal == ALERT_SIG_VERDICT)
		snprintf(a->description, sizeof(a->description),
		         "GPU %ld (%s, %s) on %s: the live diagnosis reports %s (see "
		         "/api/v1/diagnosis for evidence and fix)",
		         in->index, in->model, in->uuid, e->hostname, r->cond.verdict);
	else
		snprintf(a->description, sizeof(a->description),
		         "GPU %ld (%s, %s) on %s: %s (%s over %s) is %.4g, %s %.4g, for %s",
		         in->index, in->model, in->uuid, e->hostname,
		         alert_signal_name(r->cond.signal),
		         alert_signal_is_counter(r->cond.signal) ? "increase"
		                                                 : alert_stat_name(r->cond.stat),
		         win, a->value, alert_op_name(r->cond.op), a->threshold, dur);
}

static int emit(struct alert **events, size_t *nevents, const struct alert *a)
{
	struct alert *ev = realloc(*events, (*nevents + 1) * sizeof(*ev));
	if (!ev)
		return -1;
	*events = ev;
	ev[(*nevents)++] = *a;
	return 0;
}

/* Marks the alert resolved, emits it and removes it from the array. */
static int resolve(struct alert_engine *e, size_t i, double now, struct alert **events,
                   size_t *nevents)
{
	struct alert *a = &e->alerts[i];
	int rc = 0;
	if (a->state == ALERT_STATE_FIRING) {
		a->state = ALERT_STATE_RESOLVED;
		a->resolved_at = now;
		rc = emit(events, nevents, a);
	}
	e->nalerts--;
	e->alerts[i] = e->alerts[e->nalerts];
	e->keys[i] = e->keys[e->nalerts];
	e->described[i] = e->described[e->nalerts];
	return rc;
}

/* Rule k on one GPU.  seen[] marks alerts that were evaluated. */
static int eval_one(struct alert_engine *e, double now, size_t k, const struct alert_gpu_input *in,
                    const struct gpu_ring *g, bool *seen, struct alert **events, size_t *nevents)
{
	/* The rule as it applies to this GPU's model: a copy only when it has overrides. */
	const struct alert_rule *rule = &e->rules.rule[k];
	struct alert_rule folded;
	if (rule->nmodels) {
		alert_rule_for_model(rule, in->model, &folded);
		rule = &folded;
	}
	const struct alert_rule *r = rule;
	uint64_t key = fnv_part(e->rule_seed[k], in->uuid);
	struct alert *a = find_alert(e, key);
	if (r->disabled)
		return 0; /* not marked seen: an active alert of it resolves below */
	double value, thr;
	bool holds = cond_holds(e, g, now, in, r, &r->cond, &value, &thr) &&
	             (!r->has_and || cond_holds(e, g, now, in, r, &r->and_cond, NULL, NULL));
	if (!a && !holds)
		return 0;
	if (!a) {
		if (!(a = new_alert(e, key)))
			return -1;
		fingerprint_text(key, a->fingerprint);
		snprintf(a->rule, sizeof(a->rule), "%s", r->name);
		a->state = ALERT_STATE_PENDING;
		a->active_at = now;
	}
	seen[a - e->alerts] = true;
	if (holds) {
		a->last_true = now;
		a->value = value;
		a->threshold = thr;
	}
	if (a->state == ALERT_STATE_PENDING) {
		if (!holds) {
			seen[a - e->alerts] = false; /* back to inactive: dropped below, silently */
			return 0;
		}
		uint64_t dk = describe_key(k, a, in);
		if (e->described[a - e->alerts] != dk) {
			describe(e, a, r, in);
			e->described[a - e->alerts] = dk;
		}
		if (now - a->active_at >= r->for_s - 1e-6) {
			a->state = ALERT_STATE_FIRING;
			a->fired_at = now;
			return emit(events, nevents, a);
		}
		return 0;
	}
	if (!holds && now - a->last_true >= r->keep_firing_for_s - 1e-6)
		seen[a - e->alerts] = false; /* resolves below */
	return 0;
}

int alert_engine_eval(struct alert_engine *e, double now, const struct alert_gpu_input *gpus,
                      size_t n, struct alert **events, size_t *nevents)
{
	size_t before = *nevents;
	for (size_t i = 0; i < e->nrings; i++)
		e->rings[i].seen = false;
	struct gpu_ring **ring = calloc(n ? n : 1, sizeof(*ring));
	if (!ring)
		return -1;
	long *idx = calloc(n ? n : 1, sizeof(*idx));
	for (size_t i = 0; idx && i < n; i++)
		if ((idx[i] = ring_for(e, i, gpus[i].uuid)) < 0) {
			free(idx);
			idx = NULL;
		}
	if (!idx) {
		free(ring);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		ring[i] = &e->rings[idx[i]];
		ring_push(e, ring[i], now, gpus[i].value);
	}
	free(idx);
	/* Rules x GPUs may add alerts; seen[] is sized for the most there can be. */
	size_t most = e->nalerts + e->rules.n * n;
	bool *seen = calloc(most ? most : 1, sizeof(*seen));
	if (!seen) {
		free(ring);
		return -1;
	}
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		ring[i]->seen = true;
		for (size_t k = 0; k < e->rules.n && rc == 0; k++)
			rc = eval_one(e, now, k, &gpus[i], ring[i], seen, events, nevents);
	}
	/* Alerts not confirmed this round: pending ones drop silently; firing
	 * ones resolve, unless damping holds them (their GPU is missing, or
	 * their rule is gone, only for keep_firing_for of their rule). */
	size_t had = e->nalerts;
	for (size_t i = e->nalerts; rc == 0 && i-- > 0;) {
		struct alert *a = &e->alerts[i];
		if (seen[i])
			continue;
		struct alert_rule *r = alert_rules_find(&e->rules, a->rule);
		bool gone = !r || r->disabled;
		bool gpu_present = false;
		for (size_t g = 0; g < n; g++)
			gpu_present |= strcmp(gpus[g].uuid, a->uuid) == 0;
		double keep = r ? r->keep_firing_for_s : 0;
		if (a->state == ALERT_STATE_FIRING && !gone && !gpu_present &&
		    now - a->last_true < keep - 1e-6)
			continue;
		rc = resolve(e, i, now, events, nevents);
	}
	if (e->nalerts != had)
		reindex(e, e->nalerts); /* removals moved alerts; never fails (no growth) */
	free(seen);
	free(ring);
	/* Rings of GPUs that left (hot unplug, a different scenario) are freed. */
	for (size_t i = e->nrings; i-- > 0;)
		if (!e->rings[i].seen) {
			free(e->rings[i].s);
			e->rings[i] = e->rings[--e->nrings];
		}
	return rc ? -1 : (int)(*nevents - before);
}

const struct alert *alert_engine_active(const struct alert_engine *e, size_t *n)
{
	*n = e->nalerts;
	return e->alerts;
}

const char *alert_label(const struct alert *a, const char *name)
{
	for (size_t i = 0; i < a->nlabels; i++)
		if (strcmp(a->labels[i].name, name) == 0)
			return a->labels[i].value;
	return NULL;
}

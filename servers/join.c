/* join.c - which processes are servers (discovery) and which GPUs each server holds, with
 * its share of each; and, per poll, what those GPUs did (energy, GPU-, SM- and busy
 * seconds) folded into each server's counters (servers.h, docs/servers.md). */
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "series/snapshot.h"
#include "series/process_table.h"
#include "servers/discover.h"
#include "servers/internal.h"

/* --- the pid -> listening ports cache ------------------------------------------------ */

/* A known server's children that are known servers too lend it their ports: TGI's
 * launcher is the GPU shards' parent, its router (a sibling of the shards) listens. */
static void add_child_ports(struct servers *s, struct pidports *p)
{
	int kids[16];
	size_t nk = discover_children(s->host_root, p->pid, kids, 16);
	for (size_t i = 0; i < nk && p->nports < PIDPORT_PORTS; i++) {
		if (!discover_known_server(s->host_root, kids[i]))
			continue;
		unsigned ports[PIDPORT_PORTS];
		size_t np = discover_ports(s->host_root, kids[i], ports, PIDPORT_PORTS);
		for (size_t j = 0; j < np && p->nports < PIDPORT_PORTS; j++) {
			unsigned k = 0;
			while (k < p->nports && p->ports[k] != ports[j])
				k++;
			if (k == p->nports)
				p->ports[p->nports++] = ports[j];
		}
	}
	/* lowest first, as discover_ports gives them: the API port before a metrics one */
	for (unsigned i = 1; i < p->nports; i++)
		for (unsigned j = i; j > 0 && p->ports[j] < p->ports[j - 1]; j--) {
			unsigned t = p->ports[j];
			p->ports[j] = p->ports[j - 1];
			p->ports[j - 1] = t;
		}
}

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
		p->nports = (unsigned)discover_ports(s->host_root, pid, p->ports, PIDPORT_PORTS);
		p->known = discover_known_server(s->host_root, pid);
		p->reachable = discover_address(s->host_root, pid, p->addr, sizeof(p->addr));
		p->probed = false;
		if (p->known)
			add_child_ports(s, p);
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

static struct target *add_discovered(struct servers *s, int pid, const char *addr, unsigned port,
                                     double now)
{
	for (unsigned i = 0; i < s->ntargets; i++)
		if ((s->targets[i].port == port && s->targets[i].local &&
		     strcmp(addr, "127.0.0.1") == 0) ||
		    s->targets[i].pid == pid)
			return NULL; /* configured already, found through another process, or
			              * another port of the same server (TGI's API and metrics
			              * ports both answer /metrics; the lowest is kept) */
	char url[96], err[160];
	snprintf(url, sizeof(url), "http://%s:%u/metrics", addr, port);
	struct target *t = target_slot(s); /* NULL: SERVERS_MAX already */
	if (!t)
		return NULL;
	if (target_init(t, url, err, sizeof(err)) != 0 || target_alloc(s, t) != 0) {
		target_free(t);
		return NULL;
	}
	t->discovered = true;
	t->pid = pid;
	s->ntargets++;
	return t;
}

/* Asks each listening port of p for /metrics (on its container's address when it is in
 * another network namespace); a known server's names make it a target.  The handle is made
 * at the first port, so a node without candidates never loads libcurl (http/libcurl.c). */
static void probe_ports(struct servers *s, CURL **c, const struct pidports *p, double now)
{
	if (p->nports && p->reachable && !*c)
		*c = curl_easy_init();
	for (unsigned k = 0; k < p->nports && p->reachable && *c; k++) {
		char url[96], why[160];
		snprintf(url, sizeof(url), "http://%s:%u/metrics", p->addr, p->ports[k]);
		struct server_reading *r = malloc(sizeof(*r));
		const char *bad;
		if (r && servers_fetch(s, *c, url, 1.0, why, sizeof(why)) == 0 &&
		    server_reading_parse(s->probe.data, s->probe.len, r, &bad) == 0)
			add_discovered(s, p->pid, p->addr, p->ports[k], now);
		free(r);
	}
}

void servers_discover(struct servers *s, const struct board_snapshot *snap, double now)
{
	CURL *c = NULL;
	for (unsigned g = 0; g < snap->count; g++) {
		const struct process_table *pt = snap->gpus[g].procs;
		for (unsigned i = 0; pt && i < pt->n; i++) {
			int pid = pt->proc[i].pid;
			/* the GPU process itself, and ancestors whose command line names a server
			 */
			for (int gen = 0; gen < 3 && pid > 1; gen++) {
				struct pidports *p = pid_info(s, pid, now);
				if (!p->probed && (gen == 0 || p->known)) {
					p->probed = true;
					probe_ports(s, &c, p, now);
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
void servers_join(struct servers *s, struct target *t, const struct board_snapshot *snap,
                  double now)
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
void servers_gpu_step(struct servers *s, const struct board_snapshot *snap, double now)
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
			p->sm = sm;
			p->util = util;
		} else if (p->valid) {
			/* polls faster than a second: no new settled second, the last one stands */
			sm = p->sm;
			util = p->util;
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
		size_t ul = 0;
		t->gpu_uuids[0] = 0;
		for (unsigned j = 0; j < t->ngpus; j++) {
			const struct gpu_record *r = &snap->gpus[t->gpus[j]];
			snprintf(t->gpu_model, sizeof(t->gpu_model), "%s", r->id.name);
			if (ul < sizeof(t->gpu_uuids))
				ul += (size_t)snprintf(t->gpu_uuids + ul, sizeof(t->gpu_uuids) - ul,
				                       "%s%s", j ? "," : "", r->id.uuid);
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

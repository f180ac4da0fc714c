/* serve_servers.c - the inference-server flags of `gpuscope serve` (docs/servers.md). */
#include "cmd/serve_servers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "series/time_text.h"
#include "store/recorder.h"

const char serve_servers_usage[] =
    "  --inference-server URL an inference server's metrics endpoint, e.g.\n"
    "                         http://127.0.0.1:8000/metrics (repeatable); a #gpus=0,1\n"
    "                         fragment names its GPUs when its process is not visible\n"
    "  --no-inference-discovery  do not look for servers among the GPUs' processes\n"
    "  --no-inference-servers do not read inference servers at all\n"
    "  --inference-window DUR window of tokens/s, J/token, advice (1s-1h, default 60s;\n"
    "                         lumpy servers need minutes: docs/servers.md)\n"
    "  --inference-poll DUR   how often servers are read (200ms-1m, default 5s)\n"
    "  --price-per-gpu-hour X money per GPU-hour for cost per token (default: list price)\n";

void serve_servers_init(struct serve_servers *p)
{
	memset(p, 0, sizeof(*p));
	servers_config_default(&p->cfg);
}

int serve_servers_take(struct serve_servers *p, int argc, char **argv, int *i, char *err,
                       size_t errlen)
{
	const char *a = argv[*i];
	const char *val = *i + 1 < argc ? argv[*i + 1] : NULL;
	if (strcmp(a, "--no-inference-discovery") == 0) {
		p->cfg.no_discovery = true;
		return 1;
	}
	if (strcmp(a, "--no-inference-servers") == 0) {
		p->off = true;
		return 1;
	}
	bool url = strcmp(a, "--inference-server") == 0;
	bool window = strcmp(a, "--inference-window") == 0;
	bool poll = strcmp(a, "--inference-poll") == 0;
	bool price = strcmp(a, "--price-per-gpu-hour") == 0;
	if (!url && !window && !poll && !price)
		return 0;
	if (!val || !*val) {
		snprintf(err, errlen, "%s needs a value", a);
		return -1;
	}
	++*i;
	if (url) {
		if (p->cfg.nurls == SERVERS_URLS_MAX) {
			snprintf(err, errlen, "--inference-server: at most %d", SERVERS_URLS_MAX);
			return -1;
		}
		p->cfg.urls[p->cfg.nurls++] = val;
	} else if (window || poll) {
		double *d = window ? &p->cfg.window_s : &p->cfg.poll_s;
		double lo = window ? 1 : 0.2, hi = window ? 3600 : 60;
		if (parse_duration(val, d) != 0 || *d < lo || *d > hi) {
			snprintf(err, errlen, "%s '%s': give %s, e.g. %s", a, val,
			         window ? "1s to 1h" : "200ms to 1m", window ? "60s" : "5s");
			return -1;
		}
	} else {
		char *end;
		p->cfg.price_per_gpu_hour = strtod(val, &end);
		if (*end || !(p->cfg.price_per_gpu_hour >= 0) || p->cfg.price_per_gpu_hour > 1e6) {
			snprintf(err, errlen, "--price-per-gpu-hour '%s': give a number, e.g. 3.5",
			         val);
			return -1;
		}
	}
	return 1;
}

static char *hook_servers(void *ctx)
{
	return servers_json(ctx);
}

static char *hook_advice(void *ctx)
{
	return servers_advice_json(ctx);
}

static char *hook_health(void *ctx)
{
	return servers_health_json(ctx);
}

static void hook_metrics(void *ctx, const struct prom_options *o, struct strbuf *out)
{
	servers_prom(ctx, o, out);
}

int serve_servers_start(struct serve_servers *p, struct board *b, const char *host_root,
                        bool simulated)
{
	if (p->off)
		return 0;
	if (p->cfg.poll_s > p->cfg.window_s / 2)
		p->cfg.poll_s = p->cfg.window_s / 2;
	p->cfg.host_root = host_root;
	p->cfg.simulated = simulated;
	char err[256] = "";
	p->reader = servers_start(b, &p->cfg, err, sizeof(err));
	if (!p->reader) {
		fprintf(stderr, "gpuscope: %s\n", err);
		return -1;
	}
	p->hooks = (struct http_server_hooks){.ctx = p->reader,
	                                      .servers = hook_servers,
	                                      .advice = hook_advice,
	                                      .health = hook_health,
	                                      .metrics = hook_metrics};
	return 0;
}

const struct http_server_hooks *serve_servers_hooks(struct serve_servers *p)
{
	return p->reader ? &p->hooks : NULL;
}

void serve_servers_attach_history(struct serve_servers *p, struct recorder *r)
{
	if (!p->reader || !r)
		return;
	p->recorder = r;
	recorder_set_extra(r, servers_history_write, p->reader);
}

void serve_servers_stop(struct serve_servers *p)
{
	recorder_set_extra(p->recorder, NULL, NULL); /* waits for a write in progress */
	p->recorder = NULL;
	servers_stop(p->reader);
	p->reader = NULL;
}

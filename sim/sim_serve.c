/* sim_serve.c - loopback /metrics of the scenario's inference servers (sim_serve.h).
 *
 * One thread polls every listening socket (200 ms, so stop is quick), answers one request
 * per connection and closes it.  A request is read for at most 1 s and 8 KiB; anything is
 * answered with the exposition, since only the agent calls.
 */
#include "sim/sim_serve.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/sim_func.h"

#define SERVE_STEP_S 0.1 /* integration step, scenario seconds */
#define SERVE_MAX    64

struct served {
	const struct sim_process *p;
	int fd;
	unsigned port;
	unsigned long inode;
	double t; /* integrated up to */
	double tokens, requests, preempt;
};

struct sim_serve {
	struct served s[SERVE_MAX];
	size_t n;
	sim_serve_clock clock;
	void *ctx;
	pthread_t thread;
	atomic_bool stop;
	char *buf;
	size_t cap;
};

static double f_at(const sim_func *f, double t, double dflt)
{
	double v = f ? sim_func_eval(f, t) : NAN;
	return isfinite(v) ? v : dflt;
}

/* Counters up to scenario time t (midpoint rule, clamped at zero). */
static void advance(struct served *v, double t)
{
	const struct sim_server *sv = v->p->server;
	double a = fmax(v->t, v->p->from), b = fmin(t, v->p->until);
	if (b > a) {
		int steps = (int)ceil((b - a) / SERVE_STEP_S);
		if (steps > 100000)
			steps = 100000;
		double dt = (b - a) / steps;
		for (int i = 0; i < steps; i++) {
			double m = a + (i + 0.5) * dt;
			v->tokens += fmax(0, f_at(sv->tokens_per_s, m, 0)) * dt;
			v->requests += fmax(0, f_at(sv->requests_per_s, m, 0)) * dt;
		}
	}
	if (t > v->t)
		v->t = t;
}

static int put(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int put(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *len, *len < cap ? cap - *len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len += (size_t)n;
	return n;
}

/* One histogram where every request took `value` seconds (scale: to the server's unit). */
static void hist(char *b, size_t cap, size_t *len, const char *name, const char *labels,
                 double value, double count, double scale)
{
	static const double le[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
	put(b, cap, len, "# TYPE %s histogram\n", name);
	for (size_t i = 0; i < sizeof(le) / sizeof(le[0]); i++)
		put(b, cap, len, "%s_bucket{%sle=\"%g\"} %.0f\n", name, labels, le[i] * scale,
		    value <= le[i] ? count : 0);
	put(b, cap, len, "%s_bucket{%sle=\"+Inf\"} %.0f\n", name, labels, count);
	put(b, cap, len, "%s_sum{%s} %.6f\n%s_count{%s} %.0f\n", name, labels,
	    value * scale * count, name, labels, count);
}

static size_t exposition(struct served *v, double t, char *b, size_t cap)
{
	advance(v, t);
	const struct sim_server *sv = v->p->server;
	double gen = floor(v->tokens), done = floor(v->requests);
	double prompt = done * sv->prompt_tokens_per_request;
	double running = fmax(0, f_at(sv->running, t, 0)),
	       waiting = fmax(0, f_at(sv->waiting, t, 0));
	double kv = fmin(1, fmax(0, f_at(sv->kv_cache, t, 0)));
	double ttft = f_at(sv->ttft_s, t, 0) > 0 ? f_at(sv->ttft_s, t, 0) : 0.05;
	char lab[200], labc[210];
	size_t len = 0;
	if (strcmp(sv->kind, "vllm") == 0 || strcmp(sv->kind, "sglang") == 0) {
		bool vllm = sv->kind[0] == 'v';
		const char *p = vllm ? "vllm" : "sglang";
		snprintf(lab, sizeof(lab), "model_name=\"%s\"", sv->model);
		snprintf(labc, sizeof(labc), "%s,", lab);
		put(b, cap, &len, "# TYPE %s:generation_tokens_total counter\n", p);
		put(b, cap, &len, "%s:generation_tokens_total{%s} %.1f\n", p, lab, gen);
		put(b, cap, &len, "# TYPE %s:prompt_tokens_total counter\n", p);
		put(b, cap, &len, "%s:prompt_tokens_total{%s} %.1f\n", p, lab, prompt);
		if (vllm) {
			put(b, cap, &len, "# TYPE vllm:request_success_total counter\n");
			put(b, cap, &len,
			    "vllm:request_success_total{finished_reason=\"stop\",%s} %.0f\n", lab,
			    done);
			put(b, cap, &len,
			    "vllm:request_success_total{finished_reason=\"abort\",%s} 0\n", lab);
			put(b, cap, &len, "# TYPE vllm:num_preemptions_total counter\n");
			put(b, cap, &len, "vllm:num_preemptions_total{%s} %.0f\n", lab,
			    kv >= 0.97 ? floor(t / 10) : 0);
			put(b, cap, &len, "# TYPE vllm:num_requests_running gauge\n");
			put(b, cap, &len, "vllm:num_requests_running{%s} %g\n", lab, running);
			put(b, cap, &len, "# TYPE vllm:num_requests_waiting gauge\n");
			put(b, cap, &len, "vllm:num_requests_waiting{%s} %g\n", lab, waiting);
			put(b, cap, &len, "# TYPE vllm:kv_cache_usage_perc gauge\n");
			put(b, cap, &len, "vllm:kv_cache_usage_perc{%s} %g\n", lab, kv);
		} else {
			put(b, cap, &len, "sglang:num_requests_total{%s} %.0f\n", lab, done);
			put(b, cap, &len, "sglang:num_running_reqs{%s} %g\n", lab, running);
			put(b, cap, &len, "sglang:num_queue_reqs{%s} %g\n", lab, waiting);
			put(b, cap, &len, "sglang:token_usage{%s} %g\n", lab, kv);
		}
		char name[64];
		snprintf(name, sizeof(name), "%s:time_to_first_token_seconds", p);
		hist(b, cap, &len, name, labc, ttft, done, 1);
	} else if (strcmp(sv->kind, "tgi") == 0) {
		put(b, cap, &len, "# TYPE tgi_request_success counter\ntgi_request_success %.0f\n",
		    done);
		put(b, cap, &len, "# TYPE tgi_queue_size gauge\ntgi_queue_size %g\n", waiting);
		put(b, cap, &len,
		    "# TYPE tgi_batch_current_size gauge\ntgi_batch_current_size %g\n", running);
		put(b, cap, &len,
		    "tgi_batch_current_max_tokens %g\ntgi_batch_max_total_tokens 100000\n",
		    kv * 100000);
		hist(b, cap, &len, "tgi_request_generated_tokens", "", gen / fmax(done, 1), done,
		     1);
		put(b, cap, &len, "tgi_request_input_length_sum %.1f\n", prompt);
	} else if (strcmp(sv->kind, "triton") == 0) {
		snprintf(lab, sizeof(lab), "model=\"%s\",version=\"1\"", sv->model);
		snprintf(labc, sizeof(labc), "%s,", lab);
		put(b, cap, &len, "nv_inference_request_success{%s} %.0f\n", lab, done);
		put(b, cap, &len, "nv_inference_count{%s} %.0f\n", lab, done);
		put(b, cap, &len, "nv_inference_exec_count{%s} %.0f\n", lab,
		    running > 1 ? floor(done / running) : done);
		put(b, cap, &len, "nv_inference_pending_request_count{%s} %g\n", lab, waiting);
		put(b, cap, &len, "nv_trt_llm_request_metrics{%s,request_type=\"active\"} %g\n",
		    lab, running);
		put(b, cap, &len,
		    "nv_trt_llm_kv_cache_block_metrics{%s,kv_cache_block_type=\"fraction\"} %g\n",
		    lab, kv);
		put(b, cap, &len,
		    "nv_llm_output_token_len_sum{%s,response_metric_type=\"total_output_tokens\"} "
		    "%.1f\n",
		    lab, gen);
		hist(b, cap, &len, "nv_inference_first_response_histogram_ms", labc, ttft, done,
		     1000);
	} else {
		put(b, cap, &len, "llamacpp:prompt_tokens_total %.0f\n", prompt);
		put(b, cap, &len, "llamacpp:tokens_predicted_total %.0f\n", gen);
		put(b, cap, &len, "llamacpp:requests_processing %g\n", running);
		put(b, cap, &len, "llamacpp:requests_deferred %g\n", waiting);
	}
	return len < cap ? len : cap - 1;
}

static void answer(struct sim_serve *s, struct served *v)
{
	int c = accept(v->fd, NULL, NULL);
	if (c < 0)
		return;
	struct timeval tv = {1, 0};
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	char req[8192];
	size_t got = 0;
	while (got < sizeof(req) - 1) {
		ssize_t r = recv(c, req + got, sizeof(req) - 1 - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
		req[got] = 0;
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	size_t len = exposition(v, s->clock(s->ctx), s->buf, s->cap);
	char head[160];
	int hl = snprintf(head, sizeof(head),
	                  "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
	                  "Content-Length: %zu\r\nConnection: close\r\n\r\n",
	                  len);
	if (send(c, head, (size_t)hl, MSG_NOSIGNAL) == hl)
		send(c, s->buf, len, MSG_NOSIGNAL);
	close(c);
}

static void *serve_thread(void *arg)
{
	struct sim_serve *s = arg;
	pthread_setname_np(pthread_self(), "gpuscope-simsrv");
	struct pollfd pf[SERVE_MAX];
	for (size_t i = 0; i < s->n; i++)
		pf[i] = (struct pollfd){.fd = s->s[i].fd, .events = POLLIN};
	while (!atomic_load(&s->stop)) {
		if (poll(pf, s->n, 200) <= 0)
			continue;
		for (size_t i = 0; i < s->n; i++)
			if (pf[i].revents & POLLIN)
				answer(s, &s->s[i]);
	}
	return NULL;
}

struct sim_serve *sim_serve_start(const struct sim_process *const *procs, size_t n,
                                  sim_serve_clock clock, void *ctx, char *err, size_t errlen)
{
	struct sim_serve *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->clock = clock;
	s->ctx = ctx;
	s->cap = 64 * 1024;
	s->buf = malloc(s->cap);
	for (size_t i = 0; i < n && s->n < SERVE_MAX && s->buf; i++) {
		if (!procs[i]->server)
			continue;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = {.sin_family = AF_INET,
		                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t al = sizeof(a);
		struct stat st;
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
		    listen(fd, 16) != 0 || getsockname(fd, (struct sockaddr *)&a, &al) != 0 ||
		    fstat(fd, &st) != 0) {
			snprintf(err, errlen,
			         "simulated inference server: cannot listen on 127.0.0.1");
			if (fd >= 0)
				close(fd);
			continue;
		}
		s->s[s->n++] = (struct served){.p = procs[i],
		                               .fd = fd,
		                               .port = ntohs(a.sin_port),
		                               .inode = (unsigned long)st.st_ino};
	}
	if (!s->n || pthread_create(&s->thread, NULL, serve_thread, s) != 0) {
		for (size_t i = 0; i < s->n; i++)
			close(s->s[i].fd);
		free(s->buf);
		free(s);
		return NULL;
	}
	return s;
}

unsigned sim_serve_port(const struct sim_serve *s, unsigned pid, unsigned long *inode)
{
	for (size_t i = 0; s && i < s->n; i++)
		if (s->s[i].p->pid == pid) {
			*inode = s->s[i].inode;
			return s->s[i].port;
		}
	return 0;
}

void sim_serve_stop(struct sim_serve *s)
{
	if (!s)
		return;
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	for (size_t i = 0; i < s->n; i++)
		close(s->s[i].fd);
	free(s->buf);
	free(s);
}

/* emit.c - JSON lines and the non-blocking datagram to the agent (see emit.h). */
#include "inject/emit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

size_t emit_json_escape(const char *s, char *buf, size_t cap)
{
	size_t n = 0;
	for (; *s && n + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)c;
		} else if (c < 0x20) {
			n += (size_t)snprintf(buf + n, cap - n, "\\u%04x", c);
		} else {
			buf[n++] = (char)c;
		}
	}
	if (cap)
		buf[n < cap ? n : cap - 1] = '\0';
	return n;
}

void emit_gpu_token(const struct emit_meta *m, int device, char *out, size_t cap)
{
	out[0] = '\0';
	if (device < 0)
		return;
	if (!m->has_visible) {
		snprintf(out, cap, "%d", device);
		return;
	}
	const char *p = m->visible;
	for (int k = 0; k < device && p; k++) {
		p = strchr(p, ',');
		if (p)
			p++;
	}
	if (!p)
		return;
	size_t n = strcspn(p, ",");
	while (n && p[n - 1] == ' ')
		n--;
	while (n && *p == ' ')
		p++, n--;
	snprintf(out, cap, "%.*s", (int)n, p);
}

static double sec(uint64_t ns)
{
	return (double)ns / 1e9;
}

size_t emit_format_inference(const struct seg_inference *inf, const struct emit_meta *m, char *buf,
                             size_t cap)
{
	char name[2 * SEG_NAME_MAX * 3], proc[sizeof(m->process) * 6], gpu[128], gpu_json[800];
	emit_json_escape(inf->name, name, sizeof(name));
	emit_gpu_token(m, inf->device, gpu, sizeof(gpu));
	emit_json_escape(gpu, gpu_json, sizeof(gpu_json));
	emit_json_escape(m->process, proc, sizeof(proc));
	uint64_t lat = inf->end > inf->start ? inf->end - inf->start : 0;
	char prev[48] = "null";
	if (inf->has_previous)
		snprintf(prev, sizeof(prev), "%.9f", sec(inf->since_previous));
	int n = snprintf(
	    buf, cap,
	    "{\"type\":\"inference\",\"pid\":%d,\"process\":\"%s\",\"range\":\"%s\","
	    "\"boundary\":\"%s\",\"complete\":%s,\"seq\":%llu,\"device\":%d,\"gpu\":\"%s\","
	    "\"start_unix_ns\":%lld,\"end_unix_ns\":%lld,\"latency_s\":%.9f,"
	    "\"since_previous_s\":%s,\"gpu_busy_s\":%.9f,\"gpu_busy_share\":%.6f,"
	    "\"gpu_any_busy_s\":%.9f,\"kernels\":%llu,\"kernel_mean_s\":%.9f,"
	    "\"launch_gaps\":%llu,\"launch_gap_s\":%.9f,"
	    "\"h2d_bytes\":%llu,\"h2d_s\":%.9f,\"d2h_bytes\":%llu,\"d2h_s\":%.9f,"
	    "\"pageable_bytes\":%llu,\"other_copy_bytes\":%llu,\"memset_bytes\":%llu,"
	    "\"mem_alloc_bytes\":%llu,\"mem_freed_bytes\":%llu,\"mem_peak_bytes\":%llu,"
	    "\"mem_held_after_bytes\":%llu}\n",
	    m->pid, proc, name, inf->nvtx ? "nvtx" : "gap", inf->complete ? "true" : "false",
	    (unsigned long long)inf->seq, inf->device, gpu_json,
	    (long long)((int64_t)inf->start + m->clock_offset),
	    (long long)((int64_t)inf->end + m->clock_offset), sec(lat), prev, sec(inf->gpu_busy),
	    lat ? (double)inf->gpu_busy / (double)lat : 0.0, sec(inf->gpu_any_busy),
	    (unsigned long long)inf->kernels,
	    inf->kernels ? sec(inf->kernel_time) / (double)inf->kernels : 0.0,
	    (unsigned long long)inf->launch_gaps, sec(inf->launch_gap_time),
	    (unsigned long long)inf->h2d_bytes, sec(inf->h2d_time),
	    (unsigned long long)inf->d2h_bytes, sec(inf->d2h_time),
	    (unsigned long long)inf->pageable_bytes, (unsigned long long)inf->other_copy_bytes,
	    (unsigned long long)inf->memset_bytes, (unsigned long long)inf->mem_alloc,
	    (unsigned long long)inf->mem_freed, (unsigned long long)inf->mem_peak,
	    (unsigned long long)inf->mem_held_after);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

void emit_sock_open(struct emit_sock *s, const char *path)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if (!path || !path[0] || strlen(path) >= sizeof(s->addr.sun_path))
		return;
	s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return;
	s->addr.sun_family = AF_UNIX;
	memcpy(s->addr.sun_path, path, strlen(path) + 1);
	s->addr_len = (socklen_t)sizeof(s->addr);
}

void emit_sock_flush(struct emit_sock *s)
{
	if (s->fd < 0 || !s->lines)
		return;
	ssize_t n = sendto(s->fd, s->batch, s->len, MSG_DONTWAIT | MSG_NOSIGNAL,
	                   (const struct sockaddr *)&s->addr, s->addr_len);
	if (n == (ssize_t)s->len)
		s->sent += s->lines;
	else
		s->dropped += s->lines;
	s->len = 0;
	s->lines = 0;
}

void emit_sock_queue(struct emit_sock *s, const char *line, size_t len)
{
	if (s->fd < 0 || len == 0)
		return;
	if (len > sizeof(s->batch)) {
		s->dropped++;
		return;
	}
	if (s->len + len > sizeof(s->batch))
		emit_sock_flush(s);
	memcpy(s->batch + s->len, line, len);
	s->len += len;
	s->lines++;
}

void emit_sock_close(struct emit_sock *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

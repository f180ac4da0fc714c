/* emit.h - where per-inference figures go from inside the program: JSON lines and the agent.
 *
 * One JSON object per line, the same bytes for the per-process file that `gpuscope run`
 * summarises and for the datagrams to the agent (docs/inference.md lists the fields).  The
 * socket is a unix datagram socket, non-blocking: when the agent is absent, slow or its
 * queue is full, the datagram is dropped and counted, and the program never waits.
 * Inferences cut together travel together: up to EMIT_BATCH_BYTES of lines per datagram,
 * because a receive queue holds as few as 10 datagrams (net.unix.max_dgram_qlen) and the
 * flush at exit cuts every inference still pending at once (20 were seen dropped on an H200
 * when each had its own datagram).
 */
#ifndef GPUSCOPE_EMIT_H
#define GPUSCOPE_EMIT_H

#include <stdbool.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "inject/segment.h"

struct emit_meta {
	int pid;
	char process[32];     /* /proc/self/comm */
	int64_t clock_offset; /* unix ns = CUPTI ns + clock_offset */
	bool has_visible;     /* CUDA_VISIBLE_DEVICES was set */
	char visible[256];    /* its value: maps a CUDA ordinal to an NVML index or UUID */
};

/* The NVML name of CUDA device `device` ("0", "GPU-<uuid>", "MIG-..."): the device-th entry
 * of CUDA_VISIBLE_DEVICES when set, else the ordinal itself.  "" when unknown. */
void emit_gpu_token(const struct emit_meta *m, int device, char *out, size_t cap);

/* Writes one JSON line (with its '\n') into buf; returns its length, or 0 if cap is short. */
size_t emit_format_inference(const struct seg_inference *inf, const struct emit_meta *m, char *buf,
                             size_t cap);

/* Appends s to buf as a JSON string body (no quotes), escaping what JSON requires. */
size_t emit_json_escape(const char *s, char *buf, size_t cap);

#define EMIT_BATCH_BYTES 61440

struct emit_sock {
	int fd;
	struct sockaddr_un addr;
	socklen_t addr_len;
	uint64_t sent, dropped; /* inferences (lines), not datagrams */
	char batch[EMIT_BATCH_BYTES];
	size_t len;
	unsigned lines;
};

/* Prepares the socket (no connection: datagrams).  path NULL or "" leaves it off. */
void emit_sock_open(struct emit_sock *s, const char *path);
/* Queues one line for the next datagram (sending the batch first when it is full). */
void emit_sock_queue(struct emit_sock *s, const char *line, size_t len);
/* Sends the queued lines as one datagram without ever blocking; failure is counted. */
void emit_sock_flush(struct emit_sock *s);
void emit_sock_close(struct emit_sock *s);

#endif

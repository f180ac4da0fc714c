/* socket.h - where the inference socket lives, for its two ends: the agent's receiver
 * (receiver.h) binds it, `gpuscope run` points its programs at it. */
#ifndef GPUSCOPE_INFERENCE_SOCKET_H
#define GPUSCOPE_INFERENCE_SOCKET_H

#include <stddef.h>

/* Where `gpuscope run`'s programs send per-inference datagrams and `serve` listens:
 * $XDG_RUNTIME_DIR/gpuscope-inference.sock, else /run/gpuscope/inference.sock for root,
 * else /tmp/gpuscope-UID-inference.sock. */
void inference_socket_default(char *out, size_t len);
/* For senders: the first of those three paths where a socket exists (a root agent serves
 * /run/gpuscope while a user's shell has XDG_RUNTIME_DIR), else the default. */
void inference_socket_find(char *out, size_t len);

#endif

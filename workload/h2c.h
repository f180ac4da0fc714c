/* h2c.h - one unary gRPC call over HTTP/2 cleartext on a unix socket, hand-written.
 *
 * The kubelet's pod-resources API is gRPC on /var/lib/kubelet/pod-resources/kubelet.sock.
 * A gRPC stack (grpc-c, nghttp2, protobuf-c) for one call a minute was judged too much
 * weight for the agent; one request on one stream needs only a small part of HTTP/2:
 *   send: the client preface, SETTINGS (no push, a large window), a connection
 *         WINDOW_UPDATE, HEADERS with literal fields (no Huffman, no dynamic table) and one
 *         DATA frame carrying the 5-byte gRPC prefix and the message;
 *   read: frames until the stream ends: acknowledge SETTINGS, answer PING, collect DATA,
 *         skip HEADERS/CONTINUATION without decoding HPACK (gRPC status is inferred: a
 *         complete message means success), fail on RST_STREAM or GOAWAY before the end.
 * Every socket operation runs under one deadline (poll), so a hung kubelet costs at most
 * timeout_ms of the background refresh thread. */
#ifndef GPUSCOPE_WORKLOAD_H2C_H
#define GPUSCOPE_WORKLOAD_H2C_H

#include <stddef.h>
#include <stdint.h>

enum h2c_result {
	H2C_OK = 0,
	H2C_CONNECT,    /* socket missing or refused */
	H2C_TIMEOUT,    /* the deadline passed */
	H2C_IO,         /* read/write error, or the peer closed early */
	H2C_PROTOCOL,   /* a frame we cannot accept, RST_STREAM, GOAWAY, a bad gRPC prefix */
	H2C_NO_MESSAGE, /* the stream ended without a message (a gRPC error status) */
	H2C_TOO_LARGE,  /* the response passed H2C_MAX_RESPONSE */
	H2C_NOMEM,
};

#define H2C_MAX_RESPONSE (16u << 20)

/* Calls `path` ("/package.Service/Method") with the serialized request message. On H2C_OK
 * *response (malloc'd, caller frees) holds the response message without its gRPC prefix. */
enum h2c_result h2c_grpc_unary(const char *socket_path, const char *path, const uint8_t *request,
                               size_t request_len, unsigned timeout_ms, uint8_t **response,
                               size_t *response_len);

/* What h2c_grpc_unary does with the server's side of the connection, from bytes in memory
 * (the frames after the request; replies are dropped): the fuzz target's entry point. */
enum h2c_result h2c_decode_response(const uint8_t *frames, size_t len, uint8_t **response,
                                    size_t *response_len);

const char *h2c_result_name(enum h2c_result r);

/* Writes an HPACK "literal header field without indexing, new name" (no Huffman) into out.
 * Returns the bytes written, 0 when it does not fit. Exposed for the tests. */
size_t h2c_hpack_literal(uint8_t *out, size_t cap, const char *name, const char *value);

#endif

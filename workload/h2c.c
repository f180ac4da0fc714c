/* h2c.c - HTTP/2 framing for one unary gRPC call; see h2c.h for what is and is not done.
 *
 * Frame layout (RFC 9113 section 4.1): 24-bit length, 8-bit type, 8-bit flags, 31-bit
 * stream id, payload. We use stream 1 only. We never advertise a larger
 * SETTINGS_MAX_FRAME_SIZE, so a conformant server sends frames of at most 16384 bytes;
 * anything bigger is refused rather than buffered. */
#include "workload/h2c.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum {
	FRAME_DATA = 0x0,
	FRAME_HEADERS = 0x1,
	FRAME_RST_STREAM = 0x3,
	FRAME_SETTINGS = 0x4,
	FRAME_PING = 0x6,
	FRAME_GOAWAY = 0x7,
	FRAME_WINDOW_UPDATE = 0x8,
};
enum {
	FLAG_END_STREAM = 0x1,
	FLAG_ACK = 0x1,
	FLAG_END_HEADERS = 0x4,
	FLAG_PADDED = 0x8,
	FLAG_PRIORITY = 0x20,
};
#define MAX_FRAME      16384u
#define STREAM_ID      1u
#define BIG_WINDOW     0x7fffffffu
#define DEFAULT_WINDOW 65535u

/* A socket under a deadline, or (fd < 0) bytes in memory that h2c_decode_response reads
 * the same way, so the frame reader the kubelet reaches is the one the fuzzer reaches. */
struct conn {
	int fd;
	int64_t deadline_ms;
	const uint8_t *mem;
	size_t mem_len, mem_off;
};

static int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for the socket to be ready for `events` before the deadline. */
static enum h2c_result wait_ready(struct conn *c, short events)
{
	for (;;) {
		int64_t left = c->deadline_ms - monotonic_ms();
		if (left <= 0)
			return H2C_TIMEOUT;
		struct pollfd pfd = {.fd = c->fd, .events = events};
		int n = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
		if (n > 0)
			return H2C_OK;
		if (n < 0 && errno != EINTR)
			return H2C_IO;
	}
}

static enum h2c_result send_all(struct conn *c, const uint8_t *p, size_t n)
{
	if (c->fd < 0)
		return H2C_OK; /* in memory: replies (SETTINGS and PING acks) go nowhere */
	while (n > 0) {
		ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
		if (k > 0) {
			p += k;
			n -= (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			enum h2c_result r = wait_ready(c, POLLOUT);
			if (r != H2C_OK)
				return r;
			continue;
		}
		return H2C_IO;
	}
	return H2C_OK;
}

static enum h2c_result recv_all(struct conn *c, uint8_t *p, size_t n)
{
	if (c->fd < 0) {
		if (n > c->mem_len - c->mem_off)
			return H2C_IO;
		if (n)
			memcpy(p, c->mem + c->mem_off, n);
		c->mem_off += n;
		return H2C_OK;
	}
	while (n > 0) {
		ssize_t k = recv(c->fd, p, n, 0);
		if (k > 0) {
			p += k;
			n -= (size_t)k;
			continue;
		}
		if (k == 0)
			return H2C_IO; /* closed before the stream ended */
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			enum h2c_result r = wait_ready(c, POLLIN);
			if (r != H2C_OK)
				return r;
			continue;
		}
		return H2C_IO;
	}
	return H2C_OK;
}

static void put_frame_header(uint8_t *h, size_t len, uint8_t type, uint8_t flags, uint32_t stream)
{
	assert(len < (1u << 24));
	h[0] = (uint8_t)(len >> 16);
	h[1] = (uint8_t)(len >> 8);
	h[2] = (uint8_t)len;
	h[3] = type;
	h[4] = flags;
	h[5] = (uint8_t)(stream >> 24 & 0x7f);
	h[6] = (uint8_t)(stream >> 16);
	h[7] = (uint8_t)(stream >> 8);
	h[8] = (uint8_t)stream;
}

static enum h2c_result send_frame(struct conn *c, uint8_t type, uint8_t flags, uint32_t stream,
                                  const uint8_t *payload, size_t len)
{
	uint8_t h[9];
	put_frame_header(h, len, type, flags, stream);
	enum h2c_result r = send_all(c, h, sizeof(h));
	if (r == H2C_OK && len)
		r = send_all(c, payload, len);
	return r;
}

/* HPACK integer with an n-bit prefix (RFC 7541 section 5.1). */
static size_t hpack_int(uint8_t *out, size_t cap, uint8_t first, unsigned prefix_bits, size_t v)
{
	size_t max_prefix = (1u << prefix_bits) - 1;
	if (cap == 0)
		return 0;
	if (v < max_prefix) {
		out[0] = (uint8_t)(first | v);
		return 1;
	}
	out[0] = (uint8_t)(first | max_prefix);
	size_t n = 1;
	v -= max_prefix;
	while (v >= 128) {
		if (n >= cap)
			return 0;
		out[n++] = (uint8_t)(v % 128 + 128);
		v /= 128;
	}
	if (n >= cap)
		return 0;
	out[n++] = (uint8_t)v;
	return n;
}

size_t h2c_hpack_literal(uint8_t *out, size_t cap, const char *name, const char *value)
{
	size_t name_len = strlen(name), value_len = strlen(value);
	size_t n = 0, k;
	if (cap < 1)
		return 0;
	out[n++] = 0x00; /* literal without indexing, new name */
	if (!(k = hpack_int(out + n, cap - n, 0x00, 7, name_len)) || cap - n - k < name_len)
		return 0;
	n += k;
	memcpy(out + n, name, name_len);
	n += name_len;
	if (!(k = hpack_int(out + n, cap - n, 0x00, 7, value_len)) || cap - n - k < value_len)
		return 0;
	n += k;
	memcpy(out + n, value, value_len);
	return n + value_len;
}

static enum h2c_result send_request(struct conn *c, const char *path, const uint8_t *request,
                                    size_t request_len)
{
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	enum h2c_result r = send_all(c, (const uint8_t *)preface, sizeof(preface) - 1);
	if (r != H2C_OK)
		return r;
	/* SETTINGS: ENABLE_PUSH (2) = 0, INITIAL_WINDOW_SIZE (4) = 2^31-1. */
	const uint8_t settings[] = {0, 2, 0, 0, 0, 0, 0, 4, 0x7f, 0xff, 0xff, 0xff};
	if ((r = send_frame(c, FRAME_SETTINGS, 0, 0, settings, sizeof(settings))) != H2C_OK)
		return r;
	uint32_t inc = BIG_WINDOW - DEFAULT_WINDOW;
	const uint8_t window[] = {(uint8_t)(inc >> 24), (uint8_t)(inc >> 16), (uint8_t)(inc >> 8),
	                          (uint8_t)inc};
	if ((r = send_frame(c, FRAME_WINDOW_UPDATE, 0, 0, window, sizeof(window))) != H2C_OK)
		return r;

	uint8_t block[1024];
	size_t n = 0;
	const char *fields[][2] = {
	    {":method", "POST"},
	    {":scheme", "http"},
	    {":path", path},
	    {":authority", "localhost"},
	    {"content-type", "application/grpc"},
	    {"te", "trailers"},
	    {"user-agent", "gpuscope-h2c"},
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		size_t k =
		    h2c_hpack_literal(block + n, sizeof(block) - n, fields[i][0], fields[i][1]);
		if (!k)
			return H2C_PROTOCOL;
		n += k;
	}
	if ((r = send_frame(c, FRAME_HEADERS, FLAG_END_HEADERS, STREAM_ID, block, n)) != H2C_OK)
		return r;

	/* gRPC message prefix: not compressed, 32-bit big-endian length. */
	if (request_len > MAX_FRAME - 5)
		return H2C_PROTOCOL;
	uint8_t data[MAX_FRAME];
	data[0] = 0;
	data[1] = (uint8_t)(request_len >> 24);
	data[2] = (uint8_t)(request_len >> 16);
	data[3] = (uint8_t)(request_len >> 8);
	data[4] = (uint8_t)request_len;
	if (request_len)
		memcpy(data + 5, request, request_len);
	return send_frame(c, FRAME_DATA, FLAG_END_STREAM, STREAM_ID, data, request_len + 5);
}

/* Appends to the growing response body. */
static enum h2c_result append(uint8_t **buf, size_t *len, size_t *cap, const uint8_t *p, size_t n)
{
	if (n == 0) /* an empty DATA frame: nothing to copy, and *buf may still be NULL */
		return H2C_OK;
	if (*len + n > H2C_MAX_RESPONSE + 5)
		return H2C_TOO_LARGE;
	if (*len + n > *cap) {
		size_t new_cap = *cap ? *cap : 4096;
		while (new_cap < *len + n)
			new_cap *= 2;
		uint8_t *q = realloc(*buf, new_cap);
		if (!q)
			return H2C_NOMEM;
		*buf = q;
		*cap = new_cap;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	return H2C_OK;
}

/* Reads frames until stream 1 ends; the DATA payloads accumulate in *body. */
static enum h2c_result read_response(struct conn *c, uint8_t **body, size_t *body_len)
{
	size_t cap = 0;
	uint8_t payload[MAX_FRAME];
	for (;;) {
		uint8_t h[9];
		enum h2c_result r = recv_all(c, h, sizeof(h));
		if (r != H2C_OK)
			return r;
		size_t len = (size_t)h[0] << 16 | (size_t)h[1] << 8 | h[2];
		uint8_t type = h[3], flags = h[4];
		uint32_t stream = ((uint32_t)h[5] & 0x7f) << 24 | (uint32_t)h[6] << 16 |
		                  (uint32_t)h[7] << 8 | h[8];
		if (len > MAX_FRAME)
			return H2C_PROTOCOL;
		if ((r = recv_all(c, payload, len)) != H2C_OK)
			return r;
		switch (type) {
		case FRAME_SETTINGS:
			if (stream != 0 || len % 6)
				return H2C_PROTOCOL;
			if (!(flags & FLAG_ACK) &&
			    (r = send_frame(c, FRAME_SETTINGS, FLAG_ACK, 0, NULL, 0)) != H2C_OK)
				return r;
			break;
		case FRAME_PING:
			if (len != 8)
				return H2C_PROTOCOL;
			if (!(flags & FLAG_ACK) &&
			    (r = send_frame(c, FRAME_PING, FLAG_ACK, 0, payload, 8)) != H2C_OK)
				return r;
			break;
		case FRAME_DATA: {
			if (stream != STREAM_ID)
				return H2C_PROTOCOL;
			size_t off = 0, pad = 0;
			if (flags & FLAG_PADDED) {
				if (len < 1 || payload[0] >= len)
					return H2C_PROTOCOL;
				pad = payload[0];
				off = 1;
			}
			if ((r = append(body, body_len, &cap, payload + off, len - off - pad)) !=
			    H2C_OK)
				return r;
			if (flags & FLAG_END_STREAM)
				return H2C_OK;
			break;
		}
		case FRAME_HEADERS:
			/* Response headers or trailers: the HPACK block is not decoded (see h2c.h).
			 * END_STREAM may sit on HEADERS followed by CONTINUATION frames; those
			 * carry nothing we need, so the stream is over either way. */
			if (stream == STREAM_ID && (flags & FLAG_END_STREAM))
				return H2C_OK;
			break;
		case FRAME_RST_STREAM:
			if (stream == STREAM_ID)
				return H2C_PROTOCOL;
			break;
		case FRAME_GOAWAY:
			return H2C_PROTOCOL; /* before our stream ended */
		default:
			break; /* WINDOW_UPDATE, PRIORITY, CONTINUATION, unknown types */
		}
	}
}

/* Takes the one gRPC message out of the DATA bytes (5-byte prefix: compressed flag, length);
 * on success the body becomes the response, else it stays the caller's to free. */
static enum h2c_result unwrap_message(uint8_t *body, size_t body_len, uint8_t **response,
                                      size_t *response_len)
{
	if (body_len == 0)
		return H2C_NO_MESSAGE;
	size_t msg_len = body_len < 5 ? 0
	                              : (size_t)body[1] << 24 | (size_t)body[2] << 16 |
	                                    (size_t)body[3] << 8 | body[4];
	/* short, compressed (we asked for neither) or longer than what came */
	if (body_len < 5 || body[0] != 0 || msg_len > body_len - 5)
		return H2C_PROTOCOL;
	memmove(body, body + 5, msg_len);
	*response = body;
	*response_len = msg_len;
	return H2C_OK;
}

enum h2c_result h2c_decode_response(const uint8_t *frames, size_t len, uint8_t **response,
                                    size_t *response_len)
{
	assert(response && response_len);
	*response = NULL;
	*response_len = 0;
	struct conn c = {.fd = -1, .mem = frames, .mem_len = frames ? len : 0};
	uint8_t *body = NULL;
	size_t body_len = 0;
	enum h2c_result r = read_response(&c, &body, &body_len);
	if (r == H2C_OK)
		r = unwrap_message(body, body_len, response, response_len);
	if (r != H2C_OK)
		free(body);
	return r;
}

enum h2c_result h2c_grpc_unary(const char *socket_path, const char *path, const uint8_t *request,
                               size_t request_len, unsigned timeout_ms, uint8_t **response,
                               size_t *response_len)
{
	assert(socket_path && path && response && response_len);
	*response = NULL;
	*response_len = 0;
	struct conn c = {.fd = -1, .deadline_ms = monotonic_ms() + timeout_ms};
	uint8_t *body = NULL;
	size_t body_len = 0;
	enum h2c_result r;

	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(socket_path) >= sizeof(addr.sun_path))
		return H2C_CONNECT;
	memcpy(addr.sun_path, socket_path, strlen(socket_path) + 1);
	c.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c.fd < 0) {
		r = H2C_CONNECT;
		goto err;
	}
	if (connect(c.fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		if (errno != EAGAIN && errno != EINPROGRESS) {
			r = H2C_CONNECT;
			goto err;
		}
		if ((r = wait_ready(&c, POLLOUT)) != H2C_OK)
			goto err;
	}
	if ((r = send_request(&c, path, request, request_len)) != H2C_OK)
		goto err;
	if ((r = read_response(&c, &body, &body_len)) != H2C_OK ||
	    (r = unwrap_message(body, body_len, response, response_len)) != H2C_OK)
		goto err;
	close(c.fd);
	return H2C_OK;
err:
	free(body);
	if (c.fd >= 0)
		close(c.fd);
	return r;
}

const char *h2c_result_name(enum h2c_result r)
{
	switch (r) {
	case H2C_OK:
		return "ok";
	case H2C_CONNECT:
		return "connect";
	case H2C_TIMEOUT:
		return "timeout";
	case H2C_IO:
		return "io";
	case H2C_PROTOCOL:
		return "protocol";
	case H2C_NO_MESSAGE:
		return "no_message";
	case H2C_TOO_LARGE:
		return "too_large";
	case H2C_NOMEM:
		return "nomem";
	}
	return "unknown";
}

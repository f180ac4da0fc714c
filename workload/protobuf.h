/* protobuf.h - a minimal protocol-buffers wire-format reader.
 *
 * Enough to walk one known message (the kubelet's ListPodResourcesResponse) without a
 * generated parser or a library: fields come out one at a time as (number, wire type,
 * value); nested messages are read by starting a new reader on a field's bytes. Unknown
 * fields are skipped by their wire type, so newer kubelets that add fields still parse.
 * Groups (wire types 3 and 4, deprecated since proto2) are refused. Never allocates, never
 * reads outside [p, end). */
#ifndef GPUSCOPE_WORKLOAD_PROTOBUF_H
#define GPUSCOPE_WORKLOAD_PROTOBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pb_wire_type {
	PB_VARINT = 0,
	PB_FIXED64 = 1,
	PB_LEN = 2, /* strings, bytes, nested messages, packed repeated */
	PB_FIXED32 = 5,
};

struct pb_reader {
	const uint8_t *p;
	const uint8_t *end;
};

struct pb_field {
	uint32_t number;
	enum pb_wire_type type;
	uint64_t value;      /* PB_VARINT, PB_FIXED64, PB_FIXED32 */
	const uint8_t *data; /* PB_LEN */
	size_t len;          /* PB_LEN */
};

void pb_reader_init(struct pb_reader *r, const void *data, size_t len);

/* Reads the next field. Returns 1 with *f filled, 0 at the end of the message, -1 on
 * malformed input (truncated varint, length past the end, group or reserved wire type,
 * field number 0). */
int pb_next(struct pb_reader *r, struct pb_field *f);

/* A PB_LEN field's bytes as a NUL-terminated string in out (truncated to out_cap - 1).
 * Returns false when f is not PB_LEN. */
bool pb_copy_string(const struct pb_field *f, char *out, size_t out_cap);

#endif

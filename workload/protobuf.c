/* protobuf.c - the wire-format reader; see protobuf.h. */
#include "workload/protobuf.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>

void pb_reader_init(struct pb_reader *r, const void *data, size_t len)
{
	assert(r && (data || len == 0));
	r->p = data;
	r->end = r->p + len;
}

static bool read_varint(struct pb_reader *r, uint64_t *out)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end)
			return false;
		uint8_t b = *r->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return true;
		}
	}
	return false; /* more than 10 bytes */
}

static bool read_fixed(struct pb_reader *r, unsigned bytes, uint64_t *out)
{
	if ((size_t)(r->end - r->p) < bytes)
		return false;
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)r->p[i] << (8 * i); /* little-endian on the wire */
	r->p += bytes;
	*out = v;
	return true;
}

int pb_next(struct pb_reader *r, struct pb_field *f)
{
	assert(r && f);
	if (r->p >= r->end)
		return 0;
	uint64_t key;
	if (!read_varint(r, &key))
		return -1;
	uint64_t number = key >> 3;
	if (number == 0 || number > 0x1fffffff)
		return -1;
	memset(f, 0, sizeof(*f));
	f->number = (uint32_t)number;
	switch (key & 7) {
	case PB_VARINT:
		f->type = PB_VARINT;
		return read_varint(r, &f->value) ? 1 : -1;
	case PB_FIXED64:
		f->type = PB_FIXED64;
		return read_fixed(r, 8, &f->value) ? 1 : -1;
	case PB_FIXED32:
		f->type = PB_FIXED32;
		return read_fixed(r, 4, &f->value) ? 1 : -1;
	case PB_LEN: {
		uint64_t len;
		if (!read_varint(r, &len) || len > (uint64_t)(r->end - r->p))
			return -1;
		f->type = PB_LEN;
		f->data = r->p;
		f->len = (size_t)len;
		r->p += len;
		return 1;
	}
	default:
		return -1; /* 3, 4: groups; 6, 7: reserved */
	}
}

bool pb_copy_string(const struct pb_field *f, char *out, size_t out_cap)
{
	assert(f && out && out_cap > 0);
	if (f->type != PB_LEN) {
		out[0] = 0;
		return false;
	}
	size_t n = f->len < out_cap - 1 ? f->len : out_cap - 1;
	if (n)
		memcpy(out, f->data, n);
	out[n] = 0;
	return true;
}

/* records.h - one CUPTI activity record, decoded by byte offset into what the segmenter eats.
 *
 * A pure function over bytes, so the record layouts have one reader, tests feed it records
 * of several versions, and a fuzz target is one small file. */
#ifndef GPUSCOPE_RECORDS_H
#define GPUSCOPE_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "inject/segment.h"

enum rec_what { REC_IGNORE, REC_EVENT, REC_RANGE_START, REC_RANGE_END };

struct rec_decoded {
	enum rec_what what;
	struct seg_event ev; /* REC_EVENT */
	uint32_t range_id;   /* REC_RANGE_* */
	uint64_t ts, thread;
	const char *name; /* REC_RANGE_START: CUPTI's string, valid while the buffer is */
};

/* rec points at a record of at least len bytes (CUPTI hands out whole records; len bounds
 * what we read).  Returns the decoded kind; REC_IGNORE for kinds we do not use and for
 * records too short for their kind. */
enum rec_what rec_decode(const uint8_t *rec, size_t len, struct rec_decoded *out);

#endif

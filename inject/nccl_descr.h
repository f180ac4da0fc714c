/* nccl_descr.h - NCCL profiler event descriptors of every ABI version, read into one shape.
 *
 * NCCL hands startEvent a descriptor laid out per ABI version (nccl_abi.h); these pure
 * functions read what the plugin uses (type, parent, kind, sizes, algorithm, protocol,
 * channels, GPU timer, proxy pid) so the rest of the plugin knows one struct.  Function,
 * algorithm, protocol and datatype come as enums in v1 and as strings from v2 on.
 */
#ifndef GPUSCOPE_NCCL_DESCR_H
#define GPUSCOPE_NCCL_DESCR_H

#include <stdint.h>
#include <sys/types.h>

#include "inject/nccl_agg.h"

struct nccl_descr {
	uint64_t type; /* NCCL_PROFILE_* */
	void *parent;  /* the parent event's handle: ours, except a foreign proxy's */
	enum nccl_kind kind;
	enum nccl_algo algo;
	enum nccl_proto proto;
	uint64_t count, hash, ptimer; /* hash: v1-v3 only; ptimer: kernel channel start, v4+ */
	unsigned type_size;
	int channels; /* announced channels (v3: nMaxChannels) */
	pid_t pid;    /* a proxy operation's process */
};

void nccl_descr_read_v1(const void *descr, struct nccl_descr *out);
void nccl_descr_read_v2(const void *descr, struct nccl_descr *out);
void nccl_descr_read_v3(const void *descr, struct nccl_descr *out);
void nccl_descr_read_v4(const void *descr, struct nccl_descr *out);
void nccl_descr_read_v5(const void *descr, struct nccl_descr *out); /* and v6 */

#endif

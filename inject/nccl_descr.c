/* nccl_descr.c - read each ABI version's descriptor (see nccl_descr.h). */
#include "inject/nccl_descr.h"

#include "inject/nccl_abi.h"

void nccl_descr_read_v1(const void *descr, struct nccl_descr *out)
{
	const struct nccl_descr_v1 *e = descr;
	struct nccl_descr d = {.type = e->type, .parent = e->parentObj, .pid = e->proxyOp.pid};
	if (e->type == NCCL_PROFILE_COLL) {
		d.kind = nccl_kind_of_v1(e->coll.func);
		d.algo = nccl_algo_of_v1(e->coll.algo);
		d.proto = nccl_proto_of_v1(e->coll.proto);
		d.count = e->coll.count;
		d.type_size = nccl_type_size_v1(e->coll.datatype);
		d.hash = e->coll.commHash;
	} else if (e->type == NCCL_PROFILE_P2P) {
		d.kind = nccl_kind_of_v1(e->p2p.func);
		d.count = e->p2p.count;
		d.type_size = nccl_type_size_v1(e->p2p.datatype);
		d.hash = e->p2p.commHash;
	}
	*out = d;
}

void nccl_descr_read_v2(const void *descr, struct nccl_descr *out)
{
	const struct nccl_descr_v2 *e = descr;
	struct nccl_descr d = {.type = e->type, .parent = e->parentObj, .pid = e->proxyOp.pid};
	if (e->type == NCCL_PROFILE_COLL) {
		d.kind = nccl_kind_of(e->coll.func);
		d.algo = nccl_algo_of(e->coll.algo);
		d.proto = nccl_proto_of(e->coll.proto);
		d.count = e->coll.count;
		d.type_size = nccl_type_size(e->coll.datatype);
		d.hash = e->coll.commHash;
	} else if (e->type == NCCL_PROFILE_P2P) {
		d.kind = nccl_kind_of(e->p2p.func);
		d.count = e->p2p.count;
		d.type_size = nccl_type_size(e->p2p.datatype);
		d.hash = e->p2p.commHash;
	}
	*out = d;
}

void nccl_descr_read_v3(const void *descr, struct nccl_descr *out)
{
	const struct nccl_descr_v3 *e = descr;
	struct nccl_descr d = {.type = e->type, .parent = e->parentObj, .pid = e->proxyOp.pid};
	if (e->type == NCCL_PROFILE_COLL) {
		d.kind = nccl_kind_of(e->coll.func);
		d.algo = nccl_algo_of(e->coll.algo);
		d.proto = nccl_proto_of(e->coll.proto);
		d.count = e->coll.count;
		d.type_size = nccl_type_size(e->coll.datatype);
		d.hash = e->coll.commHash;
		d.channels = e->coll.nMaxChannels;
	} else if (e->type == NCCL_PROFILE_P2P) {
		d.kind = nccl_kind_of(e->p2p.func);
		d.count = e->p2p.count;
		d.type_size = nccl_type_size(e->p2p.datatype);
		d.hash = e->p2p.commHash;
	}
	*out = d;
}

/* v4's descriptor differs from v5's only in the width of `type` (padding to 8 either way),
 * so from `parentObj` on both are read through the v5 layout (static asserts in nccl_abi.h). */
static void fill_v4(struct nccl_descr *d, const struct nccl_descr_v5 *e)
{
	if (d->type == NCCL_PROFILE_COLL) {
		d->kind = nccl_kind_of(e->coll.func);
		d->algo = nccl_algo_of(e->coll.algo);
		d->proto = nccl_proto_of(e->coll.proto);
		d->count = e->coll.count;
		d->type_size = nccl_type_size(e->coll.datatype);
		d->channels = e->coll.nChannels;
	} else if (d->type == NCCL_PROFILE_P2P) {
		d->kind = nccl_kind_of(e->p2p.func);
		d->count = e->p2p.count;
		d->type_size = nccl_type_size(e->p2p.datatype);
		d->channels = e->p2p.nChannels;
	} else if (d->type == NCCL_PROFILE_KERNEL_CH) {
		d->ptimer = e->kernelCh.pTimer;
	} else if (d->type == NCCL_PROFILE_PROXY_OP) {
		d->pid = e->proxyOp.pid;
	}
}

void nccl_descr_read_v4(const void *descr, struct nccl_descr *out)
{
	const struct nccl_descr_v4 *e = descr;
	struct nccl_descr d = {.type = e->type, .parent = e->parentObj};
	fill_v4(&d, (const struct nccl_descr_v5 *)descr);
	*out = d;
}

void nccl_descr_read_v5(const void *descr, struct nccl_descr *out)
{
	const struct nccl_descr_v5 *e = descr;
	struct nccl_descr d = {.type = e->type, .parent = e->parentObj};
	fill_v4(&d, e);
	*out = d;
}

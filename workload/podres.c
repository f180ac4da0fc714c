/* podres.c - decoding ListPodResourcesResponse; see podres.h.
 *
 *   message ListPodResourcesResponse { repeated PodResources pod_resources = 1; }
 *   message PodResources { string name = 1; string namespace = 2;
 *                          repeated ContainerResources containers = 3; ... }
 *   message ContainerResources { string name = 1; repeated ContainerDevices devices = 2; ... }
 *   message ContainerDevices { string resource_name = 1; repeated string device_ids = 2; ... }
 *
 * Fields may arrive in any order, so a message whose strings qualify its children (a pod's
 * name for its containers) is walked twice: strings first, children second. */
#include "workload/podres.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workload/protobuf.h"

#define NVIDIA_PREFIX "nvidia.com/"

struct builder {
	struct podres_table *t;
	size_t cap;
	int error; /* 0, -1 malformed, -2 out-of-memory */
};

static struct podres_device *push(struct builder *b)
{
	if (b->t->count == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct podres_device *p = realloc(b->t->devices, cap * sizeof(*p));
		if (!p) {
			b->error = -2;
			return NULL;
		}
		b->t->devices = p;
		b->cap = cap;
	}
	struct podres_device *d = &b->t->devices[b->t->count++];
	memset(d, 0, sizeof(*d));
	return d;
}

/* Finds the string field `number` of a message (the last one wins, as in protobuf). */
static bool find_string(const struct pb_field *msg, uint32_t number, char *out, size_t cap)
{
	struct pb_reader r;
	struct pb_field f;
	bool found = false;
	out[0] = 0;
	pb_reader_init(&r, msg->data, msg->len);
	int rc;
	while ((rc = pb_next(&r, &f)) == 1)
		if (f.number == number && f.type == PB_LEN)
			found = pb_copy_string(&f, out, cap);
	return rc == 0 && found;
}

static bool walk_ok(const struct pb_field *msg)
{
	struct pb_reader r;
	struct pb_field f;
	int rc;
	pb_reader_init(&r, msg->data, msg->len);
	while ((rc = pb_next(&r, &f)) == 1)
		;
	return rc == 0;
}

static void parse_devices(struct builder *b, const struct pb_field *devices, const char *ns,
                          const char *pod, const char *container)
{
	char resource[PODRES_RESOURCE_MAX];
	if (!walk_ok(devices)) {
		b->error = -1;
		return;
	}
	find_string(devices, 1, resource, sizeof(resource));
	if (strncmp(resource, NVIDIA_PREFIX, strlen(NVIDIA_PREFIX)) != 0)
		return;
	struct pb_reader r;
	struct pb_field f;
	pb_reader_init(&r, devices->data, devices->len);
	while (!b->error && pb_next(&r, &f) == 1) {
		if (f.number != 2 || f.type != PB_LEN || f.len == 0)
			continue;
		struct podres_device *d = push(b);
		if (!d)
			return;
		pb_copy_string(&f, d->device_id, sizeof(d->device_id));
		memcpy(d->resource, resource, sizeof(d->resource));
		snprintf(d->pod_namespace, sizeof(d->pod_namespace), "%s", ns);
		snprintf(d->pod, sizeof(d->pod), "%s", pod);
		snprintf(d->container, sizeof(d->container), "%s", container);
	}
}

static void parse_container(struct builder *b, const struct pb_field *ctr, const char *ns,
                            const char *pod)
{
	char name[K8S_CONTAINER_MAX];
	if (!walk_ok(ctr)) {
		b->error = -1;
		return;
	}
	find_string(ctr, 1, name, sizeof(name));
	struct pb_reader r;
	struct pb_field f;
	pb_reader_init(&r, ctr->data, ctr->len);
	while (!b->error && pb_next(&r, &f) == 1)
		if (f.number == 2 && f.type == PB_LEN)
			parse_devices(b, &f, ns, pod, name);
}

static void parse_pod(struct builder *b, const struct pb_field *pod)
{
	char name[K8S_POD_MAX], ns[K8S_NAMESPACE_MAX];
	if (!walk_ok(pod)) {
		b->error = -1;
		return;
	}
	find_string(pod, 1, name, sizeof(name));
	find_string(pod, 2, ns, sizeof(ns));
	struct pb_reader r;
	struct pb_field f;
	pb_reader_init(&r, pod->data, pod->len);
	while (!b->error && pb_next(&r, &f) == 1)
		if (f.number == 3 && f.type == PB_LEN)
			parse_container(b, &f, ns, name);
}

static int compare_devices(const void *a, const void *b)
{
	return strcmp(((const struct podres_device *)a)->device_id,
	              ((const struct podres_device *)b)->device_id);
}

int podres_parse(const uint8_t *msg, size_t len, struct podres_table *out)
{
	assert(out);
	memset(out, 0, sizeof(*out));
	struct builder b = {.t = out};
	struct pb_reader r;
	struct pb_field f;
	int rc = 0;
	pb_reader_init(&r, msg, len);
	while (!b.error && (rc = pb_next(&r, &f)) == 1)
		if (f.number == 1 && f.type == PB_LEN)
			parse_pod(&b, &f);
	if (!b.error && rc < 0)
		b.error = -1;
	if (b.error) {
		podres_table_free(out);
		return b.error;
	}
	if (out->count > 1)
		qsort(out->devices, out->count, sizeof(*out->devices), compare_devices);
	return 0;
}

enum h2c_result podres_list(const char *socket_path, unsigned timeout_ms, struct podres_table *out)
{
	assert(socket_path && out);
	memset(out, 0, sizeof(*out));
	uint8_t *msg = NULL;
	size_t len = 0;
	/* ListPodResourcesRequest is empty: a zero-length message. */
	enum h2c_result r =
	    h2c_grpc_unary(socket_path, PODRES_GRPC_PATH, NULL, 0, timeout_ms, &msg, &len);
	if (r != H2C_OK)
		return r;
	int rc = podres_parse(msg, len, out);
	free(msg);
	return rc == 0 ? H2C_OK : rc == -2 ? H2C_NOMEM : H2C_PROTOCOL;
}

void podres_table_free(struct podres_table *t)
{
	if (!t)
		return;
	free(t->devices);
	t->devices = NULL;
	t->count = 0;
}

const struct podres_device *podres_find(const struct podres_table *t, const char *device_id)
{
	if (!t || !t->count || !device_id || !device_id[0])
		return NULL;
	/* Lower bound: the first id >= device_id. */
	size_t lo = 0, hi = t->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(t->devices[mid].device_id, device_id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo >= t->count)
		return NULL;
	const char *id = t->devices[lo].device_id;
	size_t n = strlen(device_id);
	if (strcmp(id, device_id) == 0)
		return &t->devices[lo];
	if (strncmp(id, device_id, n) == 0 && id[n] == ':' && id[n + 1] == ':')
		return &t->devices[lo]; /* time-sliced replica "GPU-x::N" */
	return NULL;
}

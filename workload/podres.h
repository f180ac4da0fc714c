/* podres.h - which pod and container each GPU is allocated to, from the kubelet.
 *
 * The kubelet's PodResourcesLister/List (v1, on the pod-resources unix socket) answers with
 * every pod's containers and the device ids the device plugins gave them; for the NVIDIA
 * device plugin those are GPU UUIDs ("GPU-..."), MIG UUIDs ("MIG-...") or, with time-slicing,
 * "GPU-...::N". That maps a GPU to its pod even when no process of the pod shows up in NVML
 * (an idle but allocated GPU: the most expensive kind). Queried by attrib_refresh, never on
 * a sweep. Only resources named "nvidia.com/..." are kept. */
#ifndef GPUSCOPE_WORKLOAD_PODRES_H
#define GPUSCOPE_WORKLOAD_PODRES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workload/h2c.h"
#include "workload/k8s.h"

#define PODRES_DEVICE_ID_MAX 128
#define PODRES_RESOURCE_MAX  64

#define PODRES_GRPC_PATH "/v1.PodResourcesLister/List"

struct podres_device {
	char device_id[PODRES_DEVICE_ID_MAX];
	char resource[PODRES_RESOURCE_MAX]; /* "nvidia.com/gpu", "nvidia.com/mig-1g.10gb" */
	char pod_namespace[K8S_NAMESPACE_MAX];
	char pod[K8S_POD_MAX];
	char container[K8S_CONTAINER_MAX];
};

struct podres_table {
	struct podres_device *devices; /* sorted by device_id */
	size_t count;
};

/* Decodes a serialized ListPodResourcesResponse. Returns 0, -1 on malformed input (out is
 * then empty), -2 on out-of-memory. */
int podres_parse(const uint8_t *msg, size_t len, struct podres_table *out);

/* Calls the kubelet and decodes its answer. On failure out is empty and the h2c result (or
 * H2C_PROTOCOL for an undecodable message) says why. */
enum h2c_result podres_list(const char *socket_path, unsigned timeout_ms, struct podres_table *out);

void podres_table_free(struct podres_table *t);

/* The allocation of a device id, or NULL. A time-sliced id "GPU-x::3" is found by its
 * "GPU-x" as well (the first replica in sort order). */
const struct podres_device *podres_find(const struct podres_table *t, const char *device_id);

#endif

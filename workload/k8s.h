/* k8s.h - Kubernetes namespace, pod and container names from the kubelet's log layout.
 *
 * Every kubelet writes container logs to
 *   /var/log/pods/<namespace>_<pod>_<pod-uid>/<container>/<restart>.log
 *   /var/log/containers/<pod>_<namespace>_<container>-<container-id>.log
 * so directory names alone map a pod UID (from the cgroup) to its namespace and name, and a
 * container id (also from the cgroup) to its container name, with no API server, token or
 * network. k8s_index_scan reads both directories into an immutable, sorted index; it is
 * called from attrib_refresh off the hot path, and lookups are binary searches.
 * Namespaces, pod names and container names cannot hold '_' (DNS labels/subdomains), which is
 * what makes the split unambiguous. */
#ifndef GPUSCOPE_WORKLOAD_K8S_H
#define GPUSCOPE_WORKLOAD_K8S_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workload/cgroup.h"

#define K8S_NAMESPACE_MAX 64  /* DNS label: 63 */
#define K8S_POD_MAX       254 /* DNS subdomain: 253 */
#define K8S_CONTAINER_MAX 64  /* DNS label: 63 */

struct k8s_pod {
	char uid[CGROUP_POD_UID_LEN + 1];
	char pod_namespace[K8S_NAMESPACE_MAX];
	char name[K8S_POD_MAX];
	uint32_t first_container; /* into k8s_index.container_names */
	uint32_t container_count;
};

struct k8s_container {
	char id[CGROUP_CONTAINER_ID_LEN + 1];
	char name[K8S_CONTAINER_MAX];
	char pod[K8S_POD_MAX];
	char pod_namespace[K8S_NAMESPACE_MAX];
};

struct k8s_index {
	struct k8s_pod *pods; /* sorted by uid */
	size_t pod_count;
	char (*container_names)[K8S_CONTAINER_MAX]; /* per pod, from its log subdirectories */
	size_t container_name_count;
	struct k8s_container *containers; /* sorted by id */
	size_t container_count;
};

/* What a process's labels need. */
struct k8s_names {
	char pod_namespace[K8S_NAMESPACE_MAX];
	char pod[K8S_POD_MAX];
	char container[K8S_CONTAINER_MAX];
};

/* "<namespace>_<pod>_<uid>" -> pod (container fields left 0). */
bool k8s_parse_pod_dir_name(const char *name, struct k8s_pod *out);

/* "<pod>_<namespace>_<container>-<64hex>.log" -> container. */
bool k8s_parse_container_log_name(const char *name, struct k8s_container *out);

/* Scans both directories (either may be NULL or missing: that part of the index is empty).
 * Returns 0, or -1 with errno ENOMEM; out is always valid to free. */
int k8s_index_scan(const char *pod_log_dir, const char *container_log_dir, struct k8s_index *out);

void k8s_index_free(struct k8s_index *idx);

const struct k8s_pod *k8s_find_pod(const struct k8s_index *idx, const char *uid);
const struct k8s_container *k8s_find_container(const struct k8s_index *idx, const char *id);

/* Names for a process from its pod UID and container id (either may be ""). The container
 * name comes from the container log; failing that, from the pod's only container directory.
 * Returns true when the pod or the container was found. */
bool k8s_resolve(const struct k8s_index *idx, const char *pod_uid, const char *container_id,
                 struct k8s_names *out);

#endif

/* attrib_names.h - the name tables behind attribution: users, Kubernetes log index, the
 * kubelet's GPU allocations.
 *
 * Built together off the hot path by attrib_refresh, swapped into place under the
 * attribution's lock, read by sweeps. Building may scan directories and parse files;
 * nothing here is called from a sweep except the lookups on a built set. */
#ifndef GPUSCOPE_WORKLOAD_ATTRIB_NAMES_H
#define GPUSCOPE_WORKLOAD_ATTRIB_NAMES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "workload/h2c.h"
#include "workload/k8s.h"
#include "workload/podres.h"
#include "workload/users.h"

struct attrib_names {
	bool has_users; /* users was (re)loaded; else the current table is kept on swap */
	struct user_table users;
	struct k8s_index k8s;
	struct podres_table devices;
	bool kubelet_queried;           /* the socket existed and was asked */
	enum h2c_result kubelet_result; /* how that went */
};

/* What passwd looked like when last loaded, so an unchanged file is not parsed again. */
struct attrib_names_stamp {
	bool loaded;
	bool present;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct attrib_names_paths {
	const char *passwd;
	const char *pod_log_dir;
	const char *container_log_dir;
	const char *kubelet_socket;
	unsigned kubelet_timeout_ms;
};

/* Builds a fresh set into out (always safe to free). The stamp is updated only on success.
 * Returns 0, or -1 with errno ENOMEM. */
int attrib_names_build(const struct attrib_names_paths *paths, struct attrib_names_stamp *stamp,
                       struct attrib_names *out);

/* Moves fresh's tables into current; fresh receives the replaced ones, to be freed. */
void attrib_names_swap(struct attrib_names *current, struct attrib_names *fresh);

void attrib_names_free(struct attrib_names *names);

#endif

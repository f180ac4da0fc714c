/* attrib_names.c - build, swap and free the name tables; see attrib_names.h. */
#include "workload/attrib_names.h"

#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static bool stamp_matches(const struct attrib_names_stamp *a, const struct attrib_names_stamp *b)
{
	return a->loaded && b->loaded && a->present == b->present && a->dev == b->dev &&
	       a->ino == b->ino && a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec;
}

int attrib_names_build(const struct attrib_names_paths *paths, struct attrib_names_stamp *stamp,
                       struct attrib_names *out)
{
	assert(paths && stamp && out);
	memset(out, 0, sizeof(*out));
	struct attrib_names_stamp now = {.loaded = true};
	struct stat st;
	if (paths->passwd && stat(paths->passwd, &st) == 0) {
		now.present = true;
		now.dev = st.st_dev;
		now.ino = st.st_ino;
		now.size = st.st_size;
		now.mtime = st.st_mtim;
	}
	if (!stamp_matches(stamp, &now)) {
		if (now.present && user_table_load(paths->passwd, &out->users) != 0)
			goto err;
		out->has_users = true; /* possibly empty: passwd went away */
	}
	if (k8s_index_scan(paths->pod_log_dir, paths->container_log_dir, &out->k8s) != 0)
		goto err;
	/* The kubelet: only when its socket is there (not every node runs one). A failed query
	 * leaves the table empty; the names from the log directories still work. */
	if (paths->kubelet_socket && paths->kubelet_socket[0] &&
	    stat(paths->kubelet_socket, &st) == 0 && S_ISSOCK(st.st_mode)) {
		out->kubelet_queried = true;
		out->kubelet_result =
		    podres_list(paths->kubelet_socket, paths->kubelet_timeout_ms, &out->devices);
		if (out->kubelet_result == H2C_NOMEM)
			goto err;
	}
	if (out->has_users)
		*stamp = now;
	return 0;
err:
	attrib_names_free(out);
	errno = ENOMEM;
	return -1;
}

void attrib_names_swap(struct attrib_names *current, struct attrib_names *fresh)
{
	assert(current && fresh);
	if (fresh->has_users) {
		struct user_table t = current->users;
		current->users = fresh->users;
		fresh->users = t;
		current->has_users = true;
	}
	struct k8s_index k = current->k8s;
	current->k8s = fresh->k8s;
	fresh->k8s = k;
	struct podres_table d = current->devices;
	current->devices = fresh->devices;
	fresh->devices = d;
	current->kubelet_queried = fresh->kubelet_queried;
	current->kubelet_result = fresh->kubelet_result;
}

void attrib_names_free(struct attrib_names *names)
{
	if (!names)
		return;
	user_table_free(&names->users);
	k8s_index_free(&names->k8s);
	podres_table_free(&names->devices);
	names->has_users = false;
}

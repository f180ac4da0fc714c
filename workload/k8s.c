/* k8s.c - the kubelet log-directory index; see k8s.h.
 *
 * A scan is two readdir passes plus one per pod directory: a node at the kubelet's default
 * limit (110 pods) costs about a millisecond, which is why it runs in attrib_refresh on a
 * timer and never in a sweep. */
#include "workload/k8s.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool is_uid(const char *s, size_t n)
{
	if (n == 32) { /* static pods: a manifest hash */
		for (size_t i = 0; i < n; i++)
			if (!is_hex(s[i]))
				return false;
		return true;
	}
	if (n != CGROUP_POD_UID_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !is_hex(s[i]))
			return false;
	}
	return true;
}

/* Copies a name that must fit; false when empty or too long (then it is not a kubelet dir). */
static bool copy_name(char *dst, size_t cap, const char *src, size_t n)
{
	if (n == 0 || n >= cap)
		return false;
	memcpy(dst, src, n);
	dst[n] = 0;
	return true;
}

bool k8s_parse_pod_dir_name(const char *name, struct k8s_pod *out)
{
	assert(name && out);
	memset(out, 0, sizeof(*out));
	const char *first = strchr(name, '_');
	const char *last = strrchr(name, '_');
	if (!first || last == first)
		return false;
	const char *uid = last + 1;
	return copy_name(out->pod_namespace, sizeof(out->pod_namespace), name,
	                 (size_t)(first - name)) &&
	       copy_name(out->name, sizeof(out->name), first + 1, (size_t)(last - first - 1)) &&
	       is_uid(uid, strlen(uid)) && copy_name(out->uid, sizeof(out->uid), uid, strlen(uid));
}

bool k8s_parse_container_log_name(const char *name, struct k8s_container *out)
{
	assert(name && out);
	memset(out, 0, sizeof(*out));
	size_t n = strlen(name);
	const size_t id_len = CGROUP_CONTAINER_ID_LEN;
	/* ...-<64hex>.log */
	if (n < id_len + 10 || strcmp(name + n - 4, ".log") != 0)
		return false;
	const char *id = name + n - 4 - id_len;
	if (id[-1] != '-')
		return false;
	for (size_t i = 0; i < id_len; i++)
		if (!is_hex(id[i]))
			return false;
	memcpy(out->id, id, id_len);
	out->id[id_len] = 0;
	/* <pod>_<namespace>_<container> */
	const char *head_end = id - 1;
	const char *first = memchr(name, '_', (size_t)(head_end - name));
	if (!first)
		return false;
	const char *second = memchr(first + 1, '_', (size_t)(head_end - first - 1));
	if (!second || memchr(second + 1, '_', (size_t)(head_end - second - 1)))
		return false;
	return copy_name(out->pod, sizeof(out->pod), name, (size_t)(first - name)) &&
	       copy_name(out->pod_namespace, sizeof(out->pod_namespace), first + 1,
	                 (size_t)(second - first - 1)) &&
	       copy_name(out->name, sizeof(out->name), second + 1, (size_t)(head_end - second - 1));
}

/* Makes room for one more element; false on out-of-memory. */
static bool grow(void **array, size_t *cap, size_t count, size_t elem)
{
	if (count < *cap)
		return true;
	size_t new_cap = *cap ? *cap * 2 : 16;
	void *p = realloc(*array, new_cap * elem);
	if (!p)
		return false;
	*array = p;
	*cap = new_cap;
	return true;
}

static bool entry_is_dir(int dirfd_, const struct dirent *de)
{
	if (de->d_type == DT_DIR)
		return true;
	if (de->d_type != DT_UNKNOWN && de->d_type != DT_LNK)
		return false;
	struct stat st;
	return fstatat(dirfd_, de->d_name, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Appends the container directory names of one pod directory. */
static bool scan_pod_containers(int parent_fd, const char *pod_dir, struct k8s_index *idx,
                                size_t *names_cap, struct k8s_pod *pod)
{
	int fd = openat(parent_fd, pod_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return true; /* raced with pod deletion: the pod simply has no containers */
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return true;
	}
	pod->first_container = (uint32_t)idx->container_name_count;
	struct dirent *de;
	bool ok = true;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !entry_is_dir(dirfd(d), de))
			continue;
		size_t n = strlen(de->d_name);
		if (n >= K8S_CONTAINER_MAX)
			continue;
		if (!grow((void **)&idx->container_names, names_cap, idx->container_name_count,
		          sizeof(*idx->container_names))) {
			ok = false;
			break;
		}
		memcpy(idx->container_names[idx->container_name_count++], de->d_name, n + 1);
	}
	closedir(d);
	pod->container_count = (uint32_t)(idx->container_name_count - pod->first_container);
	if (pod->container_count > 1)
		qsort(idx->container_names + pod->first_container, pod->container_count,
		      sizeof(*idx->container_names), compare_names);
	return ok;
}

static int compare_pods(const void *a, const void *b)
{
	return strcmp(((const struct k8s_pod *)a)->uid, ((const struct k8s_pod *)b)->uid);
}

static int compare_containers(const void *a, const void *b)
{
	return strcmp(((const struct k8s_container *)a)->id, ((const struct k8s_container *)b)->id);
}

static bool scan_pods(const char *dir, struct k8s_index *idx)
{
	DIR *d = dir && dir[0] ? opendir(dir) : NULL;
	if (!d)
		return true;
	size_t pods_cap = 0, names_cap = 0;
	struct dirent *de;
	bool ok = true;
	while (ok && (de = readdir(d))) {
		struct k8s_pod pod;
		if (de->d_name[0] == '.' || !k8s_parse_pod_dir_name(de->d_name, &pod))
			continue;
		if (!grow((void **)&idx->pods, &pods_cap, idx->pod_count, sizeof(*idx->pods))) {
			ok = false;
			break;
		}
		ok = scan_pod_containers(dirfd(d), de->d_name, idx, &names_cap, &pod);
		idx->pods[idx->pod_count++] = pod;
	}
	closedir(d);
	if (idx->pod_count > 1)
		qsort(idx->pods, idx->pod_count, sizeof(*idx->pods), compare_pods);
	return ok;
}

static bool scan_containers(const char *dir, struct k8s_index *idx)
{
	DIR *d = dir && dir[0] ? opendir(dir) : NULL;
	if (!d)
		return true;
	size_t cap = 0;
	struct dirent *de;
	bool ok = true;
	while ((de = readdir(d))) {
		struct k8s_container c;
		if (de->d_name[0] == '.' || !k8s_parse_container_log_name(de->d_name, &c))
			continue;
		if (!grow((void **)&idx->containers, &cap, idx->container_count,
		          sizeof(*idx->containers))) {
			ok = false;
			break;
		}
		idx->containers[idx->container_count++] = c;
	}
	closedir(d);
	if (idx->container_count > 1)
		qsort(idx->containers, idx->container_count, sizeof(*idx->containers),
		      compare_containers);
	return ok;
}

int k8s_index_scan(const char *pod_log_dir, const char *container_log_dir, struct k8s_index *out)
{
	assert(out);
	memset(out, 0, sizeof(*out));
	if (!scan_pods(pod_log_dir, out) || !scan_containers(container_log_dir, out))
		goto err;
	return 0;
err:
	k8s_index_free(out);
	errno = ENOMEM;
	return -1;
}

void k8s_index_free(struct k8s_index *idx)
{
	if (!idx)
		return;
	free(idx->pods);
	free(idx->container_names);
	free(idx->containers);
	memset(idx, 0, sizeof(*idx));
}

const struct k8s_pod *k8s_find_pod(const struct k8s_index *idx, const char *uid)
{
	if (!idx || !idx->pod_count || !uid || !uid[0])
		return NULL;
	struct k8s_pod key;
	size_t n = strlen(uid);
	if (n >= sizeof(key.uid))
		return NULL;
	memcpy(key.uid, uid, n + 1);
	return bsearch(&key, idx->pods, idx->pod_count, sizeof(*idx->pods), compare_pods);
}

const struct k8s_container *k8s_find_container(const struct k8s_index *idx, const char *id)
{
	if (!idx || !idx->container_count || !id || !id[0])
		return NULL;
	struct k8s_container key;
	size_t n = strlen(id);
	if (n >= sizeof(key.id))
		return NULL;
	memcpy(key.id, id, n + 1);
	return bsearch(&key, idx->containers, idx->container_count, sizeof(*idx->containers),
	               compare_containers);
}

bool k8s_resolve(const struct k8s_index *idx, const char *pod_uid, const char *container_id,
                 struct k8s_names *out)
{
	assert(out);
	memset(out, 0, sizeof(*out));
	const struct k8s_pod *pod = k8s_find_pod(idx, pod_uid);
	const struct k8s_container *ctr = k8s_find_container(idx, container_id);
	if (pod) {
		memcpy(out->pod_namespace, pod->pod_namespace, sizeof(out->pod_namespace));
		memcpy(out->pod, pod->name, sizeof(out->pod));
	} else if (ctr) {
		memcpy(out->pod_namespace, ctr->pod_namespace, sizeof(out->pod_namespace));
		memcpy(out->pod, ctr->pod, sizeof(out->pod));
	}
	if (ctr)
		memcpy(out->container, ctr->name, sizeof(out->container));
	else if (pod && pod->container_count == 1)
		memcpy(out->container, idx->container_names[pod->first_container],
		       sizeof(out->container));
	return pod || ctr;
}

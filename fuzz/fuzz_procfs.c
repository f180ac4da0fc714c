/* fuzz_procfs.c - what attribution reads from the host: /proc/PID/stat, status and
 * cmdline (workload/procfs.c), /proc/PID/cgroup (workload/cgroup.c), /etc/passwd
 * (workload/users.c) and the kubelet's pod and container log names (workload/k8s.c).
 * The first byte picks the parser, so one corpus holds samples of each. */
#include "fuzz/fuzz.h"
#include "workload/cgroup.h"
#include "workload/k8s.h"
#include "workload/procfs.h"
#include "workload/users.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *buf = (const char *)data + 1;
	size_t len = size - 1;
	switch (data[0] % 6) {
	case 0: {
		struct procfs_stat st;
		procfs_parse_stat(buf, len, &st);
		break;
	}
	case 1: {
		uint32_t euid;
		procfs_parse_status_uid(buf, len, &euid);
		break;
	}
	case 2: {
		char out[64];
		size_t n = procfs_cmdline_basename(buf, len, out, sizeof(out));
		if (n >= sizeof(out))
			abort();
		break;
	}
	case 3: {
		struct cgroup_identity id;
		cgroup_parse(buf, len, &id);
		break;
	}
	case 4: {
		struct user_table t;
		if (user_table_parse(buf, len, &t) == 0)
			user_table_free(&t);
		break;
	}
	case 5: {
		char *name = fuzz_cstr(data + 1, len);
		struct k8s_pod pod;
		struct k8s_container c;
		k8s_parse_pod_dir_name(name, &pod);
		k8s_parse_container_log_name(name, &c);
		free(name);
		break;
	}
	}
	return 0;
}

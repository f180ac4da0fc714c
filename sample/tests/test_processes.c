/* test_processes.c - the per-process path without a driver: the NVML process reader against a
 * scripted fake library (sizing, merging, strides, utilization, errors), the per-process
 * exposition (labels, cap, _other, pod labels) and the workloads document. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "export/proc_json.h"
#include "export/prom.h"
#include "export/prom_procs.h"
#include "sample/processes.h"

/* ---- a scripted NVML ---- */

static struct {
	unsigned n_compute, n_graphics;
	nvmlProcessInfo_t compute[8], graphics[8];
	unsigned stride; /* what the "driver" writes: 24, 32 or 16 */
	nvmlReturn_t list_rc, util_rc;
	unsigned n_util;
	nvmlProcessUtilizationSample_t util[8];
	unsigned long long asked_since;
	int util_calls;
} fake;

static nvmlReturn_t write_list(const nvmlProcessInfo_t *src, unsigned n, unsigned *count,
                               nvmlProcessInfo_t *infos)
{
	if (fake.list_rc)
		return fake.list_rc;
	if (*count < n) {
		*count = n;
		return NVML_ERROR_INSUFFICIENT_SIZE;
	}
	unsigned char *out = (unsigned char *)infos;
	for (unsigned i = 0; i < n; i++) {
		unsigned char e[32] = {0};
		memcpy(e, &src[i].pid, 4);
		memcpy(e + 8, &src[i].usedGpuMemory, 8);
		if (fake.stride >= 24) {
			memcpy(e + 16, &src[i].gpuInstanceId, 4);
			memcpy(e + 20, &src[i].computeInstanceId, 4);
		}
		memcpy(out + (size_t)i * fake.stride, e, fake.stride);
	}
	*count = n;
	return NVML_SUCCESS;
}

static nvmlReturn_t fake_compute(nvmlDevice_t d, unsigned *count, nvmlProcessInfo_t *infos)
{
	return write_list(fake.compute, fake.n_compute, count, infos);
}

static nvmlReturn_t fake_graphics(nvmlDevice_t d, unsigned *count, nvmlProcessInfo_t *infos)
{
	return write_list(fake.graphics, fake.n_graphics, count, infos);
}

static nvmlReturn_t fake_util(nvmlDevice_t d, nvmlProcessUtilizationSample_t *buf, unsigned *count,
                              unsigned long long since)
{
	fake.util_calls++;
	fake.asked_since = since;
	if (fake.util_rc)
		return fake.util_rc;
	if (!buf) {
		*count = 72;
		return NVML_ERROR_INSUFFICIENT_SIZE;
	}
	unsigned n = 0;
	for (unsigned i = 0; i < fake.n_util && n < *count; i++)
		if (fake.util[i].timeStamp > since)
			buf[n++] = fake.util[i];
	*count = n;
	return n ? NVML_SUCCESS : NVML_ERROR_NOT_FOUND;
}

static struct nvml_lib lib;

static unsigned long long wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
}

static int setup(void **state)
{
	memset(&fake, 0, sizeof(fake));
	memset(&lib, 0, sizeof(lib));
	fake.stride = 24;
	lib.device_get_compute_running_processes = fake_compute;
	lib.device_get_graphics_running_processes = fake_graphics;
	lib.device_get_process_utilization = fake_util;
	return 0;
}

static nvmlProcessInfo_t info(unsigned pid, unsigned long long mem)
{
	return (nvmlProcessInfo_t){pid, mem, NVML_NO_INSTANCE_ID, NVML_NO_INSTANCE_ID};
}

static void test_reader(void **state)
{
	struct gpuprocs_reader r = {0};
	static struct gpuprocs_row rows[GPUPROCS_MAX];
	unsigned n;
	/* 20 processes: the first read grows its buffer past the initial room. */
	for (unsigned i = 0; i < 8; i++)
		fake.compute[i] = info(100 + i, (i + 1) << 20);
	fake.n_compute = 8;
	fake.graphics[0] = info(100, 5 << 20); /* also a graphics client: one row */
	fake.graphics[1] = info(900, NVML_VALUE_NOT_AVAILABLE_ULL);
	fake.n_graphics = 2;
	/* Driver timestamps are wall-clock microseconds: these samples are a second old. */
	unsigned long long base = wall_us() - 1000000ULL;
	fake.util[0] =
	    (nvmlProcessUtilizationSample_t){.pid = 100, .timeStamp = base + 10, .smUtil = 40};
	fake.util[1] =
	    (nvmlProcessUtilizationSample_t){.pid = 100, .timeStamp = base + 20, .smUtil = 60};
	fake.util[2] = (nvmlProcessUtilizationSample_t){
	    .pid = 101, .timeStamp = base + 15, .smUtil = 7, .memUtil = 3};
	fake.n_util = 3;
	assert_int_equal(gpuprocs_read(&r, &lib, NULL, rows, &n), NVML_SUCCESS);
	/* One call into a buffer, never a sizing call; the first asks for the last seconds only. */
	assert_int_equal(fake.util_calls, 1);
	assert_true(fake.asked_since > 0 && fake.asked_since < base);
	assert_true(fake.asked_since + 5000000ULL > base);
	assert_int_equal(n, 9);
	assert_int_equal(rows[0].pid, 100);
	assert_true(rows[0].graphics);
	assert_true(rows[0].memory_bytes == 5 << 20); /* the larger of its two rows */
	assert_true(rows[0].util_valid);
	assert_true(rows[0].sm_util == 50); /* mean of its samples */
	assert_true(rows[1].sm_util == 7 && rows[1].mem_util == 3);
	assert_true(rows[2].util_valid && rows[2].sm_util == 0); /* no sample: idle */
	assert_int_equal(rows[8].pid, 900);
	assert_false(rows[8].memory_valid);
	assert_false(rows[3].gpu_instance_valid);
	/* The next read asks only for newer samples; none: NOT_FOUND, still valid zeros. */
	assert_int_equal(gpuprocs_read(&r, &lib, NULL, rows, &n), NVML_SUCCESS);
	assert_true(fake.asked_since == base + 20);
	assert_int_equal(fake.util_calls, 2);
	assert_true(rows[0].util_valid && rows[0].sm_util == 0);
	/* Nothing new for a long time: the next ask starts near now, not from the old sample
	 * (the driver's cost grows with the span asked for). */
	r.last_seen = base - 60000000ULL;
	assert_int_equal(gpuprocs_read(&r, &lib, NULL, rows, &n), NVML_SUCCESS);
	assert_true(r.last_seen + 2500000ULL > wall_us());
	/* No process on the GPU: the call is not made at all. */
	unsigned saved_compute = fake.n_compute, saved_graphics = fake.n_graphics;
	fake.n_compute = fake.n_graphics = 0;
	int before = fake.util_calls;
	assert_int_equal(gpuprocs_read(&r, &lib, NULL, rows, &n), NVML_SUCCESS);
	assert_int_equal(n, 0);
	assert_int_equal(fake.util_calls, before);
	fake.n_compute = saved_compute;
	fake.n_graphics = saved_graphics;
	/* MIG or an old GPU: utilization is turned off for good. */
	fake.util_rc = NVML_ERROR_NOT_SUPPORTED;
	assert_int_equal(gpuprocs_read(&r, &lib, NULL, rows, &n), NVML_SUCCESS);
	assert_false(rows[0].util_valid);
	int calls = fake.util_calls;
	assert_int_equal(gpuprocs_read(&r, &lib, NULL, rows, &n), NVML_SUCCESS);
	assert_int_equal(fake.util_calls, calls);
	/* A lost GPU is reported; other list errors read as no processes. */
	assert_true(r.listed);
	fake.list_rc = NVML_ERROR_NO_PERMISSION;
	assert_int_equal(gpuprocs_read(&r, &lib, NULL, rows, &n), NVML_SUCCESS);
	assert_int_equal(n, 0);
	assert_false(r.listed);
	fake.list_rc = NVML_ERROR_GPU_IS_LOST;
	assert_int_equal(gpuprocs_read(&r, &lib, NULL, rows, &n), NVML_ERROR_GPU_IS_LOST);
	gpuprocs_release(&r);
}

static void test_strides(void **state)
{
	struct gpuprocs_reader r = {0};
	static struct gpuprocs_row rows[GPUPROCS_MAX];
	unsigned n;
	fake.compute[0] = info(4242, 3ULL << 30);
	fake.compute[1] = info(4243, 1ULL << 30);
	fake.compute[0].gpuInstanceId = 3;
	fake.compute[0].computeInstanceId = 0;
	fake.n_compute = 2;
	static const unsigned strides[] = {24, 32, 16};
	for (int s = 0; s < 3; s++) {
		fake.stride = strides[s];
		assert_int_equal(gpuprocs_read(&r, &lib, NULL, rows, &n), NVML_SUCCESS);
		assert_int_equal(r.stride, strides[s]);
		assert_int_equal(n, 2);
		assert_int_equal(rows[0].pid, 4242);
		assert_int_equal(rows[1].pid, 4243);
		assert_true(rows[0].memory_bytes == 3ULL << 30);
		assert_true(rows[1].memory_bytes == 1ULL << 30);
		assert_int_equal(rows[0].gpu_instance_valid, strides[s] != 16);
	}
	gpuprocs_release(&r);
}

/* ---- exposition and JSON ---- */

static struct gpu_record gpus[2];
static struct board_snapshot snap;

static struct process_record *add(struct process_table *t, int pid, const char *name, double mib,
                                  double sm)
{
	struct process_record *r = &t->proc[t->n++];
	r->pid = pid;
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->status, sizeof(r->status), "ok");
	r->memory_valid = true;
	r->memory_bytes = mib * 1048576;
	r->util_valid = true;
	r->sm_util = sm;
	r->cpu_valid = true;
	r->cpu_cores = 0.5;
	t->total++;
	return r;
}

static struct process_table *tables[2];

static int setup_snapshot(void **state)
{
	memset(gpus, 0, sizeof(gpus));
	for (unsigned i = 0; i < 2; i++) {
		gpus[i].index = i;
		gpus[i].health = GPU_OK;
		snprintf(gpus[i].id.uuid, sizeof(gpus[i].id.uuid), "GPU-%u", i);
		gpus[i].raw[METRIC_GPU_UTIL] = 50;
		metric_set_add(&gpus[i].valid, METRIC_GPU_UTIL);
		metric_set_add(&gpus[i].supported, METRIC_GPU_UTIL);
		tables[i] = process_table_new(GPU_MAX_PROCESSES);
		gpus[i].procs = tables[i];
	}
	struct process_table *t = tables[0];
	struct process_record *r = add(t, 10, "vllm \"serve\"", 4000, 60);
	snprintf(r->container, sizeof(r->container), "vllm");
	snprintf(r->pod, sizeof(r->pod), "vllm-0");
	snprintf(r->pod_namespace, sizeof(r->pod_namespace), "ml");
	snprintf(r->container_id, sizeof(r->container_id), "%s",
	         "ab"
	         "cdef0123456789abcdef");
	r = add(t, 11, "python", 3000, 20);
	r->slurm_job_valid = true;
	r->slurm_job = 77;
	snprintf(r->container_id, sizeof(r->container_id), "0123456789abcdef0123");
	add(t, 12, "a", 100, 1);
	add(t, 13, "b", 50, 2);
	t->overflow = (struct process_overflow){
	    .count = 5, .memory_bytes = 10 * 1048576.0, .sm_valid = true, .sm_util = 4};
	t->total += 5;
	/* GPU 1: one pod; shards of a group with GPU 0's pid 10 (same container). */
	t = tables[1];
	r = add(t, 20, "vllm", 2000, 30);
	snprintf(r->container_id, sizeof(r->container_id), "%s", tables[0]->proc[0].container_id);
	snprintf(r->pod, sizeof(r->pod), "vllm-0");
	snprintf(r->pod_namespace, sizeof(r->pod_namespace), "ml");
	t->owner_valid = true;
	snprintf(t->owner_pod, sizeof(t->owner_pod), "vllm-0");
	snprintf(t->owner_namespace, sizeof(t->owner_namespace), "ml");
	snprintf(t->owner_container, sizeof(t->owner_container), "vllm");
	memset(&snap, 0, sizeof(snap));
	snap.count = 2;
	snap.gpus = gpus;
	return 0;
}

static int teardown_snapshot(void **state)
{
	for (unsigned i = 0; i < 2; i++)
		process_table_unref(tables[i]);
	return 0;
}

static char *render(unsigned names, unsigned cap)
{
	struct strbuf sb;
	sb_init(&sb, 1024);
	struct prom_options o = {.names = names, .process_cap = cap};
	prom_render(&snap, &o, &sb);
	assert_false(sb.oom);
	return sb.data;
}

static void test_exposition(void **state)
{
	char *text = render(NAMES_BOTH, 2);
	assert_non_null(strstr(text, "gpuscope_processes{gpu=\"0\",uuid=\"GPU-0\"} 9\n"));
	assert_non_null(
	    strstr(text, "gpuscope_process_memory_used_bytes{gpu=\"0\",uuid=\"GPU-0\",pid=\"10\","
	                 "process=\"vllm \\\"serve\\\"\",container=\"vllm\",pod=\"vllm-0\","
	                 "namespace=\"ml\"} 4194304000\n"));
	/* No Kubernetes name: the short container id; a Slurm job as slurm_job. */
	assert_non_null(strstr(text, "pid=\"11\",process=\"python\",container=\"0123456789ab\","
	                             "slurm_job=\"77\"} 3145728000\n"));
	/* Cap 2: pids 12 and 13 and the table's 5 folded ones are one _other series. */
	assert_null(strstr(text, "pid=\"12\""));
	assert_non_null(strstr(text, "gpuscope_process_memory_used_bytes{gpu=\"0\",uuid=\"GPU-0\","
	                             "pid=\"\",process=\"_other\"} 167772160\n"));
	assert_non_null(strstr(text,
	                       "gpuscope_process_sm_utilization_ratio{gpu=\"0\",uuid=\"GPU-0\","
	                       "pid=\"\",process=\"_other\"} 0.07"));
	/* CPU: the folded table entries had none, pids 12 and 13 had 0.5 each. */
	assert_non_null(strstr(text,
	                       "gpuscope_process_cpu_utilization_ratio{gpu=\"0\",uuid=\"GPU-0\","
	                       "pid=\"\",process=\"_other\"} 1\n"));
	/* Pod labels on the DCGM series of the GPU one pod holds, only there. */
	assert_non_null(strstr(
	    text, "DCGM_FI_DEV_GPU_UTIL{gpu=\"1\",UUID=\"GPU-1\",pci_bus_id=\"\","
	          "device=\"nvidia0\",modelName=\"\",hostname=\"\",DCGM_FI_DRIVER_VERSION=\"\","
	          "pod=\"vllm-0\","
	          "namespace=\"ml\",container=\"vllm\"} 50\n"));
	assert_non_null(strstr(text,
	                       "DCGM_FI_DEV_GPU_UTIL{gpu=\"0\",UUID=\"GPU-0\",pci_bus_id=\"\","
	                       "device=\"nvidia0\",modelName=\"\",hostname=\"\","
	                       "DCGM_FI_DRIVER_VERSION=\"\"} 50\n"));
	free(text);
	/* DCGM names only: no per-process families. */
	text = render(NAMES_DCGM, 0);
	assert_null(strstr(text, "gpuscope_process"));
	free(text);
	/* The default cap keeps all four. */
	text = render(NAMES_NATIVE, 0);
	assert_non_null(strstr(text, "pid=\"13\""));
	free(text);
}

static void test_workloads(void **state)
{
	char *text = proc_json_workloads(&snap);
	assert_non_null(text);
	json_error_t e;
	json_t *doc = json_loads(text, 0, &e);
	assert_non_null(doc);
	json_t *groups = json_object_get(doc, "tensor_parallel_groups");
	assert_int_equal(json_array_size(groups), 1);
	json_t *g = json_array_get(groups, 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(g, "key"), "kind")),
	                    "container");
	assert_true(json_real_value(json_object_get(g, "memory_skew")) == 2.0);
	assert_true(json_real_value(json_object_get(g, "utilization_skew")) == 2.0);
	json_t *wl = json_object_get(doc, "workloads");
	assert_int_equal(json_array_size(wl), 4); /* the container, the job, two lone processes */
	json_t *w0 = json_array_get(wl, 0);
	assert_int_equal(json_integer_value(json_object_get(w0, "memory_used_bytes")),
	                 6000LL * 1048576);
	assert_int_equal(json_array_size(json_object_get(w0, "gpus")), 2);
	/* CPU counted per process: pids 10 and 20 are two processes. */
	assert_true(json_real_value(json_object_get(w0, "cpu_utilization_ratio")) == 1.0);
	json_decref(doc);
	free(text);
	text = proc_json_processes(&snap);
	assert_non_null(strstr(text, "\"slurm_job\": 77"));
	free(text);
}

/* The board shares a table with its snapshots by reference and hides a stale one. */
/* A table has room for the processes it is made for, GPU_MAX_PROCESSES at most, zeroed. */
static void test_table_room(void **state)
{
	(void)state;
	struct process_table *t = process_table_new(0);
	assert_non_null(t);
	assert_int_equal(t->cap, 0);
	assert_int_equal(t->n, 0);
	process_table_unref(t);
	t = process_table_new(3);
	assert_int_equal(t->cap, 3);
	assert_int_equal(t->proc[2].pid, 0);
	process_table_unref(t);
	t = process_table_new(GPU_MAX_PROCESSES + 100);
	assert_int_equal(t->cap, GPU_MAX_PROCESSES);
	assert_int_equal(t->proc[GPU_MAX_PROCESSES - 1].pid, 0);
	process_table_unref(t);
}

static void test_board_table(void **state)
{
	struct board b;
	assert_int_equal(board_init(&b, 2, 0.1, 1.0, 30.0), 0);
	struct process_table *t = process_table_new(GPU_MAX_PROCESSES);
	add(t, 7, "x", 1, 0);
	board_publish_processes(&b, 1, t); /* the board holds the only reference now */
	struct board_snapshot s1, s2;
	assert_int_equal(board_snapshot(&b, &s1), 0);
	assert_null(s1.gpus[0].procs);
	assert_ptr_equal(s1.gpus[1].procs, t);
	assert_int_equal(atomic_load(&t->refs), 2);
	/* A newer table replaces it; the snapshot keeps the old one alive. */
	struct process_table *t2 = process_table_new(GPU_MAX_PROCESSES);
	board_publish_processes(&b, 1, t2);
	assert_int_equal(atomic_load(&t->refs), 1);
	assert_int_equal(s1.gpus[1].procs->proc[0].pid, 7);
	board_snapshot_free(&s1); /* frees t (ASan would catch a leak or a double free) */
	/* Three slow intervals (at least 2 s) without a new table: hidden. */
	t2->published -= 10;
	assert_int_equal(board_snapshot(&b, &s2), 0);
	assert_null(s2.gpus[1].procs);
	assert_int_equal(atomic_load(&t2->refs), 1);
	board_snapshot_free(&s2);
	board_publish_processes(&b, 0, NULL);
	board_free(&b); /* drops t2 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_reader, setup),
	    cmocka_unit_test_setup(test_strides, setup),
	    cmocka_unit_test_setup_teardown(test_exposition, setup_snapshot, teardown_snapshot),
	    cmocka_unit_test_setup_teardown(test_workloads, setup_snapshot, teardown_snapshot),
	    cmocka_unit_test(test_table_room),
	    cmocka_unit_test(test_board_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

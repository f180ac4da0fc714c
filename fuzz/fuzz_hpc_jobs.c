/* fuzz_hpc_jobs.c - dcgm-exporter's HPC job mapping files (export/hpc_jobs.c,
 * --hpc-job-mapping-dir): a file's contents, and its name as a mapping file's. */
#include "export/hpc_jobs.h"
#include "fuzz/fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hpc_job_list jobs;
	hpc_jobs_parse((const char *)data, size, &jobs);
	if (jobs.n > HPC_JOBS_PER_GPU)
		abort();
	for (unsigned i = 0; i < jobs.n; i++) {
		size_t n = strnlen(jobs.job[i], HPC_JOB_ID_MAX);
		if (n == 0 || n >= HPC_JOB_ID_MAX)
			abort(); /* every job is a non-empty, terminated label value */
		for (size_t k = 0; k < n; k++)
			if ((unsigned char)jobs.job[i][k] < 0x20)
				abort();
		for (unsigned j = 0; j < i; j++)
			if (strcmp(jobs.job[i], jobs.job[j]) == 0)
				abort(); /* listed once */
	}
	char name[64];
	size_t n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
	memcpy(name, data, n);
	name[n] = 0;
	unsigned gpu;
	int gi;
	if (hpc_jobs_file_name(name, &gpu, &gi) && (name[0] < '0' || name[0] > '9'))
		abort(); /* a mapping file's name starts with the GPU's index */
	return 0;
}

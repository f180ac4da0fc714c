/* hpc_jobs.h - dcgm-exporter's HPC job mapping (--hpc-job-mapping-dir): which jobs hold
 * each GPU, as the label hpc_job on its DCGM series.
 *
 * A batch system's prolog writes one file per GPU into a directory, named by the GPU's index
 * ("0", "1") or, for a MIG instance, by the GPU's index and the GPU instance id ("2.0");
 * each line of a file is the id of a job running on that GPU.  Every DCGM series of a GPU
 * listed with jobs is written once per job, with hpc_job="<id>"; a GPU without a file, or
 * with an empty one, keeps its series as they are.  That is dcgm-exporter's format and
 * meaning (internal/pkg/transformation/hpc.go), read again at most once a second, so a job
 * that starts or ends shows on the next scrape.
 *
 * Outside input, so the parser is a pure function over a buffer (fuzz target
 * fuzz/fuzz_hpc_jobs.c), bounded everywhere: a line that is not a usable label value
 * (empty, too long, control bytes, not UTF-8) and a job listed twice are skipped, counted,
 * not fatal; a directory that is missing or unreadable is no jobs at all, said once on
 * stderr.  The directory is one per agent, so the map is module state (hpc_jobs_start).
 */
#ifndef GPUSCOPE_EXPORT_HPC_JOBS_H
#define GPUSCOPE_EXPORT_HPC_JOBS_H

#include <stdbool.h>
#include <stddef.h>

#define HPC_JOBS_PER_GPU  16   /* jobs kept per file (each multiplies the GPU's series) */
#define HPC_JOB_ID_MAX    128  /* bytes of one job id, NUL included */
#define HPC_JOBS_FILES    64   /* mapping files kept per directory */
#define HPC_JOBS_FILE_MAX 4096 /* bytes read of one file */

struct hpc_job_list {
	unsigned n;
	unsigned skipped; /* lines dropped: unusable, duplicate or past HPC_JOBS_PER_GPU */
	char job[HPC_JOBS_PER_GPU][HPC_JOB_ID_MAX];
};

/* The jobs of one file's contents, one per line ("\n" or "\r\n"; surrounding blanks
 * trimmed).  Never fails. */
void hpc_jobs_parse(const char *buf, size_t len, struct hpc_job_list *out);

/* Whether a file name is a mapping file's: "<gpu>" or "<gpu>.<gpu instance>", decimal,
 * each part at most 9 digits.  *gi is -1 for a whole GPU. */
bool hpc_jobs_file_name(const char *name, unsigned *gpu, int *gi);

struct hpc_map; /* an immutable snapshot of the directory */

/* The jobs of GPU gpu (gi -1) or of its GPU instance gi, or NULL when it has none. */
const struct hpc_job_list *hpc_map_find(const struct hpc_map *m, unsigned gpu, int gi);

/* Turns the mapping on for this process: dir is copied.  Returns 0, or -1 out of memory. */
int hpc_jobs_start(const char *dir);

/* The current map (the directory read again when the last read is a second old), held until
 * hpc_map_release; NULL when the mapping is off. */
const struct hpc_map *hpc_jobs_acquire(void);
void hpc_map_release(const struct hpc_map *m);

/* Turns the mapping off and frees what it holds (at exit). */
void hpc_jobs_stop(void);

#endif

/* serve_dcgm.h - dcgm-exporter's interface on `gpuscope serve`: its flags, its environment
 * variables and its counters CSV, so a DaemonSet written for dcgm-exporter runs gpuscope by
 * swapping the image.
 *
 * Each dcgm-exporter flag a DaemonSet passes is either taken with the same meaning or
 * refused with one line that says what to use instead; DCGM_EXPORTER_* variables are read
 * first and flags override them.  What this sets is the look of the DCGM_FI_* series
 * (export/prom.h struct prom_dcgm) and, through the aliases, the listen address.
 */
#ifndef GPUSCOPE_CMD_SERVE_DCGM_H
#define GPUSCOPE_CMD_SERVE_DCGM_H

#include <stdbool.h>
#include <stddef.h>

#include "export/collectors.h"
#include "export/prom.h"
#include "http/webconfig.h"

struct serve_dcgm {
	struct prom_dcgm prom;       /* what the exposition uses */
	const char *collectors_path; /* -f/--collectors */
	struct collectors collectors;
	const char *listen;          /* -a/--address (NULL: not given) */
	const char *hostname;        /* --hostname, else NODE_NAME (NULL: the host's name) */
	double collect_s;            /* -c/--collect-interval, 0 when not given */
	const char *web_config_path; /* --web-config-file */
	const char *hpc_dir;         /* --hpc-job-mapping-dir (NULL: off) */
	struct webconfig web;        /* loaded by serve_dcgm_load */
	bool web_loaded;
};

void serve_dcgm_init(struct serve_dcgm *d);

/* Reads the DCGM_EXPORTER_* variables and NODE_NAME (before the flags).  Returns 0, or -1
 * with a message in err for a value that is refused. */
int serve_dcgm_env(struct serve_dcgm *d, char *err, size_t errlen);

/* Tries argv[*i] as one of these flags (advancing *i past its value).  Returns 1 when
 * taken, 0 when not ours, -1 on a bad or refused value (err filled). */
int serve_dcgm_take(struct serve_dcgm *d, int argc, char **argv, int *i, char *err, size_t errlen);

/* Loads the web configuration (TLS, basic auth) and the collectors file when given, and
 * says on stderr, once, which of the file's names gpuscope cannot produce and why.
 * Returns 0, or -1 with a message in err. */
int serve_dcgm_load(struct serve_dcgm *d, char *err, size_t errlen);

void serve_dcgm_free(struct serve_dcgm *d);

/* The --help lines of these flags. */
extern const char serve_dcgm_usage[];

#endif

/* options.h - command-line pieces shared by the commands. */
#ifndef GPUSCOPE_OPTIONS_H
#define GPUSCOPE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

/* Parses "100ms", "5s", "1.5s", "2m" into seconds; returns 0 or -1. */
int parse_duration(const char *text, double *seconds);

/* Options every GPU-reading command takes. */
struct gpu_opts {
	const char *nvml_lib; /* --nvml-lib */
	bool demo;            /* --demo */
	const char *scenario; /* --demo SCENARIO */
};

/* Tries argv[*i] as a shared option (advancing *i past any value).
 * Returns 1 when taken, 0 when not ours, -1 on a bad value (err filled). */
int gpu_opts_take(struct gpu_opts *o, int argc, char **argv, int *i, char *err, size_t errlen);

#endif

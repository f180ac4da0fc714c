/* options.c - durations and the options shared by serve and doctor. */
#include "cmd/options.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int parse_duration(const char *text, double *seconds)
{
	if (!text || !*text)
		return -1;
	char *end;
	double v = strtod(text, &end);
	if (end == text || !isfinite(v) || v < 0)
		return -1;
	double scale;
	if (strcmp(end, "ms") == 0)
		scale = 1e-3;
	else if (strcmp(end, "s") == 0)
		scale = 1;
	else if (strcmp(end, "m") == 0)
		scale = 60;
	else
		return -1;
	*seconds = v * scale;
	return 0;
}

int gpu_opts_take(struct gpu_opts *o, int argc, char **argv, int *i, char *err, size_t errlen)
{
	const char *a = argv[*i];
	if (strcmp(a, "--nvml-lib") == 0) {
		if (*i + 1 >= argc || !argv[*i + 1][0]) {
			snprintf(err, errlen, "--nvml-lib needs a path to libnvidia-ml.so.1");
			return -1;
		}
		o->nvml_lib = argv[++*i];
		return 1;
	}
	if (strncmp(a, "--nvml-lib=", 11) == 0) {
		o->nvml_lib = a + 11;
		return 1;
	}
	if (strcmp(a, "--demo") == 0) {
		o->demo = true;
		/* The scenario is optional: take the next word unless it is a flag. */
		if (*i + 1 < argc && argv[*i + 1][0] != '-')
			o->scenario = argv[++*i];
		return 1;
	}
	if (strncmp(a, "--demo=", 7) == 0) {
		o->demo = true;
		o->scenario = a + 7;
		return 1;
	}
	return 0;
}

/* options.c - the options shared by the commands (--nvml-lib, --demo) and usage errors. */
#include "cmd/options.h"

#include <stdarg.h>

#include <stdio.h>
#include <string.h>

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

bool option_is_one_of(const char *arg, const char *const *names)
{
	for (; *names; names++)
		if (strcmp(arg, *names) == 0)
			return true;
	return false;
}

int cmd_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "gpuscope %s: ", cmd);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nRun 'gpuscope %s --help' for the options.\n", cmd);
	va_end(ap);
	return 2;
}

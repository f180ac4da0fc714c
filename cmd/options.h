/* options.h - command-line pieces shared by the commands. */
#ifndef GPUSCOPE_OPTIONS_H
#define GPUSCOPE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

/* Options every GPU-reading command takes. */
struct gpu_opts {
	const char *nvml_lib; /* --nvml-lib */
	bool demo;            /* --demo */
	const char *scenario; /* --demo SCENARIO */
};

/* Tries argv[*i] as a shared option (advancing *i past any value).
 * Returns 1 when taken, 0 when not ours, -1 on a bad value (err filled). */
int gpu_opts_take(struct gpu_opts *o, int argc, char **argv, int *i, char *err, size_t errlen);

/* Is arg one of the NULL-terminated option names?  Commands ask it of their options that
 * take a value, so a last word that lacks one says "needs a value" and any other unknown
 * word says "unknown option". */
bool option_is_one_of(const char *arg, const char *const *names);

/* Prints "gpuscope CMD: <message>" and a pointer to `gpuscope CMD --help` to stderr;
 * returns 2, the exit status of bad usage. */
int cmd_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

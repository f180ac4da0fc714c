/* config_file.h - `serve --config FILE`: every serve option in one YAML file.
 *
 * The file is a mapping from option names (the long flag without its dashes) to values,
 * and is read by turning it into the flags it stands for, placed before the command line's
 * own: so every option is accepted in the file exactly as on the command line, by the same
 * parser with the same checks and messages, and a flag given on the command line overrides
 * the file's (the last value of an option wins; repeatable options add up).
 *
 *   listen: ":9400"
 *   fast-interval: 100ms
 *   history: /var/lib/gpuscope/history.db
 *   no-processes: false          # true: the flag alone; false: left out
 *   threshold:                   # a mapping: one --threshold KEY=VALUE per entry
 *     idle_util_max: 0.1
 *   inference-server:            # a sequence: the flag once per item
 *     - http://127.0.0.1:8000
 *
 * The parser (config_yaml_args) is a pure function over a buffer: fuzz target fuzz/config.
 */
#ifndef GPUSCOPE_CMD_CONFIG_FILE_H
#define GPUSCOPE_CMD_CONFIG_FILE_H

#include <stddef.h>

#define CONFIG_FILE_MAX (256 * 1024)
#define CONFIG_ARGS_MAX 1024

/* A growable list of malloc'd strings. */
struct config_args {
	char **v;
	size_t n, cap;
};

/* Turns the YAML text into flags ("--listen", ":9400", ...), appended to out.  Returns 0,
 * or -1 with "line N: ..." in err (not a mapping, a nested value the mapping rules do not
 * cover, a key that is not a flag name, too many values). */
int config_yaml_args(const char *buf, size_t len, struct config_args *out, char *err,
                     size_t errlen);

void config_args_free(struct config_args *a);

/* When argv holds --config FILE (or --config=FILE), returns in *out a new argv: argv[0],
 * the file's flags, then the rest of argv without --config.  Without --config, *out is a
 * copy of argv.  Returns 0, or -1 with a sentence naming the file in err. */
int config_expand_argv(int argc, char **argv, struct config_args *out, char *err, size_t errlen);

#endif

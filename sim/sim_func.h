/* sim_func.h - time functions: a value as a function of t, for the NVML simulator.
 *
 * A scenario describes every signal of a simulated GPU (power, temperature, ...) as a small
 * tree of functions of t (seconds since nvmlInit): constants, ramps, sines, square bursts,
 * piecewise-constant steps, recorded CSV traces, and sums of those.  This module only parses
 * and evaluates such trees; it knows nothing about NVML, so the agent can also link it to
 * evaluate a scenario over an hour instantly (for tests of diagnosis code, say).
 *
 * A parsed tree is immutable: sim_func_eval() may be called from any number of threads.
 */
#ifndef GPUSCOPE_SIM_FUNC_H
#define GPUSCOPE_SIM_FUNC_H

#include <jansson.h>
#include <stddef.h>

typedef struct sim_func sim_func;

/*
 * Parses one function from its JSON form (see docs/simulator.md):
 *   5, "0x60", {"const": v}, {"ramp": {...}}, {"sine": {...}}, {"square": {...}},
 *   {"steps": [[t0, v0], ...]}, {"csv": {...}}, {"add": [f1, f2, ...]}.
 * base_dir is the folder relative CSV paths resolve against (NULL: the current folder);
 * "builtin:NAME" CSV files come from the traces embedded into the library.
 * json_path names the value in error messages ("gpus[2].metrics.power_w").
 * Returns NULL and writes "json_path: what is wrong" to err on failure.
 */
sim_func *sim_func_parse(const json_t *spec, const char *base_dir, const char *json_path, char *err,
                         size_t errlen);

/* A constant function (for defaults). Returns NULL only when out of memory. */
sim_func *sim_func_const(double value);

/* The value at t seconds. */
double sim_func_eval(const sim_func *f, double t);

/* The names of the function kinds, for messages: "const, ramp, sine, square, steps, csv, add". */
extern const char sim_func_kinds[];

void sim_func_free(sim_func *f);

/* Message helpers shared by the simulator's parsers (sim_func, sim_csv,
 * sim_scenario): snprintf for JSON paths (a path cut short at the buffer's
 * end is acceptable), and "PATH: message" into err. */
void sim_path_printf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sim_path_fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif

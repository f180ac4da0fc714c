/* rules_yaml.h - reading an alert rules file (YAML, through libyaml).
 *
 * The file changes the built-in rules; it never has to repeat them:
 *
 *   rules:
 *     - name: GpuTemperatureHigh      # a built-in rule: only what differs
 *       for: 30s
 *       threshold: 80                 # a number, or "slowdown" (the GPU's own)
 *       models:
 *         - {match: A100, threshold: 83, severity: warning}
 *     - name: GpuUtilizationLow
 *       disabled: true
 *     - name: PowerHighAtNight        # a new rule: signal, op, threshold, severity
 *       signal: power
 *       stat: mean
 *       window: 1m
 *       op: ">"
 *       threshold: 0.8
 *       for: 10m
 *       severity: warning
 *
 * docs/alerts.md lists every key.  Parsing is strict (an unknown key, a
 * misspelt signal or a value of the wrong type is an error with its line
 * and column), because a rule that silently does not apply is worse than an
 * agent that refuses to start.
 */
#ifndef GPUSCOPE_ALERT_RULES_YAML_H
#define GPUSCOPE_ALERT_RULES_YAML_H

#include <stddef.h>

#include "alert/rules.h"

/* Parses a rules file's text.  On success *out is the built-in rules with
 * the file applied and 0 is returned; on error -1, err says why ("line 4,
 * column 7: ...") and *out is unchanged.  A pure function of its input (the
 * fuzz target's entry point). */
int alert_rules_parse(const char *buf, size_t len, struct alert_rules *out, char *err,
                      size_t errlen);

/* Reads and parses a file; err names the file. */
int alert_rules_load(const char *path, struct alert_rules *out, char *err, size_t errlen);

#endif

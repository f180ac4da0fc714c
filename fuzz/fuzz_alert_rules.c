/* fuzz_alert_rules.c - alert rules files (alert/rules_yaml.c, through libyaml): the YAML
 * an operator writes and SIGHUP re-reads.  A parse that succeeds must leave a rule set the
 * evaluator can trust: every rule named, at most ALERT_RULES_MAX of them, windows within
 * bounds, counter rules with a window, model overrides within their array.
 * Build: fuzz_target(fuzz_alert_rules ${ROOT}/alert/rules.c ${ROOT}/alert/rules_yaml.c)
 * and link PkgConfig::YAML (pkg-config yaml-0.1). */
#include "alert/rules_yaml.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct alert_rules rs; /* large; the harness is single-threaded */
	char err[400];
	if (alert_rules_parse((const char *)data, size, &rs, err, sizeof(err)) != 0) {
		if (!err[0])
			abort(); /* a refusal always says why */
		return 0;
	}
	if (rs.n > ALERT_RULES_MAX)
		abort();
	for (size_t i = 0; i < rs.n; i++) {
		const struct alert_rule *r = &rs.rule[i];
		if (!r->name[0] || r->nmodels > ALERT_MODELS_MAX || !(r->window_s >= 0) ||
		    r->window_s > ALERT_WINDOW_MAX || !(r->for_s >= 0) ||
		    (alert_signal_is_counter(r->cond.signal) && !(r->window_s > 0)))
			abort();
		if ((unsigned)r->cond.signal >= ALERT_SIG_COUNT ||
		    (unsigned)r->severity > ALERT_CRITICAL)
			abort();
	}
	return 0;
}

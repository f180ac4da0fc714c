/* sim_scenario.c - strict JSON parsing of simulator scenarios (jansson).
 *
 * One parse_* function per object level, each checking its keys against a list first, so a
 * misspelt key is an error naming its JSON path rather than a silently ignored setting.  A
 * GPU object with "repeat": N is parsed N times with advancing index, which keeps cloning
 * trivially correct (each clone owns its function trees) at the cost of parsing N times.
 * The field readers are in sim_json.c, the "faults" object of a GPU in sim_faults.c.
 */
#include "sim/sim_scenario.h"
#include "sim/sim_csv.h"
#include "sim/sim_embedded.h"
#include "sim/sim_faults.h"
#include "sim/sim_json.h"
#include "sim/sim_processes.h"
#include "nvml/nvml_abi.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const signal_names[SIM_SIG_COUNT] = {
#define SIM_SIGNAL_NAME(id, name, def) name,
    SIM_SIGNALS(SIM_SIGNAL_NAME)
#undef SIM_SIGNAL_NAME
};

static const double signal_defaults[SIM_SIG_COUNT] = {
#define SIM_SIGNAL_DEFAULT(id, name, def) def,
    SIM_SIGNALS(SIM_SIGNAL_DEFAULT)
#undef SIM_SIGNAL_DEFAULT
};

const char *sim_signal_name(enum sim_signal s)
{
	return (unsigned)s < SIM_SIG_COUNT ? signal_names[s] : "?";
}

double sim_signal_clamp(enum sim_signal s, double v)
{
	if (isnan(v))
		return v;
	if (v < 0)
		return 0;
	size_t n = strlen(signal_names[s]);
	bool percent = n > 4 && strcmp(signal_names[s] + n - 4, "_pct") == 0;
	return percent && v > 100 ? 100 : v;
}

int sim_signal_index(const char *name)
{
	for (int i = 0; i < SIM_SIG_COUNT; i++)
		if (strcmp(signal_names[i], name) == 0)
			return i;
	return -1;
}

static bool parse_metrics(const struct sim_json_ctx *c, const json_t *m, const char *path,
                          struct sim_gpu *g)
{
	if (m && !json_is_object(m)) {
		sim_json_fail(c, path, "expected an object");
		return false;
	}
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)m, key, val)
	{
		char p[512];
		sim_json_join(p, sizeof(p), path, key);
		int sig = sim_signal_index(key);
		if (sig < 0) {
			sim_json_fail(c, path, "unknown signal \"%s\" (see docs/simulator.md)",
			              key);
			return false;
		}
		char ferr[1024];
		g->metrics[sig] = sim_func_parse(val, c->base_dir, p, ferr, sizeof(ferr));
		if (!g->metrics[sig]) {
			snprintf(c->err, c->errlen, "%s: %s", c->file, ferr);
			return false;
		}
	}
	for (int s = 0; s < SIM_SIG_COUNT; s++) {
		if (g->metrics[s])
			continue;
		double def = signal_defaults[s];
		if (isnan(def)) { /* a signal the GPU answers only when the scenario gives it */
			g->unsupported_signals[s] = true;
			def = 0;
		}
		if (s == SIM_SIG_SM_CLOCK)
			def = g->max_sm_clock_mhz;
		else if (s == SIM_SIG_MEM_CLOCK)
			def = g->max_mem_clock_mhz;
		if (!(g->metrics[s] = sim_func_const(def))) {
			sim_json_fail(c, path, "out of memory");
			return false;
		}
	}
	return true;
}

/* A stable, UUID-shaped id for a GPU index (splitmix64), so default scenarios need none. */
static void derive_uuid(unsigned index, char *out, size_t len)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL * (index + 1) + 0x48323030ULL; /* "H200" */
	uint64_t h[2];
	for (int i = 0; i < 2; i++) {
		x += 0x9e3779b97f4a7c15ULL;
		uint64_t z = x;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		h[i] = z ^ (z >> 31);
	}
	snprintf(out, len, "GPU-%08x-%04x-%04x-%04x-%012llx", (unsigned)(h[0] >> 32),
	         (unsigned)(h[0] >> 16) & 0xffff, (unsigned)h[0] & 0xffff, (unsigned)(h[1] >> 48),
	         (unsigned long long)(h[1] & 0xffffffffffffULL));
}

static bool parse_nvlink_down(const struct sim_json_ctx *c, const json_t *o, const char *path,
                              struct sim_gpu *g)
{
	const json_t *down = json_object_get(o, "nvlink_down");
	char p[512];
	sim_json_join(p, sizeof(p), path, "nvlink_down");
	if (!down)
		return true;
	if (!json_is_array(down)) {
		sim_json_fail(c, p, "expected an array of link numbers");
		return false;
	}
	size_t i;
	const json_t *v;
	json_array_foreach(down, i, v)
	{
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) >= NVML_NVLINK_MAX_LINKS) {
			sim_json_fail(c, p, "link numbers are integers 0-%d",
			              NVML_NVLINK_MAX_LINKS - 1);
			return false;
		}
		g->nvlink_down |= 1ULL << json_integer_value(v);
	}
	return true;
}

/* One GPU instance: a child sim_gpu with its own memory size and signals. */
static bool parse_mig_instance(const struct sim_json_ctx *c, const json_t *o, const char *path,
                               const struct sim_gpu *parent, unsigned k, struct sim_gpu *m)
{
	static const char *const keys[] = {"profile", "gpu_instance_id", "memory_total_mib",
	                                   "metrics", NULL};
	if (!json_is_object(o)) {
		sim_json_fail(c, path, "expected an object");
		return false;
	}
	if (!sim_json_check_keys(c, o, keys, path) ||
	    !sim_json_get_string(c, o, "profile", path, "1g.18gb", m->profile,
	                         sizeof(m->profile)) ||
	    !sim_json_get_u32(c, o, "gpu_instance_id", path, k + 1, &m->gpu_instance_id) ||
	    !sim_json_get_uint(c, o, "memory_total_mib", path, 16384, parent->memory_total_mib,
	                       &m->memory_total_mib))
		return false;
	m->parent = parent;
	m->index = parent->index;
	m->minor = parent->minor;
	m->max_sm_clock_mhz = parent->max_sm_clock_mhz;
	m->max_mem_clock_mhz = parent->max_mem_clock_mhz;
	m->lost_at = INFINITY;
	m->gpm = parent->gpm;
	/* The driver names a MIG device after its GPU and profile. */
	char model[sizeof(parent->model) + sizeof(m->profile) + 8];
	snprintf(model, sizeof(model), "%s MIG %s", parent->model, m->profile);
	snprintf(m->model, sizeof(m->model), "%.*s", (int)sizeof(m->model) - 1, model);
	/* MIG device UUIDs are "MIG-" and a UUID of their own. */
	derive_uuid(parent->index * 64 + m->gpu_instance_id + 4096, m->uuid, sizeof(m->uuid));
	memcpy(m->uuid, "MIG", 3);
	snprintf(m->pci_bus_id, sizeof(m->pci_bus_id), "%s", parent->pci_bus_id);
	char p[512];
	sim_json_join(p, sizeof(p), path, "metrics");
	return parse_metrics(c, json_object_get(o, "metrics"), p, m);
}

static bool parse_mig(const struct sim_json_ctx *c, const json_t *mig, const char *path,
                      struct sim_gpu *g)
{
	if (!mig)
		return true;
	if (!json_is_array(mig) || json_array_size(mig) > 7) {
		sim_json_fail(c, path, "expected an array of at most 7 GPU instances");
		return false;
	}
	if (json_array_size(mig) == 0)
		return true;
	if (!(g->mig = calloc(json_array_size(mig), sizeof(*g->mig)))) {
		sim_json_fail(c, path, "out of memory");
		return false;
	}
	size_t i;
	const json_t *o;
	json_array_foreach(mig, i, o)
	{
		char p[540];
		snprintf(p, sizeof(p), "%s[%zu]", path, i);
		if (!parse_mig_instance(c, o, p, g, (unsigned)i, &g->mig[g->n_mig++]))
			return false;
		for (size_t k = 0; k + 1 < g->n_mig; k++) {
			if (g->mig[k].gpu_instance_id == g->mig[i].gpu_instance_id) {
				sim_json_fail(c, p, "gpu_instance_id %u is used twice",
				              g->mig[i].gpu_instance_id);
				return false;
			}
		}
	}
	return true;
}

/* Identity strings and modes of one GPU, with an H200's answers by default (serial derived
 * from the index; no power-management inforom object, as nvidia-smi shows N/A). */
static bool parse_identity(const struct sim_json_ctx *c, const json_t *o, const char *path,
                           unsigned index, struct sim_gpu *g)
{
	char def_serial[32];
	snprintf(def_serial, sizeof(def_serial), "16549230%05u", index);
	return sim_json_get_u32(c, o, "power_mgmt_limit_w", path, g->power_limit_w,
	                        &g->power_mgmt_limit_w) &&
	       sim_json_get_string(c, o, "serial", path, def_serial, g->serial,
	                           sizeof(g->serial)) &&
	       sim_json_get_string(c, o, "vbios_version", path, "96.00.74.00.0B", g->vbios_version,
	                           sizeof(g->vbios_version)) &&
	       sim_json_get_u32(c, o, "brand", path, 14, &g->brand) &&
	       sim_json_get_string(c, o, "inforom_image_version", path, "G520.0200.00.05",
	                           g->inforom_image, sizeof(g->inforom_image)) &&
	       sim_json_get_string(c, o, "inforom_oem_version", path, "2.1", g->inforom_oem,
	                           sizeof(g->inforom_oem)) &&
	       sim_json_get_string(c, o, "inforom_ecc_version", path, "7.16", g->inforom_ecc,
	                           sizeof(g->inforom_ecc)) &&
	       sim_json_get_string(c, o, "inforom_power_version", path, "", g->inforom_power,
	                           sizeof(g->inforom_power)) &&
	       sim_json_get_u32(c, o, "virtualization_mode", path, 0, &g->virtualization_mode);
}

static bool parse_gpu(const struct sim_json_ctx *c, const json_t *o, const char *path,
                      unsigned index, bool repeated, struct sim_gpu *g)
{
	static const char *const keys[] = {"description",
	                                   "model",
	                                   "uuid",
	                                   "pci_bus_id",
	                                   "pci_device_id",
	                                   "pci_subsystem_id",
	                                   "minor",
	                                   "memory_total_mib",
	                                   "memory_reserved_mib",
	                                   "power_limit_w",
	                                   "power_mgmt_limit_w",
	                                   "serial",
	                                   "vbios_version",
	                                   "brand",
	                                   "inforom_image_version",
	                                   "inforom_oem_version",
	                                   "inforom_ecc_version",
	                                   "inforom_power_version",
	                                   "virtualization_mode",
	                                   "max_sm_clock_mhz",
	                                   "max_mem_clock_mhz",
	                                   "video_clock_mhz",
	                                   "shutdown_temp_c",
	                                   "slowdown_temp_c",
	                                   "max_operating_temp_c",
	                                   "mem_max_temp_c",
	                                   "pcie_gen",
	                                   "pcie_width",
	                                   "pcie_max_gen",
	                                   "pcie_max_width",
	                                   "ecc",
	                                   "supported_events",
	                                   "energy_start_mj",
	                                   "gpm",
	                                   "nvlink_links",
	                                   "nvlink_down",
	                                   "mig",
	                                   "metrics",
	                                   "faults",
	                                   "processes",
	                                   "repeat",
	                                   NULL};
	char def_uuid[64], def_bus[32], desc[1024];
	unsigned long long total_def = 143771;

	g->index = index;
	if (!sim_json_check_keys(c, o, keys, path))
		return false;
	if (repeated) {
		static const char *const unique[] = {"uuid", "pci_bus_id", "minor", "serial", NULL};
		for (const char *const *u = unique; *u; u++) {
			if (json_object_get(o, *u)) {
				char p[512];
				sim_json_join(p, sizeof(p), path, *u);
				sim_json_fail(c, p,
				              "cannot be combined with \"repeat\" (it is derived)");
				return false;
			}
		}
	}
	derive_uuid(index, def_uuid, sizeof(def_uuid));
	snprintf(def_bus, sizeof(def_bus), "00000000:%02X:00.0", (index + 1) & 0xff);
	if (!sim_json_get_string(c, o, "description", path, "", desc, sizeof(desc)) ||
	    !sim_json_get_string(c, o, "model", path, "NVIDIA H200", g->model, sizeof(g->model)) ||
	    !sim_json_get_string(c, o, "uuid", path, def_uuid, g->uuid, sizeof(g->uuid)) ||
	    !sim_json_get_string(c, o, "pci_bus_id", path, def_bus, g->pci_bus_id,
	                         sizeof(g->pci_bus_id)) ||
	    !sim_json_get_u32(c, o, "pci_device_id", path, 0x233510de, &g->pci_device_id) ||
	    !sim_json_get_u32(c, o, "pci_subsystem_id", path, 0x18be10de, &g->pci_subsystem_id) ||
	    !sim_json_get_u32(c, o, "minor", path, index, &g->minor) ||
	    !sim_json_get_uint(c, o, "memory_total_mib", path, total_def, 1ULL << 40,
	                       &g->memory_total_mib))
		return false;
	/* About 0.4% of the framebuffer is reserved by the driver on Hopper. */
	unsigned long long reserved_def = (g->memory_total_mib * 4 + 500) / 1000;
	if (!sim_json_get_uint(c, o, "memory_reserved_mib", path, reserved_def, g->memory_total_mib,
	                       &g->memory_reserved_mib) ||
	    !sim_json_get_u32(c, o, "power_limit_w", path, 700, &g->power_limit_w) ||
	    !sim_json_get_u32(c, o, "max_sm_clock_mhz", path, 1980, &g->max_sm_clock_mhz) ||
	    !sim_json_get_u32(c, o, "max_mem_clock_mhz", path, 3201, &g->max_mem_clock_mhz) ||
	    !sim_json_get_u32(c, o, "video_clock_mhz", path, 1710, &g->video_clock_mhz) ||
	    !sim_json_get_u32(c, o, "shutdown_temp_c", path, 95, &g->shutdown_temp_c) ||
	    !sim_json_get_u32(c, o, "slowdown_temp_c", path, 89, &g->slowdown_temp_c) ||
	    !sim_json_get_u32(c, o, "max_operating_temp_c", path, 87, &g->max_operating_temp_c) ||
	    !sim_json_get_u32(c, o, "mem_max_temp_c", path, 95, &g->mem_max_temp_c) ||
	    !sim_json_get_u32(c, o, "pcie_gen", path, 5, &g->pcie_gen) ||
	    !sim_json_get_u32(c, o, "pcie_width", path, 16, &g->pcie_width) ||
	    !sim_json_get_u32(c, o, "pcie_max_gen", path, 5, &g->pcie_max_gen) ||
	    !sim_json_get_u32(c, o, "pcie_max_width", path, 16, &g->pcie_max_width) ||
	    !sim_json_get_bool(c, o, "ecc", path, true, &g->ecc) ||
	    !sim_json_get_uint(c, o, "supported_events", path, 0xff9f, ~0ULL >> 11,
	                       &g->supported_events) ||
	    !sim_json_get_double(c, o, "energy_start_mj", path, 5e9, &g->energy_start_mj) ||
	    !sim_json_get_bool(c, o, "gpm", path, true, &g->gpm) ||
	    !sim_json_get_u32(c, o, "nvlink_links", path, 0, &g->nvlink_links) ||
	    !parse_nvlink_down(c, o, path, g))
		return false;
	if (!parse_identity(c, o, path, index, g))
		return false;
	if (g->nvlink_links > NVML_NVLINK_MAX_LINKS) {
		char p[512];
		sim_json_join(p, sizeof(p), path, "nvlink_links");
		sim_json_fail(c, p, "at most %d links", NVML_NVLINK_MAX_LINKS);
		return false;
	}
	if (g->energy_start_mj < 0) {
		char p[512];
		sim_json_join(p, sizeof(p), path, "energy_start_mj");
		sim_json_fail(c, p, "must be >= 0");
		return false;
	}
	if (!(g->description = strdup(desc))) {
		sim_json_fail(c, path, "out of memory");
		return false;
	}
	char p[512];
	sim_json_join(p, sizeof(p), path, "metrics");
	if (!parse_metrics(c, json_object_get(o, "metrics"), p, g))
		return false;
	sim_json_join(p, sizeof(p), path, "mig");
	if (!parse_mig(c, json_object_get(o, "mig"), p, g))
		return false;
	sim_json_join(p, sizeof(p), path, "processes");
	if (!sim_processes_parse(c, json_object_get(o, "processes"), p, g))
		return false;
	sim_json_join(p, sizeof(p), path, "faults");
	return sim_faults_parse(c, json_object_get(o, "faults"), p, g);
}

static void gpu_free(struct sim_gpu *g)
{
	for (size_t i = 0; i < g->n_mig; i++)
		gpu_free(&g->mig[i]);
	free(g->mig);
	free(g->description);
	for (int s = 0; s < SIM_SIG_COUNT; s++)
		sim_func_free(g->metrics[s]);
	free(g->unsupported_calls);
	free(g->errors);
	free(g->slow);
	free(g->hangs);
	free(g->events);
	sim_processes_free(g);
}

void sim_scenario_free(struct sim_scenario *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_gpus; i++)
		gpu_free(&s->gpus[i]);
	free(s->gpus);
	free(s->name);
	free(s->description);
	free(s->file);
	free(s);
}

static bool parse_gpus(const struct sim_json_ctx *c, const json_t *gpus, struct sim_scenario *s)
{
	static const size_t max_gpus = 64;
	if (!json_is_array(gpus)) {
		sim_json_fail(c, "gpus", "expected an array of GPU objects");
		return false;
	}
	size_t total = 0, i;
	const json_t *o;
	unsigned long long repeat[64];
	json_array_foreach(gpus, i, o)
	{
		char p[64];
		snprintf(p, sizeof(p), "gpus[%zu]", i);
		if (i >= max_gpus || !json_is_object(o)) {
			sim_json_fail(c, p, i >= max_gpus ? "too many GPUs" : "expected an object");
			return false;
		}
		if (!sim_json_get_uint(c, o, "repeat", p, 1, max_gpus, &repeat[i]))
			return false;
		total += repeat[i];
	}
	if (total > max_gpus) {
		sim_json_fail(c, "gpus", "%zu GPUs; the simulator supports at most %zu", total,
		              max_gpus);
		return false;
	}
	if (total && !(s->gpus = calloc(total, sizeof(*s->gpus)))) {
		sim_json_fail(c, "gpus", "out of memory");
		return false;
	}
	json_array_foreach(gpus, i, o)
	{
		char p[64];
		snprintf(p, sizeof(p), "gpus[%zu]", i);
		for (unsigned long long k = 0; k < repeat[i]; k++) {
			struct sim_gpu *g = &s->gpus[s->n_gpus++];
			if (!parse_gpu(c, o, p, (unsigned)(s->n_gpus - 1), repeat[i] > 1, g))
				return false;
		}
	}
	return true;
}

struct sim_scenario *sim_scenario_parse(const char *text, size_t len, const char *file,
                                        const char *base_dir, char *err, size_t errlen)
{
	static const char *const keys[] = {"name",
	                                   "description",
	                                   "driver_version",
	                                   "nvml_version",
	                                   "cuda_driver_version",
	                                   "init_error",
	                                   "time_scale",
	                                   "gpus",
	                                   NULL};
	struct sim_json_ctx c = {.file = file, .base_dir = base_dir, .err = err, .errlen = errlen};
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errlen, "%s:%d:%d: %s", file, jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	struct sim_scenario *s = calloc(1, sizeof(*s));
	char name[256], desc[1024];
	unsigned long long cuda, init_error;
	if (!s) {
		sim_json_fail(&c, "", "out of memory");
		goto err;
	}
	if (!sim_json_check_keys(&c, root, keys, "") ||
	    !sim_json_get_string(&c, root, "name", "", "unnamed", name, sizeof(name)) ||
	    !sim_json_get_string(&c, root, "description", "", "", desc, sizeof(desc)) ||
	    !sim_json_get_string(&c, root, "driver_version", "", "580.159.04", s->driver_version,
	                         sizeof(s->driver_version)) ||
	    !sim_json_get_string(&c, root, "nvml_version", "", "13.580.159.04", s->nvml_version,
	                         sizeof(s->nvml_version)) ||
	    !sim_json_get_uint(&c, root, "cuda_driver_version", "", 13000, INT_MAX, &cuda) ||
	    !sim_json_get_uint(&c, root, "init_error", "", 0, INT_MAX, &init_error) ||
	    !sim_json_get_double(&c, root, "time_scale", "", 1, &s->time_scale))
		goto err;
	/* Bounded so scenario time stays a number the integrals and functions can step
	 * through: 10000 runs a week in a minute. */
	if (!(s->time_scale >= SIM_TIME_SCALE_MIN && s->time_scale <= SIM_TIME_SCALE_MAX)) {
		sim_json_fail(&c, "time_scale",
		              "give 0.001 to 10000 (scenario seconds per second)");
		goto err;
	}
	s->cuda_driver_version = (int)cuda;
	s->init_error = (int)init_error;
	if (!(s->name = strdup(name)) || !(s->description = strdup(desc)) ||
	    !(s->file = strdup(file))) {
		sim_json_fail(&c, "", "out of memory");
		goto err;
	}
	if (!parse_gpus(&c, json_object_get(root, "gpus"), s))
		goto err;
	json_decref(root);
	return s;
err:
	sim_scenario_free(s);
	json_decref(root);
	return NULL;
}

struct sim_scenario *sim_scenario_load_file(const char *path, char *err, size_t errlen)
{
	if (strncmp(path, "builtin:", 8) == 0) {
		char name[256];
		size_t len;
		snprintf(name, sizeof(name), "scenarios/%s", path + 8);
		const char *text = sim_embedded_find(name, &len);
		if (!text) {
			snprintf(err, errlen, "%s: no such built-in scenario", path);
			return NULL;
		}
		return sim_scenario_parse(text, len, path, NULL, err, errlen);
	}
	size_t len = 0;
	const char *why;
	char *text = sim_read_file(path, &len, &why);
	if (!text) {
		snprintf(err, errlen, "%s: %s", path, why);
		return NULL;
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	if (slash == dir)
		snprintf(dir, sizeof(dir), "/");
	struct sim_scenario *s = sim_scenario_parse(text, len, path, dir, err, errlen);
	free(text);
	return s;
}

struct sim_scenario *sim_scenario_load_default(char *err, size_t errlen)
{
	return sim_scenario_load_file("builtin:default.json", err, errlen);
}

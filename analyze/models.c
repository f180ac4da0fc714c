/* models.c - editable tables of GPU prices, memory sizes, MIG profiles and
 * PCIe lane speeds for the diagnosis engine.
 *
 * EDIT HERE.  Prices are illustrative on-demand cloud list prices per
 * GPU-hour in USD (2024-2025), not quotes: set analyze_config's
 * price_per_gpu_hour, or point its prices at your own table, to price with
 * your contract.  Rows match by case-insensitive substring of the NVML name
 * and the first match wins, so a specific row ("A100-SXM4-80GB", "L40S")
 * must come before a general one ("A100", "L4").
 *
 * MIG sizes are the nominal memory in NVIDIA's profile names (NVIDIA MIG
 * user guide); the usable memory of an instance is a little smaller, which
 * is one reason fit suggestions add vram_headroom on top of the peak.
 */
#include "analyze/models.h"
#include "series/xid.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

#include "analyze/analyze.h"

#define GIB (1024.0 * 1024.0 * 1024.0)
#define MIB (1024.0 * 1024.0)

const struct analyze_model_price analyze_default_prices[] = {
    {"H200", 3.50},           /* H200 SXM and NVL, 141 GB */
    {"H100", 2.50},           /* H100 SXM, PCIe and NVL */
    {"A100-SXM4-80GB", 1.80}, /* NVML's name for the 80 GB SXM part */
    {"A100 80GB", 1.80},      /* 80 GB PCIe */
    {"A100", 1.30},           /* 40 GB parts */
    {"L40S", 1.00},           /* before "L4": "L4" is a substring of it */
    {"L4", 0.60},             /* 24 GB */
    {"A10", 0.75},            /* after "A100": "A10" is a substring of it */
};
const size_t analyze_default_prices_count =
    sizeof(analyze_default_prices) / sizeof(analyze_default_prices[0]);

/* Per parent model, smallest first; equal sizes: fewer compute slices first. */
static const struct analyze_mig_profile mig_profiles[] = {
    {"H200", "1g.18gb", 18 * GIB},
    {"H200", "1g.35gb", 35 * GIB},
    {"H200", "2g.35gb", 35 * GIB},
    {"H200", "3g.71gb", 71 * GIB},
    {"H200", "4g.71gb", 71 * GIB},
    {"H200", "7g.141gb", 141 * GIB},
    {"H100 NVL", "1g.12gb", 12 * GIB},
    {"H100 NVL", "1g.24gb", 24 * GIB},
    {"H100 NVL", "2g.24gb", 24 * GIB},
    {"H100 NVL", "3g.47gb", 47 * GIB},
    {"H100 NVL", "4g.47gb", 47 * GIB},
    {"H100 NVL", "7g.94gb", 94 * GIB},
    {"H100", "1g.10gb", 10 * GIB},
    {"H100", "1g.20gb", 20 * GIB},
    {"H100", "2g.20gb", 20 * GIB},
    {"H100", "3g.40gb", 40 * GIB},
    {"H100", "4g.40gb", 40 * GIB},
    {"H100", "7g.80gb", 80 * GIB},
    {"A100-SXM4-80GB", "1g.10gb", 10 * GIB},
    {"A100-SXM4-80GB", "1g.20gb", 20 * GIB},
    {"A100-SXM4-80GB", "2g.20gb", 20 * GIB},
    {"A100-SXM4-80GB", "3g.40gb", 40 * GIB},
    {"A100-SXM4-80GB", "4g.40gb", 40 * GIB},
    {"A100-SXM4-80GB", "7g.80gb", 80 * GIB},
    {"A100 80GB", "1g.10gb", 10 * GIB},
    {"A100 80GB", "1g.20gb", 20 * GIB},
    {"A100 80GB", "2g.20gb", 20 * GIB},
    {"A100 80GB", "3g.40gb", 40 * GIB},
    {"A100 80GB", "4g.40gb", 40 * GIB},
    {"A100 80GB", "7g.80gb", 80 * GIB},
    {"A100", "1g.5gb", 5 * GIB},
    {"A100", "1g.10gb", 10 * GIB},
    {"A100", "2g.10gb", 10 * GIB},
    {"A100", "3g.20gb", 20 * GIB},
    {"A100", "4g.20gb", 20 * GIB},
    {"A100", "7g.40gb", 40 * GIB},
};

/* Smallest first; a tie goes to the row listed first. */
static const struct analyze_gpu_model gpu_models[] = {
    {"NVIDIA L4 24GB", 23034 * MIB},     {"NVIDIA A100 40GB", 40960 * MIB},
    {"NVIDIA L40S 48GB", 46068 * MIB},   {"NVIDIA H100 80GB", 81559 * MIB},
    {"NVIDIA A100 80GB", 81920 * MIB},   {"NVIDIA H100 NVL 94GB", 95830 * MIB},
    {"NVIDIA H200 141GB", 143771 * MIB},
};

/* Per lane, per direction, after 8b/10b (gen 1-2), 128b/130b (gen 3-5) and
 * FLIT (gen 6) encoding. */
static const double pcie_lane_gbps[] = {0, 0.25, 0.5, 0.985, 1.969, 3.938, 7.563};

bool analyze_model_matches(const char *model, const char *match)
{
	if (!model || !match || !*match)
		return false;
	size_t ml = strlen(match);
	for (const char *p = model; *p; p++) {
		size_t i = 0;
		while (i < ml && p[i] &&
		       tolower((unsigned char)p[i]) == tolower((unsigned char)match[i]))
			i++;
		if (i == ml)
			return true;
	}
	return false;
}

double analyze_model_price(const struct analyze_model_price *table, size_t n, const char *model)
{
	for (size_t i = 0; table && i < n; i++)
		if (analyze_model_matches(model, table[i].match))
			return table[i].per_hour;
	return NAN;
}

const struct analyze_mig_profile *analyze_mig_smallest_fit(const char *model, double need)
{
	const char *parent = NULL;
	const size_t count = sizeof(mig_profiles) / sizeof(mig_profiles[0]);

	/* The first row whose parent matches decides the model's table. */
	for (size_t i = 0; i < count && !parent; i++)
		if (analyze_model_matches(model, mig_profiles[i].parent))
			parent = mig_profiles[i].parent;
	if (!parent)
		return NULL;
	for (size_t i = 0; i < count; i++) {
		const struct analyze_mig_profile *p = &mig_profiles[i];
		if (strcmp(p->parent, parent) != 0 || p->bytes < need)
			continue;
		/* The 7g profile is the whole GPU: no saving. */
		return p->name[0] == '7' ? NULL : p;
	}
	return NULL;
}

const struct analyze_gpu_model *analyze_gpu_model_smallest_fit(double need, double below)
{
	const size_t count = sizeof(gpu_models) / sizeof(gpu_models[0]);
	for (size_t i = 0; i < count; i++)
		if (gpu_models[i].bytes >= need)
			return gpu_models[i].bytes < below ? &gpu_models[i] : NULL;
	return NULL;
}

double analyze_pcie_lane_bytes_per_s(double gen)
{
	const size_t count = sizeof(pcie_lane_gbps) / sizeof(pcie_lane_gbps[0]);
	if (isnan(gen) || gen < 1 || gen >= (double)count || gen != floor(gen))
		return NAN;
	return pcie_lane_gbps[(size_t)gen] * 1e9;
}

/* NVLink per GPU: links and GB/s per link per direction (NVLink 2, 3 and 4 run 25 GB/s a
 * link, NVLink 5 50 GB/s).  PCIe boards first: a bridge, if any, is not known. */
static const struct {
	const char *match;
	double links, gbps;
} nvlink_models[] = {
    {"PCIe", 0, 0},    {"H800", 8, 25},   {"H100", 18, 25}, {"H200", 18, 25},
    {"GH200", 18, 25}, {"A800", 8, 25},   {"A100", 12, 25}, {"V100", 6, 25},
    {"B200", 18, 50},  {"GB200", 18, 50}, {"B300", 18, 50}, {"B100", 18, 50},
};

double analyze_nvlink_bytes_per_s(const char *model, double links)
{
	for (size_t i = 0; i < sizeof(nvlink_models) / sizeof(nvlink_models[0]); i++) {
		if (!analyze_model_matches(model, nvlink_models[i].match))
			continue;
		if (nvlink_models[i].links == 0)
			return NAN;
		double n = isnan(links) || links <= 0 ? nvlink_models[i].links : links;
		return n * nvlink_models[i].gbps * 1e9;
	}
	return NAN;
}

const char *analyze_xid_name(int code)
{
	return xid_name(code);
}

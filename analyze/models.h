/* models.h - what the diagnosis engine knows about GPU models: prices,
 * memory sizes, MIG profiles and PCIe link speeds.
 *
 * The tables are plain arrays in models.c, meant to be edited (docs/
 * diagnosis.md lists them); a model is found by case-insensitive substring
 * of its NVML name, first matching row wins.
 */
#ifndef GPUSCOPE_ANALYZE_MODELS_H
#define GPUSCOPE_ANALYZE_MODELS_H

#include <stdbool.h>
#include <stddef.h>

struct analyze_mig_profile {
	const char *parent; /* substring of the parent GPU's NVML name */
	const char *name;   /* e.g. "1g.18gb" */
	double bytes;       /* nominal memory of the profile */
};

struct analyze_gpu_model {
	const char *name;
	double bytes; /* memory.total as NVML reports it, approximately */
};

/* Case-insensitive substring test; false when either is NULL. */
bool analyze_model_matches(const char *model, const char *match);

/* The smallest MIG profile of `model` holding `need` bytes, NULL when the
 * model has no MIG table row or nothing smaller than the whole GPU fits. */
const struct analyze_mig_profile *analyze_mig_smallest_fit(const char *model, double need);

/* The GPU model with the least memory that holds `need` bytes and has less
 * than `below` bytes (the GPU's own size), or NULL. */
const struct analyze_gpu_model *analyze_gpu_model_smallest_fit(double need, double below);

/* Usable bytes per second of one lane in one direction for a PCIe
 * generation (after line encoding), NaN for an unknown generation. */
double analyze_pcie_lane_bytes_per_s(double gen);

/* NVLink bandwidth of one GPU in one direction, bytes per second: `links` links up (NaN:
 * the model's full count) times its generation's per-link rate; NaN for a model without
 * NVLink or not in the table. */
double analyze_nvlink_bytes_per_s(const char *model, double links);

/* A short human name for an Xid code, or NULL. */
const char *analyze_xid_name(int code);

#endif

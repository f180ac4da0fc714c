/* sim_exports.h - how the simulator's calls become the NVML exports (private to the library).
 *
 * Every row of NVML_SYMBOLS (nvml/nvml_abi.h) is answered by a static function sim_<field>
 * whose prototype is generated from the row, so a signature that drifts from the ABI fails to
 * compile, and is exported under the row's newest name by an alias generated from the same row
 * (the symbol name string becomes the assembler name).
 *
 * An alias must be defined in the translation unit of its target, so the rows are divided
 * between the files that define them: the rows listed below with file 1 are defined in
 * sim_events.c, those with file 2 in sim_gpm.c (GPM, sample buffers, MIG, NVLink), those with
 * file 3 in sim_procs.c (running processes and their utilization), those with file 4 in
 * sim_identity.c (identity strings, modes, fan, power-management limit, violations), every
 * other row in sim_nvml.c (file 0, so a new row lands there).  Each file expands
 * NVML_SYMBOLS(SIM_FILE_PROTOTYPE_<n>) at its top and NVML_SYMBOLS(SIM_FILE_EXPORT_<n>) at its
 * end.  A row listed in the wrong file fails to compile (a static function declared but never
 * defined, or defined but unused, an alias of an undefined symbol).  Forwarding functions in
 * sim_nvml.c would have needed no macros, but would have left those calls' signatures
 * unchecked against the ABI and two functions per call.
 *
 * The row test is the Linux kernel's IS_ENABLED() trick: SIM_ROW_FILE_<field> expands to
 * "~, n" for a listed row, which moves n into second place; for any other row the pasted
 * name is no macro, stays one token, and the 0 after it comes second.
 */
#ifndef GPUSCOPE_SIM_EXPORTS_H
#define GPUSCOPE_SIM_EXPORTS_H

#include "nvml/nvml_abi.h"

#define SIM_ROW_FILE_event_set_create                      ~, 1
#define SIM_ROW_FILE_device_register_events                ~, 1
#define SIM_ROW_FILE_event_set_wait                        ~, 1
#define SIM_ROW_FILE_event_set_free                        ~, 1
#define SIM_ROW_FILE_device_get_samples                    ~, 2
#define SIM_ROW_FILE_gpm_query_device_support              ~, 2
#define SIM_ROW_FILE_gpm_sample_alloc                      ~, 2
#define SIM_ROW_FILE_gpm_sample_free                       ~, 2
#define SIM_ROW_FILE_gpm_sample_get                        ~, 2
#define SIM_ROW_FILE_gpm_mig_sample_get                    ~, 2
#define SIM_ROW_FILE_gpm_metrics_get                       ~, 2
#define SIM_ROW_FILE_device_get_mig_mode                   ~, 2
#define SIM_ROW_FILE_device_get_max_mig_device_count       ~, 2
#define SIM_ROW_FILE_device_get_mig_device_handle_by_index ~, 2
#define SIM_ROW_FILE_device_get_gpu_instance_id            ~, 2
#define SIM_ROW_FILE_device_get_nvlink_state               ~, 2
#define SIM_ROW_FILE_device_get_compute_running_processes  ~, 3
#define SIM_ROW_FILE_device_get_graphics_running_processes ~, 3
#define SIM_ROW_FILE_device_get_process_utilization        ~, 3
#define SIM_ROW_FILE_device_get_fan_speed                  ~, 4
#define SIM_ROW_FILE_device_get_power_management_limit     ~, 4
#define SIM_ROW_FILE_device_get_violation_status           ~, 4
#define SIM_ROW_FILE_device_get_virtualization_mode        ~, 4
#define SIM_ROW_FILE_device_get_grid_licensable_features   ~, 4
#define SIM_ROW_FILE_device_get_brand                      ~, 4
#define SIM_ROW_FILE_device_get_serial                     ~, 4
#define SIM_ROW_FILE_device_get_vbios_version              ~, 4
#define SIM_ROW_FILE_device_get_inforom_version            ~, 4
#define SIM_ROW_FILE_device_get_inforom_image_version      ~, 4
#define SIM_ROW_FILE_device_get_p2p_status                 ~, 4

#define SIM_SECOND_(a, b, ...) b
#define SIM_SECOND(...)        SIM_SECOND_(__VA_ARGS__)
#define SIM_CAT_(a, b)         a##b
#define SIM_CAT(a, b)          SIM_CAT_(a, b)
#define SIM_ROW_FILE(field)    SIM_SECOND(SIM_ROW_FILE_##field, 0, ~)

/* SIM_IF_FILE(n, field, code) is code when the row belongs to file n, nothing otherwise. */
#define SIM_SEL_0_0(...) __VA_ARGS__
#define SIM_SEL_0_1(...)
#define SIM_SEL_0_2(...)
#define SIM_SEL_0_3(...)
#define SIM_SEL_0_4(...)
#define SIM_SEL_1_0(...)
#define SIM_SEL_1_1(...) __VA_ARGS__
#define SIM_SEL_1_2(...)
#define SIM_SEL_1_3(...)
#define SIM_SEL_1_4(...)
#define SIM_SEL_2_0(...)
#define SIM_SEL_2_1(...)
#define SIM_SEL_2_2(...) __VA_ARGS__
#define SIM_SEL_2_3(...)
#define SIM_SEL_2_4(...)
#define SIM_SEL_3_0(...)
#define SIM_SEL_3_1(...)
#define SIM_SEL_3_2(...)
#define SIM_SEL_3_3(...) __VA_ARGS__
#define SIM_SEL_3_4(...)
#define SIM_SEL_4_0(...)
#define SIM_SEL_4_1(...)
#define SIM_SEL_4_2(...)
#define SIM_SEL_4_3(...)
#define SIM_SEL_4_4(...) __VA_ARGS__
#define SIM_IF_FILE(n, field, ...) \
	SIM_CAT(SIM_CAT(SIM_SEL_, n), SIM_CAT(_, SIM_ROW_FILE(field)))(__VA_ARGS__)

#define SIM_EXPORT __attribute__((visibility("default")))

#define SIM_PROTOTYPE(field, req, ret, params, newest, fallback) static ret sim_##field params;
#define SIM_EXPORT_NEWEST(field, req, ret, params, newest, fallback) \
	SIM_EXPORT ret sim_export_##field params __asm__(newest)     \
	    __attribute__((alias("sim_" #field)));

#define SIM_FILE_PROTOTYPE_0(field, ...) SIM_IF_FILE(0, field, SIM_PROTOTYPE(field, __VA_ARGS__))
#define SIM_FILE_EXPORT_0(field, ...)    SIM_IF_FILE(0, field, SIM_EXPORT_NEWEST(field, __VA_ARGS__))
#define SIM_FILE_PROTOTYPE_1(field, ...) SIM_IF_FILE(1, field, SIM_PROTOTYPE(field, __VA_ARGS__))
#define SIM_FILE_EXPORT_1(field, ...)    SIM_IF_FILE(1, field, SIM_EXPORT_NEWEST(field, __VA_ARGS__))
#define SIM_FILE_PROTOTYPE_2(field, ...) SIM_IF_FILE(2, field, SIM_PROTOTYPE(field, __VA_ARGS__))
#define SIM_FILE_EXPORT_2(field, ...)    SIM_IF_FILE(2, field, SIM_EXPORT_NEWEST(field, __VA_ARGS__))
#define SIM_FILE_PROTOTYPE_3(field, ...) SIM_IF_FILE(3, field, SIM_PROTOTYPE(field, __VA_ARGS__))
#define SIM_FILE_EXPORT_3(field, ...)    SIM_IF_FILE(3, field, SIM_EXPORT_NEWEST(field, __VA_ARGS__))
#define SIM_FILE_PROTOTYPE_4(field, ...) SIM_IF_FILE(4, field, SIM_PROTOTYPE(field, __VA_ARGS__))
#define SIM_FILE_EXPORT_4(field, ...)    SIM_IF_FILE(4, field, SIM_EXPORT_NEWEST(field, __VA_ARGS__))

#endif

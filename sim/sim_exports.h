/* sim_exports.h - how the simulator's calls become the NVML exports (private to the library).
 *
 * Every row of NVML_SYMBOLS (nvml/nvml_abi.h) is answered by a static function sim_<field>
 * whose prototype is generated from the row, so a signature that drifts from the ABI fails to
 * compile, and is exported under the row's newest name by an alias generated from the same row
 * (the symbol name string becomes the assembler name).
 *
 * An alias must be defined in the translation unit of its target, so the rows are divided
 * between the files that define them: the rows listed below are defined in sim_events.c, every
 * other row in sim_nvml.c (so a new row lands there).  Each file expands
 * NVML_SYMBOLS(SIM_<FILE>_PROTOTYPE) at its top and NVML_SYMBOLS(SIM_<FILE>_EXPORT) at its end.
 * A row listed here but defined in sim_nvml.c, or the reverse, fails to compile (a static
 * function declared but never defined or defined but unused, an alias of an undefined symbol).
 * Forwarding functions in sim_nvml.c would have needed no macros, but would have left the event
 * calls' signatures unchecked against the ABI and two functions per call.
 *
 * The row test is the Linux kernel's IS_ENABLED() trick: SIM_EVENTS_ROW_<field> expands to
 * "~, 1" for a listed row, which moves the 1 into second place; for any other row the pasted
 * name is no macro, stays one token, and the 0 after it comes second.
 */
#ifndef GPUSCOPE_SIM_EXPORTS_H
#define GPUSCOPE_SIM_EXPORTS_H

#include "nvml/nvml_abi.h"

#define SIM_EVENTS_ROW_event_set_create       ~, 1
#define SIM_EVENTS_ROW_device_register_events ~, 1
#define SIM_EVENTS_ROW_event_set_wait         ~, 1
#define SIM_EVENTS_ROW_event_set_free         ~, 1

#define SIM_SECOND_(a, b, ...)   b
#define SIM_SECOND(...)          SIM_SECOND_(__VA_ARGS__)
#define SIM_CAT_(a, b)           a##b
#define SIM_CAT(a, b)            SIM_CAT_(a, b)
#define SIM_IS_EVENTS_ROW(field) SIM_SECOND(SIM_EVENTS_ROW_##field, 0, ~)

/* SIM_IF_EVENTS_ROW(field, code) is code for a row of sim_events.c, SIM_IF_NVML_ROW for others. */
#define SIM_KEEP_1(...) __VA_ARGS__
#define SIM_KEEP_0(...)
#define SIM_DROP_1(...)
#define SIM_DROP_0(...)               __VA_ARGS__
#define SIM_IF_EVENTS_ROW(field, ...) SIM_CAT(SIM_KEEP_, SIM_IS_EVENTS_ROW(field))(__VA_ARGS__)
#define SIM_IF_NVML_ROW(field, ...)   SIM_CAT(SIM_DROP_, SIM_IS_EVENTS_ROW(field))(__VA_ARGS__)

#define SIM_EXPORT __attribute__((visibility("default")))

#define SIM_PROTOTYPE(field, req, ret, params, newest, fallback) static ret sim_##field params;
#define SIM_EXPORT_NEWEST(field, req, ret, params, newest, fallback) \
	SIM_EXPORT ret sim_export_##field params __asm__(newest)     \
	    __attribute__((alias("sim_" #field)));

#define SIM_NVML_PROTOTYPE(field, ...)   SIM_IF_NVML_ROW(field, SIM_PROTOTYPE(field, __VA_ARGS__))
#define SIM_NVML_EXPORT(field, ...)      SIM_IF_NVML_ROW(field, SIM_EXPORT_NEWEST(field, __VA_ARGS__))
#define SIM_EVENTS_PROTOTYPE(field, ...) SIM_IF_EVENTS_ROW(field, SIM_PROTOTYPE(field, __VA_ARGS__))
#define SIM_EVENTS_EXPORT(field, ...) \
	SIM_IF_EVENTS_ROW(field, SIM_EXPORT_NEWEST(field, __VA_ARGS__))

#endif

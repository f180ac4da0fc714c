/* xid.c - the Xid table behind xid.h; codes from NVIDIA's Xid catalogue, the ones a
 * data-centre GPU reports in practice. */
#include "series/xid.h"

#include <stddef.h>

static const struct {
	int code;
	const char *name;
} xid_names[] = {
    {8, "GPU stopped processing (timeout)"},
    {13, "graphics engine exception"},
    {31, "GPU memory page fault"},
    {32, "invalid or corrupted push buffer stream"},
    {38, "driver firmware error"},
    {43, "GPU stopped processing"},
    {45, "preemptive cleanup, due to previous errors"},
    {48, "double-bit ECC error"},
    {61, "internal micro-controller breakpoint or warning"},
    {62, "internal micro-controller halt"},
    {63, "ECC page retirement or row remapping recorded"},
    {64, "ECC page retirement or row remapping failure"},
    {68, "video processor exception"},
    {69, "graphics engine class error"},
    {74, "NVLink error"},
    {79, "GPU has fallen off the bus"},
    {92, "high single-bit ECC error rate"},
    {94, "contained ECC error"},
    {95, "uncontained ECC error"},
    {109, "context switch timeout"},
    {119, "GSP RPC timeout"},
    {120, "GSP error"},
    {121, "C2C link corrected error"},
    {140, "unrecovered ECC error"},
    {143, "GPU initialization failure"},
    {154, "GPU recovery action changed"},
};

const char *xid_name(int code)
{
	for (size_t i = 0; i < sizeof(xid_names) / sizeof(xid_names[0]); i++)
		if (xid_names[i].code == code)
			return xid_names[i].name;
	return NULL;
}

const char *xid_description(int code)
{
	const char *n = xid_name(code);
	return n ? n : "Unknown Error";
}

/* mig.c - which rows a MIG instance has values of (see mig.h). */
#include "series/mig.h"

bool metric_per_mig(int m)
{
	return m == METRIC_FB_USED || m == METRIC_FB_FREE || m == METRIC_FB_RESERVED ||
	       m == METRIC_FB_TOTAL || metric_table[m].source == SRC_GPM;
	/* (The graphics engine's GPM figure is the whole GPU's, on the slow tier.) */
}

/* xid.h - what an Xid code means, in a few words.
 *
 * The driver reports GPU errors as Xid codes (NVIDIA's "Xid Errors" catalogue).  The
 * diagnosis names them in its evidence and the exporter puts the words in dcgm-exporter's
 * err_msg label of DCGM_FI_DEV_XID_ERRORS; both read this one table.  Its own small
 * library (gpuscope_xid), so analyze/ can use it without the agent's core.
 */
#ifndef GPUSCOPE_SERIES_XID_H
#define GPUSCOPE_SERIES_XID_H

/* The words for a known code, or NULL. */
const char *xid_name(int code);

/* xid_name, or "Unknown Error" for a code the table does not have. */
const char *xid_description(int code);

#endif

/* snapshot.h - the board and the clocks, for the rooms that include them together.
 *
 * The board (series/board.h) and the time helpers (series/now.h) are modules
 * of their own; this umbrella keeps the includes of the rooms that read a
 * board snapshot unchanged.  New code includes what it uses.
 */
#ifndef GPUSCOPE_SNAPSHOT_H
#define GPUSCOPE_SNAPSHOT_H

#include "series/board.h"
#include "series/now.h"

#endif

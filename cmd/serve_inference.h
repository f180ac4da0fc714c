/* serve_inference.h - `gpuscope serve`'s flags for the inference receiver
 * (inference/receiver.h): --inference-socket and --inference-cap. */
#ifndef GPUSCOPE_CMD_SERVE_INFERENCE_H
#define GPUSCOPE_CMD_SERVE_INFERENCE_H

#include <stddef.h>

#include "inference/receiver.h"

/* Tries argv[*i] as one of these flags: 1 taken, 0 not ours, -1 bad value (err filled). */
int serve_inference_take(struct inference_receiver *si, int argc, char **argv, int *i, char *err,
                         size_t errlen);
extern const char serve_inference_usage[];

#endif

/* libgf, the Gigafactory training engine: the one header a program needs.
 * Build a model from a spec, train it with the trainer, save and restore
 * checkpoints, read datasets. Every function returns a gf_status; on
 * failure gf_last_error() says what went wrong. */
#ifndef GF_H
#define GF_H

#define GF_VERSION "0.1.0"

#include "core/error.h"
#include "data/dataset.h"
#include "engine/model.h"
#include "engine/optim.h"
#include "engine/spec.h"
#include "io/safetensors.h"
#include "train/checkpoint.h"
#include "train/dpsgd.h"
#include "train/trainer.h"

#endif

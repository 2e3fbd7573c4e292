/* The table of layer kinds: what each spec layer type runs forward and
 * backward (glue from gf_layer views to the raw kernels in ops.h). */
#ifndef GF_ENGINE_LAYERS_H
#define GF_ENGINE_LAYERS_H
#include "engine/model.h"
const gf_layer_kind *gf_layer_kind_of(gf_layer_type type);
#endif

/*
 * layers_conv.h — the convolutional layer kinds defined across
 * layers_conv.c (conv2d, pooling), layers_norm.c (batch norm) and
 * layers_block.c (basic_block), joined into layer_kinds_conv in
 * layers_conv.c. Internal to those files; everyone else finds kinds by name
 * through layer.h.
 */
#ifndef TB_LAYERS_CONV_H
#define TB_LAYERS_CONV_H

#include "layer.h"

extern const struct layer_kind layer_kind_batchnorm1d;
extern const struct layer_kind layer_kind_batchnorm2d;
extern const struct layer_kind layer_kind_batchnorm;
extern const struct layer_kind layer_kind_basic_block;

/* "conv2d needs an image input [C, H, W] but gets [784]" at l->pos when l->in is not an image. */
int layer_need_image(struct layer *l, struct spec_errors *errs);

#endif

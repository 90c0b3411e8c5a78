/*
 * layers_conv.c — convolutional layers (conv2d, batch norm, pooling,
 * basic_block). The table is filled by the convolutional engine work.
 */
#include "layer.h"

const struct layer_kind *const layer_kinds_conv[] = {NULL};

/*
 * onnx_export.h — a checkpoint as an ONNX model (opset 17), for
 * `trainbook export CHECKPOINT --onnx model.onnx`.
 *
 * The model's one input, "input", is float32 [N, C, H, W] (or [N, F] for
 * tabular data) holding what the run's loader produced before normalising:
 * image bytes divided by 255 (torchvision's ToTensor), or the features as
 * stored. The spec's normalisation is the graph's first two nodes (Sub the
 * mean, Div by the std, per channel), so no caller has to know it. The one
 * output, "logits", is float32 [N, classes]; the class names, input shape,
 * input kind and channel order are in the model's metadata_props, under
 * the checkpoint's metadata keys (preprocess.h). Weights keep their
 * state_dict names as initializer names; batch norm is its evaluation form
 * (running statistics) and dropout the identity.
 *
 * Threads: the caller's.
 */
#ifndef TB_ONNX_EXPORT_H
#define TB_ONNX_EXPORT_H

#include <stddef.h>
#include <stdint.h>

struct inference;

/* Write the opened checkpoint's model to `path` atomically. Returns the file's size, or -1 with err. */
int64_t onnx_export(const struct inference *inf, const char *path, char *err, size_t errlen);

#endif

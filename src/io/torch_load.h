// torch_load.h: read a PyTorch checkpoint written by torch.save (the zip format of PyTorch >= 1.6,
// e.g. a Hugging Face pytorch_model.bin) holding a state_dict: a dict / collections.OrderedDict of
// name -> tensor. Nothing is executed: "<prefix>/data.pkl" is parsed by the project's pickle reader
// (io/pickle.h) with a fixed allow-list of globals (collections.OrderedDict,
// torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and the torch.*Storage classes);
// any other global is refused with an error naming it. Each tensor is
//   _rebuild_tensor_v2(persistent_id('storage', torch.XStorage, key, location, numel),
//                      storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
// whose storage is the STORED zip entry "<prefix>/data/<key>", used in place from the memory map.
// Validated at open: storage dtype known, the zip entry holds numel elements and passes its CRC-32,
// sizes/strides non-negative with overflow-checked products, and every element the view can reach
// (storage_offset + sum((size_d - 1) * stride_d)) lies inside its storage. Arbitrary strides and
// storage offsets (views, transposes, shared storages) are supported.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/common.h"
#include "io/safetensors.h" // StDtype
#include "io/zip.h"

typedef struct {
    char *name;
    StDtype dtype; // of the storage
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    int64_t stride[ST_MAX_DIMS]; // in elements
    int64_t storage_offset;      // in elements
    size_t numel;
    const uint8_t *storage;      // in place in the map
    size_t storage_numel;
} TorchTensor;


typedef struct {
    char *path;
    MappedFile mf_;
    Zip zip_;
    TorchTensor *t; // in the pickle's order
    int n;
} TorchFile;

int torch_open(TorchFile *f, const char *path, char *err);
// The same on a buffer already in memory (must outlive f); `name` is used in messages.
int torch_parse(TorchFile *f, const uint8_t *buf, size_t size, const char *name, char *err);
void torch_close(TorchFile *f);
const TorchTensor *torch_find(const TorchFile *f, const char *name); // NULL if absent
// Gather a tensor (any strides) into dst[n] (n must equal numel), row-major, converted to float:
// F32 bit-exactly, F16/BF16/F64 converted, integer storages refused.
int torch_to_f32(const TorchFile *f, const TorchTensor *t, float *dst, size_t n, char *err);

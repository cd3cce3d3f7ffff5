// torch_load.h: read a PyTorch file written by torch.save (the zip format of PyTorch >= 1.6) that
// holds either
//   - a state_dict: a dict / collections.OrderedDict of name -> tensor (e.g. a Hugging Face
//     pytorch_model.bin, or torch.save(model.state_dict())), or
//   - a whole module: torch.save(model), whose pickle names the model's own classes (the MIRD
//     authors' models.WSABERTReconMIM, modules.WSA, transformers' BertModel, torch.nn.Linear...).
// Nothing is executed: "<prefix>/data.pkl" is parsed by the project's pickle reader (io/pickle.h)
// under its inert-classes policy: any class becomes an inert placeholder (NEWOBJ / BUILD only record
// the instance state), and REDUCE may only call a fixed list of harmless callables (the tensor
// rebuild functions, collections.OrderedDict, builtins.set, ...); a REDUCE of anything else
// (os.system, builtins.eval, an unknown function) is refused with one line naming it.
// A whole module is walked as Module.state_dict() does: the object's `_parameters`, then its
// `_buffers` except those named in `_non_persistent_buffers_set`, then each child of `_modules`
// with "<child>." appended to the prefix; None entries are skipped. The walk is bounded in depth
// (TORCH_MAX_DEPTH) and total work (TORCH_MAX_VISITS): memo references can share a submodule many
// times. Scalar attributes met on the way (int, float, bool, str: beta_shift, Dropout's p, and one
// level into plain objects such as a BertConfig) are kept as TorchAttr under the same dotted names.
// Each tensor is
//   _rebuild_tensor_v2(persistent_id('storage', torch.XStorage, key, location, numel),
//                      storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
// possibly wrapped by _rebuild_parameter(_with_state) or _rebuild_from_type_v2, whose storage is the
// STORED zip entry "<prefix>/data/<key>", used in place from the memory map (the location, e.g.
// "cuda:0" for a model saved on a GPU, is ignored).
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


// A scalar attribute of a module (or of a plain object one level below it), e.g.
// "mult_encoder.model.WSA.beta_shift" or "mult_encoder.model.config.num_attention_heads".
typedef struct {
    char *name;
    int kind;   // PK_BOOL, PK_INT, PK_FLOAT or PK_STR (io/pickle.h)
    double num; // bool / int / float value
    char *str;  // PK_STR: NUL-terminated copy (at most 255 bytes kept)
} TorchAttr;

#define TORCH_MAX_DEPTH 64          // nested submodules
#define TORCH_MAX_VISITS (1L << 20) // modules, tensors and attributes visited in all

typedef struct TorchFile {
    char *path;
    MappedFile mf_;
    Zip zip_;
    TorchTensor *t; // state_dict order
    int n, cap_;
    int whole_module;  // 1: torch.save(model); 0: a state_dict
    char *root_class;  // whole module: "module.Class" of the root object (else NULL)
    TorchAttr *attr;
    int n_attr, cap_attr_;
} TorchFile;

// What REDUCE may call in a torch.save pickle (NULL-terminated "module.name" list, io/pickle.h).
extern const char *const TORCH_CALLABLES[];

int torch_open(TorchFile *f, const char *path, char *err);
// The same on a buffer already in memory (must outlive f); `name` is used in messages.
int torch_parse(TorchFile *f, const uint8_t *buf, size_t size, const char *name, char *err);
void torch_close(TorchFile *f);
const TorchTensor *torch_find(const TorchFile *f, const char *name); // NULL if absent
const TorchAttr *torch_attr(const TorchFile *f, const char *name);   // NULL if absent
// 1 if the file starts like a zip archive (what torch.save writes since PyTorch 1.6).
int torch_is_zip(const uint8_t *data, size_t size);
// Gather a tensor (any strides) into dst[n] (n must equal numel), row-major, converted to float:
// F32 bit-exactly, F16/BF16/F64 converted, integer storages refused.
int torch_to_f32(const TorchFile *f, const TorchTensor *t, float *dst, size_t n, char *err);

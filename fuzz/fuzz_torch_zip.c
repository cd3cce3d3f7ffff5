// fuzz_torch_zip.c: PyTorch zip checkpoints (io/zip.h + io/torch_load.h) on arbitrary bytes:
// the zip central directory with CRC checks of every stored entry, then the torch.save loader
// (data.pkl through the non-executing pickle reader: a state_dict, or a whole module walked as
// state_dict() does, with its scalar attributes), the strided gather of each tensor, and the MIRD
// configuration inferred from the file (mird_config_of_file).
#include <string.h>

#include "core/common.h"
#include "fuzz_util.h"
#include "io/pickle.h"
#include "io/torch_load.h"
#include "io/zip.h"
#include "models/mird.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[MIRD_ERRLEN];
    err[0] = 0;
    Zip z;
    if (zip_parse(&z, data, size, "fuzz.zip", err) == 0) {
        for (int i = 0; i < z.n; i++) {
            const ZipEntry *e = &z.e[i];
            if (zip_find(&z, e->name) == NULL) abort();
            if (e->data && (e->data < data || e->size > size || e->data + e->size > data + size)) abort();
            if (zip_check_crc(&z, e, err) != 0) fuzz_check_err(err);
        }
        zip_free(&z);
    } else {
        if (!err[0]) abort();
        fuzz_check_err(err);
    }
    TorchFile f;
    err[0] = 0;
    if (torch_parse(&f, data, size, "fuzz.bin", err) != 0) {
        if (!err[0]) abort();
        fuzz_check_err(err);
        return 0;
    }
    if (f.root_class && !f.whole_module) abort();
    for (int i = 0; i < f.n_attr; i++) {
        const TorchAttr *a = &f.attr[i];
        if (torch_attr(&f, a->name) == NULL || strchr(a->name, '\n') || (a->kind == PK_STR) != (a->str != NULL)) abort();
    }
    for (int i = 0; i < f.n; i++) {
        const TorchTensor *t = &f.t[i];
        if (torch_find(&f, t->name) == NULL || strchr(t->name, '\n')) abort();
        if (t->numel > (1u << 22)) continue;
        float *buf = malloc((t->numel ? t->numel : 1) * sizeof(float));
        if (torch_to_f32(&f, t, buf, t->numel, err) != 0) fuzz_check_err(err);
        free(buf);
    }
    torch_close(&f);
    // the MIRD configuration inferred from the file (shapes, module attributes), from a path
    MirdConfig c;
    mird_notes = 0;
    if (mird_config_of_file(&c, fuzz_memfile(data, size), NULL, NULL, err) != 0) fuzz_check_err(err);
    else if (mird_config_validate(&c, err) != 0) abort(); // what it returns is a valid configuration
    return 0;
}

// fuzz_model_config.c: the MIRD model configuration (models/mird_config.h) from arbitrary bytes,
// as `mird init --config` and a checkpoint's mird.config metadata give it: JSON text -> MirdConfig
// (with the nested Hugging Face "bert" block), validation, and the round trip through
// mird_config_to_string (an accepted configuration must be accepted again, unchanged).
#include <string.h>

#include "core/common.h"
#include "fuzz_util.h"
#include "models/mird_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[MIRD_ERRLEN];
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    MirdConfig c;
    if (mird_config_from_string(&c, text, "fuzz.json", err) == 0) {
        if (mird_config_validate(&c, err) != 0) abort();
        char *s = mird_config_to_string(&c);
        MirdConfig c2;
        if (mird_config_from_string(&c2, s, "round trip", err) != 0) {
            fprintf(stderr, "round trip refused: %s\n%s\n", err, s);
            abort();
        }
        char *s2 = mird_config_to_string(&c2);
        if (strcmp(s, s2)) {
            fprintf(stderr, "round trip changed the configuration:\n%s\n%s\n", s, s2);
            abort();
        }
        free(s);
        free(s2);
    } else {
        fuzz_check_err(err);
    }
    free(text);
    return 0;
}

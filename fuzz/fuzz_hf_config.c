// fuzz_hf_config.c: a Hugging Face BERT config.json (models/bert.h bert_config_from_json) from
// arbitrary bytes, as hf_bert_read_config reads it: JSON parse, key checks, validation, and the
// round trip through bert_config_to_json (a config it accepts must be accepted again, with every
// key kept and unchanged).
#include <string.h>

#include "core/common.h"
#include "fuzz_util.h"
#include "models/bert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[MIRD_ERRLEN];
    json_error_t je;
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!j) return 0;
    BertConfig c;
    if (bert_config_from_json(&c, j, err) == 0) {
        if (bert_config_validate(&c, err) != 0) abort();
        json_t *back = bert_config_to_json(&c);
        BertConfig c2;
        if (bert_config_from_json(&c2, back, err) != 0) {
            fprintf(stderr, "round trip refused: %s\n", err);
            abort();
        }
        json_t *again = bert_config_to_json(&c2);
        if (!json_equal(back, again)) { // every value must survive (an infinite float would be dropped)
            fprintf(stderr, "round trip changed the configuration\n");
            abort();
        }
        char *s = json_dumps(back, 0);
        if (!s || !strstr(s, "layer_norm_eps") || !strstr(s, "initializer_range")) abort(); // nothing dropped
        free(s);
        json_decref(again);
        json_decref(back);
    } else {
        fuzz_check_err(err);
    }
    json_decref(j);
    return 0;
}

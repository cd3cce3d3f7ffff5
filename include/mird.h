/* mird.h: the C API of mird (build/libmird.so), the one header a program outside the repository
 * includes. It predicts sentiment scores and latents with a trained MIRD checkpoint, exactly as
 * `mird predict` and `mird train --dump-latents` compute them, and runs `mird train`.
 *
 *   mird_error e;
 *   mird_model *m;
 *   if (mird_model_open(&m, "run/seed_0/best.safetensors", NULL, &e)) { puts(e.message); return 1; }
 *   const char *texts[2] = {"what a great movie", "boring"};
 *   mird_clips c = {0};
 *   c.n = 2, c.texts = texts;
 *   c.audio = audio, c.ta = 400, c.da = 33;   // float [2, 400, 33], row-major; NULL = no audio
 *   c.video = video, c.tv = 50, c.dv = 709;
 *   float y[2];
 *   if (mird_predict(m, &c, y, NULL, NULL, NULL, NULL, &e)) puts(e.message);
 *   mird_model_close(m);
 *
 * Conventions
 *  - Errors: every function that can fail returns 0 (MIRD_OK) or one of the mird_code values, and
 *    fills the caller's mird_error (may be NULL) with that code and a one-line message naming the
 *    file or argument and the problem. On success the error is cleared (code 0, empty message).
 *    On failure, output arrays hold unspecified values and no file is half-written.
 *  - The library never prints and never exits, with one exception: when memory runs out (an
 *    allocation fails) it writes one line to stderr and exits with status 1, as the `mird` program
 *    does; mird_model_open refuses a checkpoint whose configuration declares more parameters than
 *    the file holds, so a hostile checkpoint cannot reach that point. Violated internal invariants
 *    (bugs) abort. Warnings of a training run go to mird_train_callbacks.on_warning (dropped when
 *    it is NULL); progress output is off.
 *  - Handles are opaque and there are no global variables: distinct handles may be used at the same
 *    time from distinct threads; one handle is used by one thread at a time. Computation runs on
 *    OpenMP worker teams: each calling thread gets its own team, of the calling thread's OpenMP
 *    thread count (OMP_NUM_THREADS, omp_set_num_threads) or of MIRD_KEY_THREADS when set; two
 *    concurrent calls therefore use the sum of both teams' threads. Each call sets flush-to-zero
 *    and denormals-are-zero (x86 MXCSR) for its own computation, as the `mird` program does, and
 *    restores the calling thread's MXCSR and OpenMP thread count on return; the OpenMP worker
 *    threads keep flush-to-zero (they are the process's shared libgomp pool).
 *  - Arrays are C order (row-major), float32 or int32, read in place (never copied as a whole,
 *    never retained after the call returns).
 *  - Strings are UTF-8, NUL-terminated. Strings the library returns are freed with mird_string_free.
 *
 * Versions: MIRD_API_VERSION (major * 100 + minor) is the version of this header;
 * mird_api_version() that of the library. Minor versions only add (functions, keys, codes);
 * a new major version may change anything. The library's symbols are versioned (MIRD_1). */
#ifndef MIRD_H
#define MIRD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MIRD_API_VERSION_MAJOR 1
#define MIRD_API_VERSION_MINOR 1
#define MIRD_API_VERSION (MIRD_API_VERSION_MAJOR * 100 + MIRD_API_VERSION_MINOR)

/* The library's API version (MIRD_API_VERSION it was built with): a program checks that
 * mird_api_version() / 100 == MIRD_API_VERSION_MAJOR and >= its own MIRD_API_VERSION. */
int mird_api_version(void);
/* The program version of the library, e.g. "0.1.0" (as `mird version` prints it). */
const char *mird_version(void);

/* ------------------------------------------------------------------------------------ errors */
enum mird_code {
    MIRD_OK = 0,
    MIRD_ERR_ARG = 1,       /* a bad argument: NULL, a size or shape, a value out of range, a key */
    MIRD_ERR_FILE = 2,      /* a file is missing, unreadable, or not what it should be */
    MIRD_ERR_DATA = 3,      /* input values: non-finite features, token ids outside the vocabulary */
    MIRD_ERR_FAILED = 4,    /* a training run failed (its data, a NaN loss, the disk); see the message */
    MIRD_ERR_CANCELLED = 5  /* a training run was stopped by its epoch callback */
};

#define MIRD_MESSAGE_LEN 512
typedef struct mird_error {
    int code;                       /* a mird_code */
    char message[MIRD_MESSAGE_LEN]; /* one line, no newline; "" when code is MIRD_OK */
} mird_error;

/* Frees a string the library returned (NULL is fine). */
void mird_string_free(char *s);

/* ------------------------------------------------------------------------------------ models */
typedef struct mird_model mird_model; /* opaque */

/* Opens a checkpoint (a MIRD safetensors file: `mird train`'s best.safetensors / last.safetensors,
 * `mird init`'s output, or a state_dict exported from the official PyTorch code) for prediction
 * (eval mode). vocab: the vocab.txt that raw texts are tokenised with; NULL = the one the
 * checkpoint's training data was tokenised with (recorded by `mird train`), as `mird predict --text`
 * finds it. Without any vocabulary the model still predicts from token ids (mird_clips.ids).
 * *model is NULL on failure. */
int mird_model_open(mird_model **model, const char *checkpoint, const char *vocab, mird_error *err);
void mird_model_close(mird_model *model); /* NULL is fine */

/* Settings and sizes of an open model (mird_model_get; the settable ones with mird_model_set). */
enum mird_key {
    MIRD_KEY_MAX_LEN = 0,    /* word pieces per raw text ([CLS] ... [SEP] [PAD]...): the checkpoint's
                                training length, else 50; settable, 2 .. max_position_embeddings */
    MIRD_KEY_FRAMES_A = 1,   /* acoustic frames each clip is zero-padded or truncated to: the
                                checkpoint's training data's, 0 = unknown (frames used as given);
                                settable (>= 0) */
    MIRD_KEY_FRAMES_V = 2,   /* the same for visual frames */
    MIRD_KEY_BATCH_SIZE = 3, /* clips per forward pass, 64 as in `mird predict`; settable, 1 .. 65536.
                                Results are bit-identical to `mird predict --batch-size` of the same
                                value */
    MIRD_KEY_THREADS = 4,    /* OpenMP threads of a call, 0 = the calling thread's setting (default);
                                settable, 0 .. 4096 */
    MIRD_KEY_D_A = 5,        /* values per acoustic frame */
    MIRD_KEY_D_V = 6,        /* values per visual frame */
    MIRD_KEY_SIZE_ZY = 7,    /* latent sizes: z_S (zy), z_L, z_A, z_V */
    MIRD_KEY_SIZE_ZL = 8,
    MIRD_KEY_SIZE_ZA = 9,
    MIRD_KEY_SIZE_ZV = 10,
    MIRD_KEY_VOCAB_SIZE = 11,   /* the model's vocabulary size (token ids must be below it) */
    MIRD_KEY_MAX_POSITIONS = 12, /* max_position_embeddings: the longest token sequence */
    MIRD_KEY_HAS_VOCAB = 13,    /* 1 when raw texts can be tokenised (a vocabulary was found) */
    MIRD_KEY_PRECISION = 14     /* matrix products of a call: 0 float32 (default), 1 bfloat16 inputs with
                                   float32 accumulation (`--precision bf16`); settable, 1 only where the
                                   CPU has bfloat16 instructions (else MIRD_ERR_ARG). Since 1.01 */
};
/* The value of a key; -1 for a NULL model or an unknown key. */
long mird_model_get(const mird_model *model, int key);
int mird_model_set(mird_model *model, int key, long value, mird_error *err);

/* A batch of n clips. Text is given either as raw texts (tokenised inside with the model's
 * vocabulary and MIRD_KEY_MAX_LEN) or as token ids. Frames are zero-padded or truncated to
 * MIRD_KEY_FRAMES_A / _V (when known; otherwise all clips are used at ta / tv frames). */
typedef struct mird_clips {
    int n;                     /* clips, >= 0 */
    const char *const *texts;  /* [n] raw texts; or NULL, then ids: */
    const int32_t *ids;        /* [n, tl] word-piece ids, [CLS] ... [SEP] then [PAD] = 0 */
    const int32_t *mask;       /* [n, tl] attention mask (1 token, 0 padding); NULL = (ids != 0) */
    const int32_t *types;      /* [n, tl] token type (segment) ids; NULL = all 0 */
    int tl;                    /* ids per clip, 1 .. MIRD_KEY_MAX_POSITIONS */
    const float *audio;        /* [n, ta, da] acoustic frames; NULL = all zeros (ta, da ignored) */
    int ta, da;                /* ta >= 1, da = MIRD_KEY_D_A */
    const float *video;        /* [n, tv, dv] visual frames; NULL = all zeros (tv, dv ignored) */
    int tv, dv;                /* tv >= 1, dv = MIRD_KEY_D_V */
} mird_clips;

/* Predictions of the model in eval mode for every clip, in batches of MIRD_KEY_BATCH_SIZE clips:
 * scores [n] (the sentiment score, `mird predict`'s "score" column) and the four latents
 * zy [n, MIRD_KEY_SIZE_ZY] (z_S), zl [n, ..ZL], za [n, ..ZA], zv [n, ..ZV] (`mird train
 * --dump-latents`'s zy, zl, za, zv). Any output may be NULL (not written). */
int mird_predict(mird_model *model, const mird_clips *clips, float *scores, float *zy, float *zl, float *za,
                 float *zv, mird_error *err);

/* ---------------------------------------------------------------------------------- training */
typedef struct mird_train_callbacks {
    /* After each epoch of each seed, once its line is in RUN/seed_S/log.jsonl: the seed and that
     * line (one JSON object: epoch, global_step, lr, mi_lr, train losses, valid / test metrics,
     * improved, seconds). Return 0 to go on; anything else stops the run after that epoch
     * (MIRD_ERR_CANCELLED; the checkpoints are written, "resume": true continues). May be NULL. */
    int (*on_epoch)(void *user, int seed, const char *record_json);
    /* Warnings (e.g. resuming with changed settings), one line each. May be NULL (dropped). */
    void (*on_warning)(void *user, const char *message);
    void *user; /* passed to both */
} mird_train_callbacks;

/* Runs `mird train` from a run configuration: a JSON object with the keys of `mird train --config`
 * (the flag names, with '_' or '-': "data", "out", "epochs", "seeds", "model", ...; "config" names
 * a file loaded first, the object's other keys override it). Quiet: nothing is printed. The run
 * folder, its files, checkpoints and results are those of `mird train` with the same configuration
 * (bit-identical at the same thread count). summary_json (may be NULL) receives the run's
 * summary.json (free it with mird_string_free). callbacks may be NULL. */
int mird_train(const char *config_json, const mird_train_callbacks *callbacks, char **summary_json, mird_error *err);

#ifdef __cplusplus
}
#endif
#endif /* MIRD_H */

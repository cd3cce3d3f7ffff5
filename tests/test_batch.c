// test_batch.c: labeled/unlabeled pairing (clip i with i + k N_l), per-epoch reshuffling from the
// seed, padding and truncation to the batch lengths, sequential evaluation batches, restarting an
// epoch from a saved stream state.
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "data/batch.h"
#include "testutil.h"

// A split whose values encode where they come from: audio = 1000 c + 10 t + k (+ base), ids = c * 100 + t.
static void make_split(DataSplit *s, const char *name, int n, int Tl, int Ta, int Tv, int d_a, int d_v, float base,
                       int labeled) {
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->n = n, s->Tl = Tl, s->Ta = Ta, s->Tv = Tv, s->d_a = d_a, s->d_v = d_v;
    s->ids = malloc(sizeof(int32_t) * n * Tl), s->mask = malloc(sizeof(int32_t) * n * Tl);
    s->seg = calloc((size_t)n * Tl, sizeof(int32_t));
    for (int c = 0; c < n; c++)
        for (int t = 0; t < Tl; t++) s->ids[c * Tl + t] = c * 100 + t + 1, s->mask[c * Tl + t] = 1;
    float *a = malloc(sizeof(float) * n * Ta * d_a), *v = malloc(sizeof(float) * n * Tv * d_v);
    for (int c = 0; c < n; c++)
        for (int t = 0; t < Ta; t++)
            for (int k = 0; k < d_a; k++) a[(c * Ta + t) * d_a + k] = base + 1000 * c + 10 * t + k;
    for (int c = 0; c < n; c++)
        for (int t = 0; t < Tv; t++)
            for (int k = 0; k < d_v; k++) v[(c * Tv + t) * d_v + k] = -(base + 1000 * c + 10 * t + k);
    s->audio = s->audio_own_ = a, s->visual = s->visual_own_ = v;
    s->audio_len = malloc(sizeof(int32_t) * n), s->visual_len = malloc(sizeof(int32_t) * n);
    for (int c = 0; c < n; c++) s->audio_len[c] = Ta - c % 2, s->visual_len[c] = Tv;
    if (labeled) {
        s->labels = malloc(sizeof(float) * n);
        for (int c = 0; c < n; c++) s->labels[c] = (float)c * 0.5f - 2;
    }
}
static void free_split(DataSplit *s) {
    free(s->ids), free(s->mask), free(s->seg), free(s->audio_own_), free(s->visual_own_);
    free(s->audio_len), free(s->visual_len), free(s->labels);
}

static int row_clip(const Batch *b, int row, float base) { // which clip a row holds, from its audio
    return (int)((b->acoustic[(size_t)row * b->Ta * b->d_a] - base) / 1000 + 0.5f);
}

static void test_pairing_and_shuffle(void **st) {
    (void)st;
    DataSplit L, U;
    int Nl = 10, r = 2, Bl = 4;
    make_split(&L, "train", Nl, 6, 5, 4, 3, 2, 0, 1);
    make_split(&U, "unlabeled", 25, 6, 5, 4, 3, 2, 500000, 0);
    char err[MIRD_ERRLEN];
    BatchIter it;
    if (batch_iter_init(&it, &L, &U, r, Bl, 42, err)) fail_msg("%s", err);
    assert_int_equal(batch_iter_count(&it), 3);
    Batch b;
    batch_alloc(&b, Bl, Bl * (1 + r), 6, 5, 4, 3, 2);
    int orders[3][10];
    for (int e = 0; e < 3; e++) {
        batch_iter_epoch(&it);
        int seen[10] = {0}, used_u[25] = {0}, pos = 0, nb = 0, sizes[3];
        int rc;
        while ((rc = batch_iter_next(&it, &b)) == 1) {
            sizes[nb++] = b.B_l;
            assert_int_equal(b.B, b.B_l * (1 + r));
            for (int j = 0; j < b.B_l; j++) {
                int c = row_clip(&b, j, 0);
                assert_int_equal(c, b.src[j]);
                assert_true(b.labels[j] == L.labels[c]);
                seen[c]++;
                orders[e][pos++] = c;
                for (int k = 0; k < r; k++) { // partner k of labeled row j
                    int row = b.B_l + k * b.B_l + j, u = row_clip(&b, row, 500000);
                    assert_int_equal(u, c + k * Nl);
                    assert_int_equal(b.src[row], u);
                    used_u[u]++;
                    assert_int_equal(b.ids[row * 6], u * 100 + 1);
                }
            }
        }
        assert_int_equal(rc, 0);
        assert_int_equal(nb, 3);
        assert_int_equal(sizes[0], 4), assert_int_equal(sizes[1], 4), assert_int_equal(sizes[2], 2);
        for (int c = 0; c < 10; c++) assert_int_equal(seen[c], 1);
        for (int u = 0; u < 25; u++) assert_int_equal(used_u[u], u < r * Nl ? 1 : 0); // only the first r N_l
    }
    assert_true(memcmp(orders[0], orders[1], sizeof(orders[0])) != 0); // reshuffled each epoch
    // the same seed gives the same epochs; another seed another order
    BatchIter it2, it3;
    if (batch_iter_init(&it2, &L, &U, r, Bl, 42, err) || batch_iter_init(&it3, &L, &U, r, Bl, 43, err)) fail_msg("%s", err);
    int differs = 0;
    for (int e = 0; e < 3; e++) {
        batch_iter_epoch(&it2), batch_iter_epoch(&it3);
        assert_memory_equal(it2.order, orders[e], sizeof(orders[e]));
        differs |= memcmp(it3.order, orders[e], sizeof(orders[e])) != 0;
    }
    assert_true(differs);
    // a batch buffer too small is refused
    Batch small;
    batch_alloc(&small, Bl, Bl, 6, 5, 4, 3, 2);
    batch_iter_epoch(&it2);
    assert_int_equal(batch_iter_next(&it2, &small), -1);
    batch_free(&small);
    batch_iter_free(&it), batch_iter_free(&it2), batch_iter_free(&it3);
    // errors: too few unlabeled clips, no unlabeled data, no labels
    DataSplit U2;
    make_split(&U2, "unlabeled", 19, 6, 5, 4, 3, 2, 0, 0);
    assert_int_equal(batch_iter_init(&it, &L, &U2, r, Bl, 1, err), -1);
    assert_non_null(strstr(err, "needs 20"));
    assert_int_equal(batch_iter_init(&it, &L, NULL, 1, Bl, 1, err), -1);
    assert_int_equal(batch_iter_init(&it, &U2, NULL, 0, Bl, 1, err), -1);
    if (batch_iter_init(&it, &L, NULL, 0, Bl, 1, err)) fail_msg("%s", err); // r = 0: labeled only
    batch_iter_epoch(&it);
    assert_int_equal(batch_iter_next(&it, &b), 1);
    assert_int_equal(b.B, b.B_l);
    batch_iter_free(&it);
    batch_free(&b);
    free_split(&L), free_split(&U), free_split(&U2);
}

static void test_pad_truncate_and_seq(void **st) {
    (void)st;
    DataSplit S;
    make_split(&S, "test", 5, 6, 5, 4, 3, 2, 0, 1);
    Batch b;
    batch_alloc(&b, 3, 3, 8, 7, 2, 3, 2); // longer text and audio, shorter video
    int got = batch_seq(&b, &S, 3, 10);
    assert_int_equal(got, 2); // clips 3 and 4 only
    assert_int_equal(b.B, 2), assert_int_equal(b.B_l, 2);
    for (int j = 0; j < 2; j++) {
        int c = 3 + j;
        for (int t = 0; t < 8; t++) {
            assert_int_equal(b.ids[j * 8 + t], t < 6 ? c * 100 + t + 1 : 0);
            assert_int_equal(b.mask[j * 8 + t], t < 6);
            assert_int_equal(b.types[j * 8 + t], 0);
        }
        for (int t = 0; t < 7; t++)
            for (int k = 0; k < 3; k++)
                assert_true(b.acoustic[(j * 7 + t) * 3 + k] == (t < 5 ? 1000.0f * c + 10 * t + k : 0.0f));
        for (int t = 0; t < 2; t++)
            for (int k = 0; k < 2; k++) assert_true(b.visual[(j * 2 + t) * 2 + k] == -(1000.0f * c + 10 * t + k));
        assert_int_equal(b.audio_len[j], 5 - c % 2);
        assert_int_equal(b.visual_len[j], 2); // capped at the batch's Tv
        assert_true(b.labels[j] == S.labels[c]);
    }
    // truncated text keeps the first Tl ids
    Batch t;
    batch_alloc(&t, 2, 2, 4, 5, 4, 3, 2);
    assert_int_equal(batch_seq(&t, &S, 0, 2), 2);
    assert_int_equal(t.ids[4 + 3], 100 + 4);
    // an unlabeled split gives rows without labels
    free(S.labels);
    S.labels = NULL;
    assert_int_equal(batch_seq(&t, &S, 4, 2), 1);
    assert_int_equal(t.B_l, 0);
    batch_free(&t);
    batch_free(&b);
    free_split(&S);
}

// An epoch restarted from the shuffle-stream state at its start (a resumed run) gives the same
// order, the same remaining batches and the same stream state afterwards.
static void test_epoch_from(void **st) {
    (void)st;
    DataSplit L, U;
    int Nl = 10, r = 1, Bl = 3;
    make_split(&L, "train", Nl, 6, 5, 4, 3, 2, 0, 1);
    make_split(&U, "unlabeled", 10, 6, 5, 4, 3, 2, 500000, 0);
    char err[MIRD_ERRLEN];
    BatchIter a, b;
    if (batch_iter_init(&a, &L, &U, r, Bl, 7, err) || batch_iter_init(&b, &L, &U, r, Bl, 99, err)) fail_msg("%s", err);
    Batch x, y;
    batch_alloc(&x, Bl, Bl * (1 + r), 6, 5, 4, 3, 2);
    batch_alloc(&y, Bl, Bl * (1 + r), 6, 5, 4, 3, 2);
    batch_iter_epoch(&a); // epoch 1
    Rng start = a.rng;    // the stream before epoch 2's shuffle
    batch_iter_epoch(&a);
    assert_int_equal(batch_iter_next(&a, &x), 1);
    assert_int_equal(batch_iter_next(&a, &x), 1); // two batches of epoch 2 taken
    batch_iter_epoch_from(&b, &start, 2);
    assert_memory_equal(a.order, b.order, sizeof(int) * Nl);
    assert_memory_equal(&a.rng, &b.rng, sizeof(Rng));
    int n = 0, ra, rb;
    while ((ra = batch_iter_next(&a, &x)) == 1) {
        rb = batch_iter_next(&b, &y);
        assert_int_equal(rb, 1);
        assert_int_equal(x.B, y.B);
        assert_memory_equal(x.src, y.src, sizeof(int) * x.B);
        assert_memory_equal(x.acoustic, y.acoustic, sizeof(float) * x.B * 5 * 3);
        n++;
    }
    assert_int_equal(n, 2); // batches 3 and 4 of ceil(10 / 3) = 4
    assert_int_equal(batch_iter_next(&b, &y), 0);
    batch_iter_epoch_from(&b, &start, 99); // past the end: the epoch is done
    assert_int_equal(batch_iter_next(&b, &y), 0);
    batch_free(&x), batch_free(&y);
    batch_iter_free(&a), batch_iter_free(&b);
    free_split(&L), free_split(&U);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairing_and_shuffle),
        cmocka_unit_test(test_pad_truncate_and_seq),
        cmocka_unit_test(test_epoch_from),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

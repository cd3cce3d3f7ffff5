// batch.h: mini-batches of a DataSplit in caller-owned buffers allocated once (MIRD.md,
// "Unlabeled pairing").
//
// Training: with N_l labeled clips and ratio r, only the first r * N_l unlabeled clips are used;
// labeled clip i always travels with unlabeled clips i + k N_l, k = 0 .. r-1. The labeled order is
// reshuffled at the start of every epoch from one RNG_STREAM_SHUFFLE stream seeded once, so a run
// is reproducible from its seed (epoch e's order = identity shuffled by the stream's state after
// e earlier shuffles). A batch holds B_l labeled rows first (B_l = batch size, the last batch of an
// epoch may be smaller), then their r * B_l unlabeled partners: row B_l + k * B_l + j is partner k
// of labeled row j.
// Evaluation: batch_seq() fills consecutive clips of one split, in file order.
// Lengths: every row is padded with zeros (ids: [PAD] = 0, mask 0, types 0) or truncated to the
// batch's Tl / Ta / Tv (frames past the end are dropped; tokenise at the batch's Tl so [SEP] stays).
// The field names follow models/mird.h's MirdBatch: MirdBatch mb = {b.ids, b.mask, b.types,
// b.acoustic, b.visual, b.labels, b.B, b.B_l, b.Tl, b.Ta, b.Tv}.
#pragma once
#include <stdint.h>

#include "core/rng.h"
#include "data/dataset.h"

typedef struct {
    int cap_l, cap;                  // capacity: labeled rows / all rows
    int Tl, Ta, Tv, d_a, d_v;
    int32_t *ids, *mask, *types;     // [cap, Tl]
    float *acoustic;                 // [cap, Ta, d_a]
    float *visual;                   // [cap, Tv, d_v]
    float *labels;                   // [cap_l]
    int32_t *audio_len, *visual_len; // [cap] true lengths, capped at Ta / Tv
    int *src;                        // [cap] clip index of each row in its split
    int B, B_l;                      // rows filled / labeled rows among them
} Batch;

// Buffers for up to cap_l labeled rows and cap rows in all (e.g. cap = (1 + r) * cap_l).
void batch_alloc(Batch *b, int cap_l, int cap, int Tl, int Ta, int Tv, int d_a, int d_v);
void batch_free(Batch *b);
// Copy clip i of s into row `row` (padding / truncating); does not touch labels, B or B_l.
void batch_put(Batch *b, int row, const DataSplit *s, int i);

typedef struct {
    const DataSplit *lab, *unl;
    int r, B_l, N_l;
    int *order; // [N_l] this epoch's labeled order
    int pos;    // next position in order
    int epoch;  // epochs begun
    Rng rng;
} BatchIter;

// Checks: r >= 0, B_l >= 1, labels present, token ids present in every split used, r * N_l
// unlabeled clips available (unl may be NULL when r == 0), the same d_a / d_v everywhere.
int batch_iter_init(BatchIter *it, const DataSplit *lab, const DataSplit *unl, int r, int B_l, uint64_t seed,
                    char *err);
void batch_iter_free(BatchIter *it);
// Start the next epoch: reshuffle the labeled order.
void batch_iter_epoch(BatchIter *it);
// Start an epoch from a saved shuffle-stream state `start` (the state before that epoch's shuffle,
// e.g. from a checkpoint) with its first `skip` batches already taken; afterwards it->rng is the
// state after the shuffle, as batch_iter_epoch leaves it (a resumed run continues bit-exactly).
void batch_iter_epoch_from(BatchIter *it, const Rng *start, long skip);
// Fill b with the next batch of the epoch: 1, or 0 when the epoch is done; -1 (nothing filled) when
// b cannot hold B_l labeled and (1 + r) B_l rows or its d_a / d_v differ from the data's.
int batch_iter_next(BatchIter *it, Batch *b);
// Data parallelism (docs/distributed.md): part p of n fills only its share of the same batch
// (batch_part_rows), in the usual layout (its labeled rows, then their partners); a part may get
// no row (b->B = 0). batch_iter_next(it, b) is part 0 of 1. Returns as batch_iter_next.
int batch_iter_next_part(BatchIter *it, Batch *b, int p, int n);
// Batches per epoch: ceil(N_l / B_l).
int batch_iter_count(const BatchIter *it);

// Evaluation batch: clips [start, start + count) of s (count capped at b->cap and at the end of the
// split) as rows 0..; they are labeled rows when s has labels. Returns the number of rows filled.
int batch_seq(Batch *b, const DataSplit *s, int start, int count);

// The rows of a global batch of B rows (the first B_l labeled) that part p of n holds, as global
// row indices in the part's own batch layout. When the batch is B_l (1 + r) rows with partner k
// of labeled row j at row B_l + k B_l + j (training's pairing), the part takes a balanced
// contiguous range of the labeled rows and their partners: its labeled rows, then partner k of
// each of them for k = 0 .. r-1. Otherwise (e.g. no labeled row) the labeled and the unlabeled
// rows are each split into balanced contiguous ranges. Returns the row count; *labeled (may be
// NULL) gets how many of them are labeled; rows (may be NULL) gets the indices.
int batch_part_rows(int B, int B_l, int p, int n, int *rows, int *labeled);

// mird_internal.h: the model's private state (modules, activations, gradient scratch); only the
// model's own .c files include it.
#pragma once
#include "core/comm.h"
#include "models/mird.h"

typedef struct {
    float *W, *b, *gW, *gb; // [out,in], [out]
    int in, out;
    char prefix[96];
} Lin;

typedef struct {
    float *Wih, *Whh, *bih, *bhh, *gWih, *gWhh, *gbih, *gbhh; // [4H,D], [4H,H], [4H], [4H]
    int D, H;
    char prefix[96];
} Cell;

// parameter index ranges [start, end) in m->params, for has_grad marking
enum { G_ENC_L = 0, G_ENC_AV, G_DEC, G_MULT, G_REG, G_N };

struct MirdInternal {
    int grp[G_N][2];
    // modules
    Bert bert_l, bert_m;
    BertActs acts_l, acts_m;
    Wsa wsa;
    WsaActs wacts;
    Lin enc_l_fc;          // encoder_l.encoder (BERT) or encoder_l.fc1 (LSTM)
    float *emb_l, *gemb_l; // encoder_l.embedding.weight (LSTM text encoder)
    Cell enc_cell[3];      // [0] encoder_l.lstm (LSTM text encoder), [1] encoder_a.lstm, [2] encoder_v.lstm
    Lin enc_fc[3];         // [1] encoder_a.fc1, [2] encoder_v.fc1 ([0] unused)
    Cell dec_cell[3];      // decoder_{l,a,v}.lstm
    Lin dec_fc[3];         // decoder_{l,a,v}.fc1
    Lin mult_fc;           // mult_encoder.encoder
    Lin reg_fc1, reg_fc2;  // zy_to_y_fc1, zy_to_y_fc2
    Club club[6];
    ClubActs cacts[6];
    // activations (B = Bmax rows)
    int32_t *types0;                     // [B,Tl] zeros: encoder_l token types
    float *mask_f;                       // [B,Tl] float text mask
    float *dl_in, *dl_mask, *ddl, *dpool_l; // [B,H] encoder_l dropout output / mask / grads
    float *temb, *dtemb;                 // [B,Tl,128] LSTM text encoder embeddings and their gradient
    float *dm_in, *dm_mask, *ddm, *dpool_m; // [B,H] mult_encoder dropout output / mask / grads
    float *dF, *dE;                      // [B,Tl,H] gradients of the WSA output / the embedding output
    float *eh[3], *ec[3], *eact[3];      // encoder LSTMs: [B,T,z], [B,T,z], [B,T,4z]
    float *edh[3], *elast[3], *edlast[3]; // [B,T,z], [B,z], [B,z]
    float *dzin[3], *ddzin[3];           // decoder inputs [z_S; z_m] [B,Hd] and gradients
    float *dh[3], *dc[3], *dact[3], *ddh[3]; // decoder LSTMs [B,T,Hd] (act [B,T,4Hd])
    float *lstm_scratch;
    float *lse;                          // [B*Tl] log-sum-exp of each text logit row
    float *ce_dbias;                     // [ce_nthr, V] per-thread partial vocabulary bias gradients
    int ce_nthr;                         // OpenMP threads at creation (the backward uses at most these)
    float *dxa, *dxv;                    // gradients of x_a_hat, x_v_hat
    float *dz[3], *dzy;                  // gradients of zl, za, zv, zy
    float *cat4, *dcat4;                 // [B, zy+zl+za+zv]
    float *r1, *r1a, *r1d, *r1mask, *dr1, *dr1d; // [B,zy]
    float *dyhat;                        // [B]
    float *zst[4], *dzst[4];             // club_std: standardised zl, za, zv, zy [B,z] and their gradients
    float *zmean[4], *zrstd[4];          // [z] column statistics of the last standardisation
    // data parallel (mird_set_comm; docs/distributed.md): rows of the global batch, of the batch the
    // CLUB estimators see (the gathered one), this rank's first row in it; serially Bg = Bc = B
    int Bg, Blg, Bc, row0;
    int dist;                            // 1 when m->comm has several ranks
    int Bcap;                            // capacity of the gathered buffers (global rows)
    int *counts;                         // [2 * ranks] rows and labeled rows of every rank
    float *zg[4], *dzg[4];               // gathered zl, za, zv, zy [Bc, z] and their gradients
    float *zpack, *zgpack;               // [Bmax, zl+za+zv+zy] / [Bcap, ...] packed rows for the gather
    CommReq req[G_N];                    // outstanding gradient allreduces, one per parameter group
    int ar_mode;                         // how gradients are summed (MIRD_ALLREDUCE): 0 "end" (reduce-
                                         // scatter + allgather after the backward), 1 "mpi" (MPI_Allreduce
                                         // after it), 2 "overlap" (MPI_Iallreduce per group during it)
    uint8_t ready[G_N];                  // groups whose gradient awaits the end-of-backward allreduce
};

// mird_dist.c: the model's side of data parallelism. Serially (no comm, or one rank) each is
// a no-op that leaves the single-process arithmetic untouched.
// Sum the step's loss sums S[0..3] over the ranks and set Bg / Blg (global rows / labeled rows).
void mird_dist_reduce_losses(Mird *m, const MirdBatch *b, double S[4]);
// Gather the four latents of every rank into zg (rank order) and set Bc and row0; serially Bc = B.
void mird_dist_gather_latents(Mird *m, const MirdBatch *b);
// What the CLUB estimators see of latent `which` before any standardisation: zg or the latent.
const float *mird_club_src(const Mird *m, int which);
// After the CLUB backward on the gathered batch: this rank's rows of dzg added into dZ[4].
void mird_dist_take_grads(Mird *m, float *const dZ[4], int B);
// Parameter group g's gradient is final: start its sum over the ranks (overlap) or note it / finish
// all the sums (wait for the started ones, or sum the noted groups, adjacent ones in one call).
void mird_dist_grad_ready(Mird *m, int g);
void mird_dist_grad_wait(Mird *m);

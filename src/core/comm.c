// comm.c: see comm.h. Two implementations behind one interface: Open MPI (built with -DMIRD_MPI,
// the Makefile's default MPI=1) and the serial one (rank 0 of 1) that every plain run uses.
#include "core/comm.h"

#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

#ifdef MIRD_MPI
#include <mpi.h>
#endif

static Comm world = {0, 1, 0, NULL};

static const char *launcher_env(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", NULL};
    for (int i = 0; vars[i]; i++)
        if (getenv(vars[i])) return vars[i];
    return NULL;
}

#ifdef MIRD_MPI
static int mpi_on = 0;  // MPI_Init was called
static float *rsag_buf; // [RSAG_CHUNK] every rank's copy of this rank's block (comm_allreduce_f32_rsag)
#define RSAG_CHUNK ((size_t)1 << 23)

// Ranks under mpirun sharing a node split its cores, unless told otherwise.
static void default_threads(void) {
    const char *ls = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    int local = ls ? atoi(ls) : 1;
    if (getenv("OMP_NUM_THREADS") || local <= 1) return;
    int t = omp_get_num_procs() / local;
    omp_set_num_threads(t > 0 ? t : 1);
}
#endif

int comm_has_mpi(void) {
#ifdef MIRD_MPI
    return 1;
#else
    return 0;
#endif
}

const Comm *comm_world(void) { return &world; }

#ifdef MIRD_MPI
static MPI_Comm H(const Comm *c) { return *(MPI_Comm *)c->h; }
#define ON(c) ((c)->h != NULL && (c)->size > 1)
// MPI counts are ints: pieces of at most this many elements
#define PIECE (1 << 28)
#endif

int comm_init(int *argc, char ***argv, char *err) {
    const char *env = launcher_env();
    if (!env) return 0;
#ifdef MIRD_MPI
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return errf(err, "MPI_Init failed (started by mpirun?)");
    mpi_on = 1;
    MPI_Comm *h = xmalloc(sizeof(MPI_Comm));
    *h = MPI_COMM_WORLD;
    world.h = h;
    MPI_Comm_rank(MPI_COMM_WORLD, &world.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world.size);
    world.world_rank = world.rank;
    // a failing collective ends the job with MPI's message instead of returning codes nobody checks
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
    default_threads();
    return 0;
#else
    (void)argc, (void)argv;
    const char *n = getenv("OMPI_COMM_WORLD_SIZE");
    if (!n) n = getenv("PMI_SIZE");
    if (n && atoi(n) > 1)
        return errf(err, "started by an MPI launcher (%s) with %s ranks, but this mird was built without MPI (make "
                         "MPI=0); rebuild with MPI=1 or run it without mpirun",
                    env, n);
    return 0;
#endif
}

void comm_finalize(void) {
#ifdef MIRD_MPI
    if (mpi_on) {
        fflush(stdout), fflush(stderr); // before mpirun's output forwarding closes
        MPI_Finalize();
        free(rsag_buf);
        rsag_buf = NULL;
        free(world.h);
        world.h = NULL;
        mpi_on = 0;
    }
#endif
}

void comm_split(const Comm *c, int color, Comm *out) {
    *out = *c;
    out->h = NULL;
#ifdef MIRD_MPI
    if (c->h) {
        MPI_Comm *h = xmalloc(sizeof(MPI_Comm));
        MPI_Comm_split(H(c), color, c->rank, h);
        out->h = h;
        MPI_Comm_rank(*h, &out->rank);
        MPI_Comm_size(*h, &out->size);
    }
#else
    (void)color;
#endif
}

void comm_free(Comm *c) {
#ifdef MIRD_MPI
    if (c->h && c->h != world.h) {
        MPI_Comm_free((MPI_Comm *)c->h);
        free(c->h);
    }
#endif
    c->h = NULL;
}

void comm_allreduce_f64(const Comm *c, double *x, int n) {
#ifdef MIRD_MPI
    if (ON(c)) MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, H(c));
#else
    (void)c, (void)x, (void)n;
#endif
}

void comm_allreduce_f32(const Comm *c, float *x, size_t n) {
#ifdef MIRD_MPI
    if (ON(c))
        for (size_t i = 0; i < n; i += PIECE) {
            size_t k = n - i < PIECE ? n - i : PIECE;
            MPI_Allreduce(MPI_IN_PLACE, x + i, (int)k, MPI_FLOAT, MPI_SUM, H(c));
        }
#else
    (void)c, (void)x, (void)n;
#endif
}

void comm_allreduce_f32_rsag(const Comm *c, float *x, size_t n) {
#ifdef MIRD_MPI
    if (!ON(c)) return;
    int P = c->size, me = c->rank;
    if (!rsag_buf) rsag_buf = falloc(RSAG_CHUNK);
    int *cnt = xmalloc(sizeof(int) * (size_t)P * 4), *dsp = cnt + P, *rcnt = cnt + 2 * P, *rdsp = cnt + 3 * P;
    for (size_t o = 0; o < n; o += RSAG_CHUNK) {
        size_t m = n - o < RSAG_CHUNK ? n - o : RSAG_CHUNK;
        for (int r = 0; r < P; r++) { // rank r owns block [r m / P, (r + 1) m / P) of the chunk
            size_t a = (size_t)r * m / P, e = (size_t)(r + 1) * m / P;
            cnt[r] = (int)(e - a), dsp[r] = (int)a;
        }
        for (int r = 0; r < P; r++) rcnt[r] = cnt[me], rdsp[r] = r * cnt[me];
        float *mine = x + o + dsp[me];
        MPI_Alltoallv(x + o, cnt, dsp, MPI_FLOAT, rsag_buf, rcnt, rdsp, MPI_FLOAT, H(c));
        memcpy(mine, rsag_buf, sizeof(float) * (size_t)cnt[me]);
        for (int r = 1; r < P; r++) {
            const float *s = rsag_buf + (size_t)r * cnt[me];
#pragma omp simd
            for (int i = 0; i < cnt[me]; i++) mine[i] += s[i];
        }
        MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, x + o, cnt, dsp, MPI_FLOAT, H(c));
    }
    free(cnt);
#else
    (void)c, (void)x, (void)n;
#endif
}

void comm_allreduce_max_int(const Comm *c, int *x, int n) {
#ifdef MIRD_MPI
    if (ON(c)) MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_INT, MPI_MAX, H(c));
#else
    (void)c, (void)x, (void)n;
#endif
}

void comm_allgather_int(const Comm *c, const int *mine, int n, int *all) {
#ifdef MIRD_MPI
    if (ON(c)) {
        MPI_Allgather(mine, n, MPI_INT, all, n, MPI_INT, H(c));
        return;
    }
#endif
    (void)c;
    memmove(all, mine, sizeof(int) * (size_t)n);
}

void comm_allgatherv_rows(const Comm *c, const float *mine, const int *counts, int width, float *all) {
#ifdef MIRD_MPI
    if (ON(c)) {
        int *cnt = xmalloc(sizeof(int) * (size_t)c->size * 2), *dsp = cnt + c->size;
        long off = 0;
        for (int r = 0; r < c->size; r++) {
            long n = (long)counts[r] * width;
            if (n > INT_MAX || off > INT_MAX) comm_abort(1, "comm_allgatherv_rows: more than 2^31 floats");
            cnt[r] = (int)n, dsp[r] = (int)off;
            off += n;
        }
        MPI_Allgatherv(mine, cnt[c->rank], MPI_FLOAT, all, cnt, dsp, MPI_FLOAT, H(c));
        free(cnt);
        return;
    }
#endif
    (void)c;
    if (all != mine) memmove(all, mine, sizeof(float) * (size_t)counts[0] * (size_t)width);
}

void comm_bcast(const Comm *c, void *buf, size_t bytes, int root) {
#ifdef MIRD_MPI
    if (ON(c))
        for (size_t i = 0; i < bytes; i += PIECE) {
            size_t k = bytes - i < PIECE ? bytes - i : PIECE;
            MPI_Bcast((char *)buf + i, (int)k, MPI_BYTE, root, H(c));
        }
#else
    (void)c, (void)buf, (void)bytes, (void)root;
#endif
}

void comm_barrier(const Comm *c) {
#ifdef MIRD_MPI
    if (ON(c)) MPI_Barrier(H(c));
#else
    (void)c;
#endif
}

void comm_iallreduce_f32(const Comm *c, float *x, size_t n, CommReq *req) {
    req->h = NULL;
#ifdef MIRD_MPI
    if (ON(c) && n > 0) {
        if (n > INT_MAX) { // not expected for one parameter group; fall back to blocking pieces
            comm_allreduce_f32(c, x, n);
            return;
        }
        MPI_Request *r = xmalloc(sizeof(MPI_Request));
        MPI_Iallreduce(MPI_IN_PLACE, x, (int)n, MPI_FLOAT, MPI_SUM, H(c), r);
        req->h = r;
    }
#else
    (void)c, (void)x, (void)n;
#endif
}

void comm_progress(CommReq *reqs, int n) {
#ifdef MIRD_MPI
    for (int i = 0; i < n; i++)
        if (reqs[i].h) {
            int done = 0;
            MPI_Test((MPI_Request *)reqs[i].h, &done, MPI_STATUS_IGNORE);
            if (done) free(reqs[i].h), reqs[i].h = NULL;
        }
#else
    (void)reqs, (void)n;
#endif
}

void comm_wait(CommReq *reqs, int n) {
#ifdef MIRD_MPI
    for (int i = 0; i < n; i++)
        if (reqs[i].h) {
            MPI_Wait((MPI_Request *)reqs[i].h, MPI_STATUS_IGNORE);
            free(reqs[i].h), reqs[i].h = NULL;
        }
#else
    (void)reqs, (void)n;
#endif
}

int comm_agree(const Comm *c, int rc, char *err) {
    if (c->size <= 1 || !c->h) return rc;
    int mine[2] = {rc, world.rank}, *all = xmalloc(sizeof(int) * 2 * (size_t)c->size);
    comm_allgather_int(c, mine, 2, all);
    int first = -1;
    for (int r = 0; r < c->size && first < 0; r++)
        if (all[2 * r]) first = r;
    int out = first < 0 ? 0 : all[2 * first], wr = first < 0 ? 0 : all[2 * first + 1];
    free(all);
    if (first < 0) return 0;
    char msg[MIRD_ERRLEN];
    snprintf(msg, sizeof msg, "%s", err ? err : "");
    comm_bcast(c, msg, sizeof msg, first);
    msg[MIRD_ERRLEN - 1] = 0;
    if (err) {
        char tmp[MIRD_ERRLEN];
        snprintf(tmp, sizeof tmp, "%s", msg);
        errf(err, "rank %d: %s", wr, tmp);
    }
    return out;
}

void comm_abort(int code, const char *msg) {
    fprintf(stderr, "mird: %s\n", msg);
    fflush(stderr);
#ifdef MIRD_MPI
    if (mpi_on) MPI_Abort(MPI_COMM_WORLD, code);
#endif
    exit(code);
}

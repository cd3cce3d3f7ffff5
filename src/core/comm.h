// comm.h: communication between the processes of one job (MPI), THE entry point for it: no other
// file includes mpi.h. docs/distributed.md explains what is exchanged and why.
//
// A Comm is a group of ranks (MPI_COMM_WORLD, or a sub-group from comm_split). Built without MPI
// (make MPI=0), or run without mpirun, every Comm is the serial one: rank 0 of 1, reductions and
// gathers are copies or nothing, so single-process results stay bit-identical to a build without
// this module. MPI is initialised only when the process was started by mpirun (or another MPI
// launcher that sets the usual environment), never for a plain run.
//
//   comm_init(&argc, &argv);               // main(): MPI_Init when launched by mpirun
//   const Comm *w = comm_world();
//   comm_allreduce_f64(w, sums, 4);        // in place, sum over the ranks
//   if (comm_agree(w, rc, err)) ...        // every rank learns whether some rank failed, and why
//   comm_finalize();
//
// Every collective must be called by every rank of the Comm, in the same order. Counts are
// element counts; buffers larger than 2^31 bytes are sent in pieces.
#pragma once
#include <stddef.h>

typedef struct {
    int rank, size;   // this process's rank in the group, the group's size
    int world_rank;   // its rank in the whole job (error messages name it)
    void *h;          // the MPI communicator (NULL for the serial one)
} Comm;

// Outstanding non-blocking operation (comm_iallreduce_f32).
typedef struct {
    void *h; // MPI_Request, NULL when none
} CommReq;

// Initialise MPI if launched by an MPI launcher (environment OMPI_COMM_WORLD_SIZE, PMIX_RANK or
// PMI_RANK). Returns 0, or -1 with err (e.g. a build without MPI started by mpirun with > 1 rank).
// Also sets the OpenMP default of ranks sharing a node (cores / ranks on the node) when neither
// OMP_NUM_THREADS nor a later --threads says otherwise.
int comm_init(int *argc, char ***argv, char *err);
void comm_finalize(void);
// 1 when this build can talk MPI (make MPI=1).
int comm_has_mpi(void);
const Comm *comm_world(void);
// Split c into groups of equal color (ordered by rank in c). out is a new Comm (comm_free it).
void comm_split(const Comm *c, int color, Comm *out);
void comm_free(Comm *c);

// Sums over the ranks, in place.
void comm_allreduce_f64(const Comm *c, double *x, int n);
void comm_allreduce_f32(const Comm *c, float *x, size_t n); // MPI_Allreduce
// The same sum as a reduce-scatter (MPI_Alltoallv, then each rank adds up its block) and an
// MPI_Allgatherv, in chunks of 8 M floats through one buffer kept between calls. Every rank gets
// the same bytes (each block is summed once, in rank order, by its owner). Written out because Open
// MPI 4.1's reductions move large buffers through 32 KB shared-memory fragments (0.35 GB/s measured
// on one node: a 224 MB MPI_Allreduce between 2 ranks took 0.55-0.6 s, this 0.08 s), while its
// alltoall and allgather copy directly between the processes (docs/distributed.md).
void comm_allreduce_f32_rsag(const Comm *c, float *x, size_t n);
// Element-wise maximum over the ranks, in place.
void comm_allreduce_max_int(const Comm *c, int *x, int n);
// all[r * n + i] = rank r's mine[i].
void comm_allgather_int(const Comm *c, const int *mine, int n, int *all);
// Rows of `width` floats: rank r contributes counts[r] rows (mine: counts[c->rank] rows), all gets
// them in rank order (sum of counts rows).
void comm_allgatherv_rows(const Comm *c, const float *mine, const int *counts, int width, float *all);
// Rank `root` sends `bytes` bytes to every rank.
void comm_bcast(const Comm *c, void *buf, size_t bytes, int root);
void comm_barrier(const Comm *c);

// Non-blocking in-place sum over the ranks of x[0..n); x must not be touched until comm_wait.
// The serial Comm completes at once (req->h = NULL).
void comm_iallreduce_f32(const Comm *c, float *x, size_t n, CommReq *req);
// Let MPI progress outstanding requests (MPI_Testall) / wait for them; finished ones become NULL.
void comm_progress(CommReq *reqs, int n);
void comm_wait(CommReq *reqs, int n);

// Agreement after a step that can fail on some ranks only: every rank passes its own rc (0 = ok)
// and err; all ranks return the rc of the lowest failing rank (0 when none failed), and err holds
// that rank's message, prefixed "rank R: " (R its world rank) when the job has several ranks.
int comm_agree(const Comm *c, int rc, char *err);
// Print "mird: msg" on stderr and end the whole job (MPI_Abort; exit without MPI).
void comm_abort(int code, const char *msg) __attribute__((noreturn));

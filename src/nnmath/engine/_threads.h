/* The threads of one epoch: T logical parts of every mini-batch, run by whichever of the
 * T threads gets to each first.
 *
 * Part p of T backpropagates its rows of the mini-batch into its own Σ δ aᵀ and Σ δ
 * (NNM(rows_phase) with part p) and, once every part has, steps its slice of the
 * parameters (NNM(update_slices) with tid p). No part reads what another part of the same
 * phase writes, so whichever thread runs part p, and in whatever order, the epoch computes
 * bit for bit what T threads that each run their own part compute.
 *
 * The epoch is a sequence of phases, two per mini-batch (the backprop, then the step) and
 * three more per batch norm (its sums over all rows: _batchnorm.h); a phase opens when every part of the one before has finished. A thread at an open phase
 * claims its own part first, then any part no thread has claimed yet, then waits for the
 * next phase: spinning for a while (a quiet machine's wait is a few microseconds), yielding
 * its core, then asleep on a futex. On a quiet machine each thread runs its own part. With
 * a CPU-bound process competing for one of 2 cores, the scheduler keeps one of the epoch's
 * threads off its core at a time: with fixed parts the other waited for it at every phase
 * (benchmarks/RESULTS.md, "Under load"); here the thread that runs takes the waiting
 * thread's part and goes on.
 *
 * This file is included by _ckernels_epoch.h for each precision; its first part, which
 * does not depend on the precision, is compiled once. */

#ifndef NNM_THREADS_ONCE
#define NNM_THREADS_ONCE

/* The phases of one epoch. claimed[p] is the last phase whose part p a thread has claimed,
 * each on its own cache line; done counts the parts finished; `opened` (the futex word)
 * counts the phases finished, and waiters sleep on it. */
typedef struct {
    struct {
        atomic_int_fast64_t phase;
        char pad[64 - sizeof(atomic_int_fast64_t)];
    } claimed[NNM_MAX_THREADS];
    atomic_int_fast64_t done, sleepers, taken; /* taken: parts run by another thread */
    _Atomic uint32_t opened;
    int64_t T, window, mode; /* mode, window: nnm_test_schedule's */
    int64_t per_batch;       /* phases per mini-batch (nnm_batch_phases) */
} nnm_team;

/* Waits until phase q is open: every part of the phases before it finished. */
static void nnm_wait_open(nnm_team *team, int64_t q) {
    nnm_wait_count(&team->done, q * team->T, &team->opened, &team->sleepers);
}

/* Part p of phase q has finished: the last part of a phase opens the next one. */
static void nnm_part_done(nnm_team *team, int64_t q) {
    if (atomic_fetch_add(&team->done, 1) + 1 == (q + 1) * team->T)
        nnm_ring(&team->opened, &team->sleepers);
}

/* Whether this thread claims part p of phase q (no thread has). */
static inline int nnm_claim(nnm_team *team, int64_t p, int64_t q) {
    int_fast64_t before = q - 1;
    return atomic_compare_exchange_strong(&team->claimed[p].phase, &before, q);
}

/* Which parts thread tid may claim in phase q (of mini-batch q / per_batch): its own, and
 * any other unless a test says otherwise (nnm_test_schedule). */
static inline int nnm_may_claim(const nnm_team *team, int64_t tid, int64_t p, int64_t q) {
    return nnm_test_may_claim(team->mode, team->window, tid, p, q / team->per_batch);
}

/* How many parts the last epoch started on this OS thread ran on a thread other than
 * their own (nnmath.engine.EpochRunner.parts_taken reads it after each epoch). */
static _Thread_local int64_t nnm_last_taken;
int64_t nnm_parts_taken(void) { return nnm_last_taken; }

/* What one thread of an epoch is given: the struct, the team, its number. */
typedef struct {
    nnm_epoch *e;
    nnm_team *team;
    int64_t tid;
    atomic_int_fast64_t *go; /* 0 until all threads that could be started are */
} nnm_part;

#endif /* NNM_THREADS_ONCE */

/* Part p of phase q, the phase s = q mod P of mini-batch q / P (P phases each): for s < P − 1
 * a phase of the forward and backward pass of part p's rows [⌈m·p/T⌉, ⌈m·(p+1)/T⌉)
 * (NNM(rows_phase)); for the last (every δ^l needs the weights before the step) the step of
 * part p's slice of the parameters (NNM(update_slices), which for a large layer also makes
 * the slice's ∂C/∂w). */
NNM_CLONES void NNM(run_part)(nnm_epoch *e, int64_t p, int64_t q, int64_t P, int64_t t0,
                              int fuse) {
    const int64_t T = e->threads, B = e->B, k = q / P * B, m = B < e->n - k ? B : e->n - k;
    if (q % P < P - 1) {
        const int64_t lo = nnm_share(m, p, T), mt = nnm_share(m, p + 1, T) - lo;
        const NNM(rows) w = {p, k, lo, mt, m, fuse};
        if (mt > 0) NNM(rows_phase)(e, q % P, &w);
    } else {
        NNM(update_slices)(e, p, m, t0 + q / P + 1, fuse);
    }
}

/* Thread tid's share of one epoch when T threads share each mini-batch (T = 1: the whole
 * epoch): phase by phase, its own part and any part still unclaimed. */
void NNM(train_part)(nnm_epoch *e, nnm_team *team, int64_t tid) {
    const int64_t T = e->threads, P = nnm_batch_phases(e), phases = P * ((e->n + e->B - 1) / e->B);
    const int fuse = T == 1 && e->opt == 0;
    if (T == 1) { /* nothing to share */
        for (int64_t q = 0; q < phases; q++) NNM(run_part)(e, 0, q, P, e->t, fuse);
        return;
    }
    for (int64_t q = 0; q < phases; q++) {
        nnm_wait_open(team, q);
        const int64_t open = atomic_load(&team->done) / T; /* others may have run ahead */
        q = open > q ? open : q;
        if (q >= phases) break;
        for (int64_t i = 0; i < T; i++) {
            const int64_t p = (tid + i) % T; /* its own part first */
            if (!nnm_may_claim(team, tid, p, q) || !nnm_claim(team, p, q)) continue;
            NNM(run_part)(e, p, q, P, e->t, fuse);
            if (p != tid) atomic_fetch_add_explicit(&team->taken, 1, memory_order_relaxed);
            nnm_part_done(team, q);
        }
    }
}

static void *NNM(part_main)(void *arg) {
    nnm_part *p = (nnm_part *)arg;
    while (!atomic_load_explicit(p->go, memory_order_acquire)) sched_yield();
    if (p->tid < p->e->threads) NNM(train_part)(p->e, p->team, p->tid);
    return NULL;
}

/* One epoch of mini-batch training over X[perm], in place; returns NNM_OK, or (doing
 * nothing) NNM_UNKNOWN_* for a kernel id this build lacks, NNM_BAD_LENGTH for an array
 * that does not hold what L, B, n, T and the sizes say, or NNM_BAD_VALUE for a row index
 * or a dropout threshold out of range (nnm_check_epoch). With e->threads = T > 1 it starts
 * T − 1 threads (BLAS must then be on one thread: the caller sets that) that share each
 * mini-batch with this one; should fewer start, the epoch runs on those, and e->threads
 * says how many did. The optimizer's step count comes back in e->t; how many parts ran on
 * a thread other than their own, in nnm_parts_taken(). */
int NNM(nnm_train_epoch)(nnm_epoch *e) {
    const int bad = nnm_check_epoch(e);
    if (bad) return bad;
    int64_t T = e->threads < 1                 ? 1
                : e->threads > NNM_MAX_THREADS ? NNM_MAX_THREADS
                                               : e->threads;
    T = T > e->B ? e->B : T;
    pthread_t workers[NNM_MAX_THREADS];
    nnm_part parts[NNM_MAX_THREADS];
    nnm_team team;
    memset(&team, 0, sizeof team);
    atomic_int_fast64_t go;
    for (int64_t p = 0; p < NNM_MAX_THREADS; p++) atomic_init(&team.claimed[p].phase, -1);
    atomic_init(&team.done, 0);
    atomic_init(&team.sleepers, 0);
    atomic_init(&team.taken, 0);
    atomic_init(&team.opened, 0);
    atomic_init(&go, 0);
    team.window = nnm_test_window, team.mode = nnm_test_mode;
    team.per_batch = nnm_batch_phases(e);
    int64_t started = 1;
    for (; started < T; started++) {
        parts[started] = (nnm_part){e, &team, started, &go};
        if (pthread_create(&workers[started], NULL, NNM(part_main), &parts[started])) break;
    }
    e->threads = team.T = started;
    nnm_crew crew; /* one thread: its large products in parts (_crew.h) */
    nnm_crew_seat seats[NNM_MAX_THREADS];
    const int64_t crew_size = started == 1 && e->product_parts > 1 && nnm_crew_useful(e)
                                  ? nnm_crew_start(&crew, e, e->product_parts, seats, workers)
                                  : 1;
    nnm_crew_now = crew_size > 1 ? &crew : NULL;
    atomic_store_explicit(&go, 1, memory_order_release);
    NNM(train_part)(e, &team, 0);
    nnm_crew_now = NULL;
    for (int64_t u = 1; u < started; u++) pthread_join(workers[u], NULL);
    e->t += (e->n + e->B - 1) / e->B;
    nnm_last_taken = crew_size > 1 ? nnm_crew_stop(&crew, crew_size, workers)
                                   : atomic_load(&team.taken);
    return NNM_OK;
}

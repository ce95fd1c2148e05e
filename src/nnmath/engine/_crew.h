/* A large matrix product in P parts of its output, each a call of BLAS on one thread, run
 * by whichever of P threads gets to it first: the one-thread epoch's (mini-batches under
 * 64 rows) products when e->product_parts = P > 1. Included once by _ckernels.c after
 * nnm_blas_gemm; it does not depend on the precision.
 *
 * Why not BLAS's own threads: OpenBLAS splits such a product between its threads too, but
 * each of its threads must run its own share, so a thread that a competing process keeps
 * off its core holds up every product (benchmarks/RESULTS.md, "Small mini-batches under
 * load"). Here the epoch's thread posts the product, runs part 0, then any part no helper
 * has claimed, and waits only for parts a helper is running. Which thread runs a part
 * changes nothing: each part is the same BLAS call on one thread, so the epoch computes the
 * same bits under any schedule (tests/test_engine_threads.py). */

/* The waits of the crew and of the team (_threads.h): a waiter spins about NNM_SPIN_NS
 * before it sleeps, with PAUSE for the first NNM_PAUSE_NS, then yielding its core each
 * round: a wake-up from the futex is slow on a virtual machine, and a shorter spin put a
 * quiet machine's threads to sleep (benchmarks/RESULTS.md, "Under load"). */
#define NNM_SPIN_NS 200000
#define NNM_PAUSE_NS 50000
#define NNM_MAX_THREADS 64
/* Products of fewer multiply-adds stay whole: OpenBLAS's own bound for threading one. */
#define NNM_SPLIT_MIN 262144
/* Parts start at multiples of this many rows or columns (a vector register's floats). */
#define NNM_SPLIT_ALIGN 8

static void nnm_sleep_while(_Atomic uint32_t *word, uint32_t value) {
#if defined(__linux__)
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
#else
    (void)word, (void)value;
    sched_yield();
#endif
}

static void nnm_wake_all(_Atomic uint32_t *word) {
#if defined(__linux__)
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
#else
    (void)word;
#endif
}

static inline int64_t nnm_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Waits until *count ≥ need: spinning, then yielding, then asleep on `bell`, which whoever
 * raises *count rings (nnm_ring) after raising it. */
static void nnm_wait_count(atomic_int_fast64_t *count, int64_t need, _Atomic uint32_t *bell,
                           atomic_int_fast64_t *sleepers) {
    if (atomic_load_explicit(count, memory_order_acquire) >= need) return;
    const int64_t start = nnm_now_ns(), pause_until = start + NNM_PAUSE_NS;
    for (int spins = 1;; spins++) {
        if (atomic_load_explicit(count, memory_order_acquire) >= need) return;
        if (spins % 64 != 0) {
            NNM_PAUSE();
            continue;
        }
        const int64_t now = nnm_now_ns();
        if (now > start + NNM_SPIN_NS) break;
        if (now > pause_until) sched_yield(); /* a competitor on this core may run meanwhile */
    }
    atomic_fetch_add(sleepers, 1); /* seq_cst: seen by the ringer, or ... */
    for (;;) {
        const uint32_t seen = atomic_load(bell);
        if (atomic_load(count) >= need) break; /* ... its count seen here */
        nnm_sleep_while(bell, seen);
    }
    atomic_fetch_sub(sleepers, 1);
}

/* After raising a count that waiters wait on: wakes those asleep on `bell`. */
static void nnm_ring(_Atomic uint32_t *bell, atomic_int_fast64_t *sleepers) {
    atomic_fetch_add(bell, 1); /* seq_cst: ordered before reading sleepers */
    if (atomic_load(sleepers) > 0) nnm_wake_all(bell);
}

/* Tests only (tests/test_engine_threads.py): the epochs this OS thread starts from now on
 * run, with mode 1, every part on thread 0; with mode 2, every part on thread 0 in the
 * first, third, ... windows of `window` mini-batches (products, for the crew) and each on
 * its own thread in the others; with mode 3, each part on its own thread (0: whichever
 * thread comes first). */
static _Thread_local int64_t nnm_test_window = 1, nnm_test_mode;
void nnm_test_schedule(int64_t window, int64_t mode) {
    nnm_test_window = window > 0 ? window : 1;
    nnm_test_mode = mode >= 1 && mode <= 3 ? mode : 0;
}

/* Whether thread tid may claim part p of job (phase or product) q under the test's mode. */
static inline int nnm_test_may_claim(int64_t mode, int64_t window, int64_t tid, int64_t p,
                                     int64_t q) {
    const int alone = mode == 1 || (mode == 2 && q / window % 2 == 0);
    if (alone) return tid == 0;
    return p == tid || mode == 0;
}

/* One product C ← alpha op(A) op(B) + beta C as nnm_blas_gemm takes it, `size` bytes per
 * number, cut along its rows (M ≥ N) or else its columns. */
typedef struct {
    char ta, tb;
    int64_t M, N, K, lda, ldb, ldc, size;
    const void *alpha, *A, *B, *beta;
    void *C;
} nnm_product;

/* The crew of one epoch. posted counts the products posted, done the parts finished;
 * claimed[p] is the last product whose part p a thread has claimed, each on its own cache
 * line. Helpers sleep on post_bell, the epoch's thread on done_bell. */
typedef struct {
    struct {
        atomic_int_fast64_t job;
        char pad[64 - sizeof(atomic_int_fast64_t)];
    } claimed[NNM_MAX_THREADS];
    atomic_int_fast64_t posted, done, idle, waiting, taken, stop;
    _Atomic uint32_t post_bell, done_bell;
    int64_t P, mode, window;
    const nnm_epoch *e;
    nnm_product job; /* written only while no part of it is claimed */
} nnm_crew;

/* The crew of the epoch running on this OS thread, or NULL (products stay whole). */
static _Thread_local nnm_crew *nnm_crew_now;

/* Where part p of P starts in n rows or columns: at a multiple of NNM_SPLIT_ALIGN. */
static inline int64_t nnm_part_start(int64_t n, int64_t p, int64_t P) {
    const int64_t s = (n * p + P - 1) / P, a = NNM_SPLIT_ALIGN;
    return p == 0 ? 0 : (s + a - 1) / a * a < n ? (s + a - 1) / a * a : n;
}

/* Part p of the posted product: its rows [lo, hi) of C, or its columns. */
static void nnm_crew_part(const nnm_crew *c, int64_t p) {
    const nnm_product *j = &c->job;
    const char *A = j->A, *B = j->B;
    char *C = j->C;
    if (j->M >= j->N) {
        const int64_t lo = nnm_part_start(j->M, p, c->P), hi = nnm_part_start(j->M, p + 1, c->P);
        if (hi <= lo) return;
        A += (j->ta == 'N' ? lo : lo * j->lda) * j->size; /* rows lo… of op(A) */
        nnm_blas_gemm(c->e, j->ta, j->tb, hi - lo, j->N, j->K, j->alpha, A, j->lda, B, j->ldb,
                      j->beta, C + lo * j->size, j->ldc);
    } else {
        const int64_t lo = nnm_part_start(j->N, p, c->P), hi = nnm_part_start(j->N, p + 1, c->P);
        if (hi <= lo) return;
        B += (j->tb == 'N' ? lo * j->ldb : lo) * j->size; /* columns lo… of op(B) */
        nnm_blas_gemm(c->e, j->ta, j->tb, j->M, hi - lo, j->K, j->alpha, A, j->lda, B, j->ldb,
                      j->beta, C + lo * j->ldc * j->size, j->ldc);
    }
}

/* Thread tid runs every part of product q it may claim and no thread has. */
static void nnm_crew_claim_parts(nnm_crew *c, int64_t tid, int64_t q) {
    for (int64_t i = 0; i < c->P; i++) {
        const int64_t p = (tid + i) % c->P; /* its own part first */
        int_fast64_t before = q - 1;
        if (!nnm_test_may_claim(c->mode, c->window, tid, p, q)) continue;
        if (!atomic_compare_exchange_strong(&c->claimed[p].job, &before, q)) continue;
        nnm_crew_part(c, p);
        if (p != tid) atomic_fetch_add_explicit(&c->taken, 1, memory_order_relaxed);
        if (atomic_fetch_add(&c->done, 1) + 1 == q * c->P) nnm_ring(&c->done_bell, &c->waiting);
    }
}

/* A helper's life: wait for a product, run what parts of it it can claim, until stopped. */
static void nnm_crew_member(nnm_crew *c, int64_t tid) {
    for (int64_t q = 1;; q++) {
        nnm_wait_count(&c->posted, q, &c->post_bell, &c->idle);
        const int64_t now = atomic_load(&c->posted); /* it may have missed some */
        if (atomic_load(&c->stop)) return;            /* stop is set before its post */
        q = now > q ? now : q;
        nnm_crew_claim_parts(c, tid, q);
    }
}

/* C ← alpha op(A) op(B) + beta C through the crew: posted, its parts claimed first-come,
 * returning once every part is done. */
static void nnm_crew_gemm(nnm_crew *c, nnm_product job) {
    c->job = job;
    const int64_t q = atomic_fetch_add(&c->posted, 1) + 1;
    nnm_ring(&c->post_bell, &c->idle);
    nnm_crew_claim_parts(c, 0, q);
    nnm_wait_count(&c->done, q * c->P, &c->done_bell, &c->waiting);
}

/* C ← alpha op(A) op(B) + beta C (column-major, Fortran BLAS), `size` bytes per number: in
 * parts through this thread's crew when it has one and the product is large, else whole. */
static inline void nnm_gemm(const nnm_epoch *e, char ta, char tb, int64_t M, int64_t N,
                            int64_t K, const void *alpha, const void *A, int64_t lda,
                            const void *B, int64_t ldb, const void *beta, void *C, int64_t ldc,
                            int64_t size) {
    nnm_crew *c = nnm_crew_now;
    const int64_t cut = M >= N ? M : N;
    if (!c || M * N * K < NNM_SPLIT_MIN || cut < 2 * NNM_SPLIT_ALIGN) {
        nnm_blas_gemm(e, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    nnm_crew_gemm(c, (nnm_product){ta, tb, M, N, K, lda, ldb, ldc, size, alpha, A, B, beta, C});
}

/* Whether epoch e makes any product that nnm_gemm would cut (a full mini-batch's). */
static int nnm_crew_useful(const nnm_epoch *e) {
    for (int64_t i = 0; i < e->L; i++)
        if (e->sizes[i] * e->sizes[i + 1] * e->B >= NNM_SPLIT_MIN) return 1;
    return 0;
}

/* What a helper thread of the crew is given. */
typedef struct {
    nnm_crew *crew;
    int64_t tid;
} nnm_crew_seat;

static void *nnm_crew_main(void *arg) {
    nnm_crew_seat *s = (nnm_crew_seat *)arg;
    nnm_crew_member(s->crew, s->tid);
    return NULL;
}

/* Starts up to P − 1 helpers for the epoch e (seats and workers: P entries); returns how
 * many threads the crew has, this one included (1: no crew, products stay whole). */
static int64_t nnm_crew_start(nnm_crew *c, const nnm_epoch *e, int64_t P, nnm_crew_seat *seats,
                              pthread_t *workers) {
    memset(c, 0, sizeof *c);
    for (int64_t p = 0; p < NNM_MAX_THREADS; p++) atomic_init(&c->claimed[p].job, 0);
    c->e = e, c->mode = nnm_test_mode, c->window = nnm_test_window;
    int64_t started = 1;
    for (; started < P; started++) {
        seats[started] = (nnm_crew_seat){c, started};
        if (pthread_create(&workers[started], NULL, nnm_crew_main, &seats[started])) break;
    }
    c->P = started; /* set before any product is posted; helpers read it after a post */
    return started;
}

/* Stops and joins the crew's `started` − 1 helpers; returns how many parts ran on a thread
 * other than their own. */
static int64_t nnm_crew_stop(nnm_crew *c, int64_t started, pthread_t *workers) {
    atomic_store(&c->stop, 1);
    atomic_fetch_add(&c->posted, 1);
    nnm_ring(&c->post_bell, &c->idle);
    for (int64_t u = 1; u < started; u++) pthread_join(workers[u], NULL);
    return atomic_load(&c->taken);
}

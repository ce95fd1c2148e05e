/* The threads of one epoch: how T logical parts of every mini-batch are run, by T threads
 * together or, while the machine is contended, by one thread alone.
 *
 * Part p of T backpropagates its rows of the mini-batch into its own Σ δ aᵀ and Σ δ
 * (NNM(backprop_rows) with tid p) and, after every part has, steps its slice of the
 * parameters (NNM(update_slices) with tid p). No part reads what another part of the same
 * phase writes, so one thread that runs part 0, 1, ..., T − 1 of the backprop and then
 * slice 0, 1, ..., T − 1 of the step computes bit for bit what T threads compute.
 *
 * Together (the default): thread p runs part p, and two barriers per mini-batch separate the
 * phases. The barrier's waiter spins briefly, then yields, then sleeps on a futex.
 *
 * Alone: with a CPU-bound process competing for one of 2 cores, every barrier waits for
 * whichever thread the scheduler has just taken off its core, and the epoch ran 2.1–2.7
 * times its quiet time (benchmarks/RESULTS.md, "Under load"). So the epoch is cut into
 * windows of NNM_WINDOW mini-batches; at each window's end every thread adds the wall time
 * it spent not running while it wanted to (wall − its CPU time − its time asleep in a
 * barrier), and the last one to arrive decides the next window: when that lost time is over
 * NNM_LOST_SHARE of the threads' wall time, thread 0 runs the next windows alone while the
 * others sleep, then all threads try one window together again (after NNM_PROBE_MIN alone
 * windows, twice as many after each try that finds the machine still contended, at most
 * NNM_PROBE_MAX). The next epoch started from the same OS thread begins where this one
 * left off.
 *
 * This file is included by _ckernels_epoch.h for each precision; its first part, which
 * does not depend on the precision, is compiled once. */

#ifndef NNM_THREADS_ONCE
#define NNM_THREADS_ONCE

#define NNM_SPIN_NS 200000      /* a waiter spins this long before it sleeps (see below) */
#define NNM_PAUSE_NS 50000      /* ... with PAUSE first, then yielding its core each round */
#define NNM_WINDOW 16           /* mini-batches between two decisions: together or alone */
#define NNM_LOST_SHARE 0.15     /* more lost than this share of the wall time: contended */
#define NNM_PROBE_MIN 2         /* alone windows before the threads try together again */
#define NNM_PROBE_MAX 32

/* A barrier for the T threads of one epoch: each arrival bumps count, the last one resets
 * it, runs `last` (if any) and starts the next generation. A waiter spins for about
 * NNM_SPIN_NS (a mini-batch's wait is a few microseconds on a quiet machine), yielding its
 * core after NNM_PAUSE_NS, then sleeps on the generation word (a futex on Linux) until the
 * last arrival wakes it. A wake-up from the futex takes tens of microseconds on a virtual
 * machine: with 30 µs of spinning a quiet machine's occasional late arrival put both
 * threads to sleep, and batch-128 epochs ran 5–13 % slower than with 200 µs
 * (benchmarks/ab_builds.py). */
typedef struct {
    atomic_int_fast64_t count, sleepers;
    _Atomic uint32_t generation; /* the futex word */
    int64_t T;
} nnm_barrier;

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

/* The CPU time this thread has run (a system call: read once per window, not per batch). */
static inline int64_t nnm_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Waits for the other T − 1 threads, spinning up to spin_ns first; returns how long this
 * thread slept (0 if it only spun): sleeping is waiting, not time lost to a competitor. */
static int64_t nnm_barrier_wait(nnm_barrier *bar, int64_t spin_ns, void (*last)(void *),
                                void *arg) {
    const uint32_t gen = atomic_load(&bar->generation);
    if (atomic_fetch_add(&bar->count, 1) == bar->T - 1) {
        atomic_store_explicit(&bar->count, 0, memory_order_relaxed);
        if (last) last(arg); /* alone: the others wait; its writes are released below */
        atomic_store(&bar->generation, gen + 1); /* seq_cst: ordered before reading sleepers */
        if (atomic_load(&bar->sleepers) > 0) nnm_wake_all(&bar->generation);
        return 0;
    }
    const int64_t start = nnm_now_ns(), pause_until = start + NNM_PAUSE_NS;
    for (int spins = 1; spin_ns > 0; spins++) {
        if (atomic_load_explicit(&bar->generation, memory_order_acquire) != gen) return 0;
        if (spins % 64 != 0) {
            NNM_PAUSE();
            continue;
        }
        const int64_t now = nnm_now_ns();
        if (now > start + spin_ns) break;
        if (now > pause_until) sched_yield(); /* a competitor on this core may run meanwhile */
    }
    const int64_t sleep_start = nnm_now_ns();
    atomic_fetch_add(&bar->sleepers, 1); /* seq_cst: seen by the last arrival, or ... */
    while (atomic_load(&bar->generation) == gen) /* ... its new generation seen here */
        nnm_sleep_while(&bar->generation, gen);
    atomic_fetch_sub(&bar->sleepers, 1);
    return nnm_now_ns() - sleep_start;
}

/* When the threads try together again: after probe_after alone windows (alone_run so far);
 * `probing`: the together window now running follows alone ones. */
typedef struct {
    int probing;
    int64_t alone_run, probe_after;
} nnm_plan;

/* The threads of one epoch: their barrier, and how the next window is run. `alone` and the
 * fields below it are written only by a barrier's last arrival (nnm_team_decide). */
typedef struct {
    nnm_barrier bar;
    atomic_int_fast64_t lost_ns, wall_ns; /* this window's sums over the threads */
    int64_t window;                       /* mini-batches per window */
    int64_t force;                        /* tests: nnm_test_schedule's mode (0: decide) */
    _Atomic int alone;                    /* the next window runs on thread 0 alone */
    nnm_plan plan;
    int64_t batches_alone;                /* mini-batches thread 0 ran alone (the report) */
} nnm_team;

/* One thread's clocks since its window began. */
typedef struct {
    int64_t wall0, cpu0, slept;
} nnm_watch;

static inline nnm_watch nnm_watch_start(void) {
    return (nnm_watch){nnm_now_ns(), nnm_cpu_ns(), 0};
}

/* At a window's end (the last arrival; the others wait): together or alone next. */
static void nnm_team_decide(void *arg) {
    nnm_team *team = (nnm_team *)arg;
    nnm_plan *plan = &team->plan;
    const int64_t lost = atomic_exchange(&team->lost_ns, 0);
    const int64_t wall = atomic_exchange(&team->wall_ns, 0);
    const int was_alone = atomic_load_explicit(&team->alone, memory_order_relaxed);
    int alone;
    if (team->force) {
        alone = team->force == 1 || (team->force == 2 && !was_alone);
    } else if (was_alone) {
        alone = ++plan->alone_run < plan->probe_after;
        plan->probing = !alone;
    } else {
        alone = (double)lost > NNM_LOST_SHARE * (double)wall;
        if (!alone) plan->probe_after = NNM_PROBE_MIN; /* quiet: try again soon next time */
        else if (plan->probing && plan->probe_after < NNM_PROBE_MAX) plan->probe_after *= 2;
        plan->alone_run = 0, plan->probing = 0;
    }
    atomic_store_explicit(&team->alone, alone, memory_order_relaxed);
}

/* The end of a window for one thread: it adds the time it lost and meets the others (at
 * once asleep when it had nothing to do), then starts its clocks for the next window. */
static void nnm_team_meet(nnm_team *team, nnm_watch *watch, int idle) {
    const int64_t wall = nnm_now_ns() - watch->wall0;
    const int64_t lost = wall - (nnm_cpu_ns() - watch->cpu0) - watch->slept;
    atomic_fetch_add(&team->lost_ns, lost > 0 ? lost : 0);
    atomic_fetch_add(&team->wall_ns, wall);
    nnm_barrier_wait(&team->bar, idle ? 0 : NNM_SPIN_NS, nnm_team_decide, team);
    *watch = nnm_watch_start();
}

/* Tests only (tests/test_engine_threads.py): the epochs this OS thread starts from now on
 * use windows of `window` mini-batches (0: NNM_WINDOW) and, with mode 1, run every window
 * alone, with mode 2 alternate alone and together windows, alone first, with mode 3 every
 * window together (0: decide). */
static _Thread_local int64_t nnm_test_window, nnm_test_mode;
void nnm_test_schedule(int64_t window, int64_t mode) {
    nnm_test_window = window > 0 ? window : 0;
    nnm_test_mode = mode >= 1 && mode <= 3 ? mode : 0;
}

/* Where the last epoch started on this OS thread left off (its next window alone or not,
 * its plan), so that the next one does not find the contention out again. */
static _Thread_local int nnm_carry_alone;
static _Thread_local nnm_plan nnm_carry_plan = {0, 0, NNM_PROBE_MIN};

/* How many mini-batches the last epoch started on this OS thread ran on one thread alone
 * (nnmath.engine.EpochRunner.batches_alone reads it after each epoch). */
static _Thread_local int64_t nnm_last_alone;
int64_t nnm_batches_alone(void) { return nnm_last_alone; }

/* What one thread of an epoch is given: the struct, the team, its number. */
typedef struct {
    nnm_epoch *e;
    nnm_team *team;
    int64_t tid;
    atomic_int_fast64_t *go; /* 0 until all threads that could be started are */
} nnm_part;

#endif /* NNM_THREADS_ONCE */

/* The logical parts [p0, p1) of T of the mini-batch of m rows at k: their rows' forward and
 * backward pass (NNM(backprop_rows)), then (every δ^l needs the weights before the step)
 * their slices' step t (NNM(update_slices), which for a large layer also makes the slice's
 * ∂C/∂w). When other threads run the other parts, a barrier separates the two phases and a
 * second one ends the mini-batch; the time this thread slept in them is added to *slept. */
NNM_CLONES void NNM(run_parts)(nnm_epoch *e, nnm_barrier *bar, int64_t p0, int64_t p1,
                               int64_t k, int64_t m, int64_t t, int fuse, int64_t *slept) {
    const int64_t T = e->threads;
    for (int64_t tid = p0; tid < p1; tid++) {
        const int64_t lo = nnm_share(m, tid, T), mt = nnm_share(m, tid + 1, T) - lo;
        if (mt > 0) NNM(backprop_rows)(e, tid, k, lo, mt, m, fuse);
    }
    if (p1 - p0 < T) *slept += nnm_barrier_wait(bar, NNM_SPIN_NS, NULL, NULL);
    for (int64_t tid = p0; tid < p1; tid++) NNM(update_slices)(e, tid, m, t, fuse);
    if (p1 - p0 < T) *slept += nnm_barrier_wait(bar, NNM_SPIN_NS, NULL, NULL);
}

/* Thread tid's share of one epoch when T threads share each mini-batch (T = 1: the whole
 * epoch, no barrier): window by window, part tid of each mini-batch, or in a window that
 * thread 0 runs alone, all T parts (thread 0) or nothing (the others, asleep). Rows
 * [⌈m·tid/T⌉, ⌈m·(tid+1)/T⌉) of a mini-batch of m are part tid's. The optimizer's step
 * count comes back in e->t. */
void NNM(train_part)(nnm_epoch *e, nnm_team *team, int64_t tid) {
    const int64_t n = e->n, B = e->B, T = e->threads, span = team->window * B;
    const int fuse = T == 1 && e->opt == 0;
    int64_t t = e->t, batches_alone = 0;
    nnm_watch watch = nnm_watch_start();
    for (int64_t k = 0; k < n;) {
        const int64_t end = span < n - k ? k + span : n;
        const int alone = atomic_load_explicit(&team->alone, memory_order_relaxed);
        for (; k < end; k += B, t++) {
            const int64_t m = B < n - k ? B : n - k;
            if (!alone) {
                NNM(run_parts)(e, &team->bar, tid, tid + 1, k, m, t + 1, fuse, &watch.slept);
            } else if (tid == 0) {
                NNM(run_parts)(e, &team->bar, 0, T, k, m, t + 1, fuse, &watch.slept);
                batches_alone++;
            }
        }
        if (T > 1) nnm_team_meet(team, &watch, alone && tid > 0);
    }
    if (tid == 0) e->t = t, team->batches_alone = batches_alone;
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
 * says how many did. The optimizer's step count comes back in e->t; how many mini-batches
 * this thread ran alone, in nnm_batches_alone(). */
int NNM(nnm_train_epoch)(nnm_epoch *e) {
    enum { MAX_THREADS = 64 };
    const int bad = nnm_check_epoch(e);
    if (bad) return bad;
    int64_t T = e->threads < 1 ? 1 : e->threads > MAX_THREADS ? MAX_THREADS : e->threads;
    T = T > e->B ? e->B : T;
    pthread_t workers[MAX_THREADS];
    nnm_part parts[MAX_THREADS];
    nnm_team team = {.window = nnm_test_window ? nnm_test_window : NNM_WINDOW,
                     .force = nnm_test_mode,
                     .plan = nnm_carry_plan};
    atomic_int_fast64_t go;
    atomic_init(&team.bar.count, 0);
    atomic_init(&team.bar.sleepers, 0);
    atomic_init(&team.bar.generation, 0);
    atomic_init(&team.lost_ns, 0);
    atomic_init(&team.wall_ns, 0);
    atomic_init(&go, 0);
    int64_t started = 1;
    for (; started < T; started++) {
        parts[started] = (nnm_part){e, &team, started, &go};
        if (pthread_create(&workers[started], NULL, NNM(part_main), &parts[started])) break;
    }
    e->threads = team.bar.T = started;
    const int carry = started > 1 && !team.force; /* tests start from their own mode */
    const int forced_alone = started > 1 && (team.force == 1 || team.force == 2);
    atomic_init(&team.alone, carry ? nnm_carry_alone : forced_alone);
    atomic_store_explicit(&go, 1, memory_order_release);
    NNM(train_part)(e, &team, 0);
    for (int64_t u = 1; u < started; u++) pthread_join(workers[u], NULL);
    nnm_last_alone = team.batches_alone;
    if (carry) nnm_carry_alone = atomic_load(&team.alone), nnm_carry_plan = team.plan;
    return NNM_OK;
}

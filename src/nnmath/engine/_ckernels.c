/* The compiled training epoch in C: the lecture's equations with no Python per mini-batch.
 *
 * This is the fast twin of the readable reference (Network.backprop_columns followed by an
 * optimizer's step); read those for the maths. It is built, when a C compiler is at hand, as
 * the optional extension module nnmath.engine._ckernels and called through ctypes by nnmath.engine.
 * It holds no Python objects: the Python side passes one struct of pointers per epoch, the
 * matrix products go to the BLAS ?gemm whose address it passes (NumPy's bundled OpenBLAS),
 * and nothing is allocated.
 *
 * Layout. A row-major buffer (B, n_l), one row per example, *is* the lecture's column matrix
 * a^l (n_l, B) to column-major BLAS, with leading dimension n_l; a row-major W (n_out, n_in)
 * is Wᵀ to BLAS. The three products of one layer are
 *
 *     z = W a          gemm('T', 'N', n_out, m, n_in, 1,  W, n_in, a, n_in, 0, z, n_out)
 *     g = Wᵀ δ         gemm('N', 'N', n_in,  m, n_out, 1, W, n_in, δ, n_out, 0, g, n_in)
 *     Σ δ aᵀ           gemm('N', 'T', n_in, n_out, m, 1, a, n_in, δ, n_out, 0, ∇w, n_in)
 *
 * and on one thread plain SGD fuses the last with its update: w ← (1 − ηλ/n) w − (η/m) δ aᵀ.
 *
 * Threads. T threads (1..64; nnmath.engine decides) share every mini-batch: each gathers and
 * backpropagates its own rows, with BLAS on one thread when T > 1, into its own Σ δ aᵀ and
 * Σ δ; after a barrier each updates its slice of every W and b from the sum of all parts
 * over m (a large layer's weights instead from the product of its slice of units over all
 * rows: nnm_sliced), and a second barrier ends the mini-batch. One thread is the same body
 * with no barrier. A thread's share of a narrow layer's products goes to BLAS in calls of
 * e->gemm_rows rows (nnm_call_rows says when).
 *
 * Kernel ids. Each activation, cost and optimizer of nnmath's registries that this file
 * implements carries its id there (Activation.kernel, Cost.kernel, Optimizer.kernel);
 * nnm_knows lists the ids compiled in, and an epoch given any other id does nothing and
 * returns NNM_UNKNOWN_* (nnmath.engine raises a clear error; it asks nnm_knows first and
 * trains such a network on the reference loop instead).
 *
 * Checks. An epoch refuses any array whose length is not what the sizes imply, before it
 * reads or writes anything (nnm_check_epoch); nnmath.engine checks first and names the array.
 *
 * Dropout. Unit u of hidden layer i of the example at position j of the epoch is kept when
 * its 32-bit draw is at least drop_thresh[i] (⌊p·2^32⌋); the draws are the halves of
 * nnm_draw(key, j·drop_words + drop_offset[i] + ⌊u/2⌋), a counter-based generator, so any
 * thread computes the same mask for the same example, and nnmath.network.Network's
 * dropout_masks computes it too (the reference path).
 *
 * The per-precision body is _ckernels_real.h (the element-wise kernels, the optimizers' steps,
 * dropout) and _ckernels_epoch.h (the epoch that calls them), each included twice (float,
 * double).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NNM_PAUSE() _mm_pause()
#else
#define NNM_PAUSE() ((void)0)
#endif

/* Everything one epoch needs; nnmath.engine.binding.CEpoch is the same struct in ctypes. */
typedef struct {
    int64_t n, B, L;              /* examples, mini-batch size, layers of weights */
    int64_t cost, fused, opt;     /* cost kernel id, δ^L = a − y applies, optimizer kernel id */
    int64_t blas64;               /* BLAS integers are 64-bit (else 32-bit) */
    int64_t t;                    /* the optimizer's step count: in and out */
    const int64_t *sizes;         /* L + 1 units per layer */
    const int64_t *perm;          /* n: the epoch's shuffle */
    const int64_t *codes;         /* L activation kernel ids */
    const double *alphas;         /* L: the activation's parameter (α of leaky ReLU / ELU) */
    const double *hp;             /* η, λ/n, the optimizer's p0..p4 (kernel_hyper), eps of dtype */
    const void *X, *Y;            /* (n, sizes[0]), (n, sizes[L]) row-major */
    void **W, **b;                /* L weights (n_out, n_in) and biases, updated in place */
    void **A, **Z, **D;           /* a^l (B, n_l) for l = 0..L; z^l, δ^l (B, n_{l+1}) */
    void **S1W, **S1B, **S2W, **S2B; /* optimizer state (velocity, Adam's m and v, ...) */
    void *Yb;                     /* (B, sizes[L]) targets of the mini-batch */
    void *gemm;                   /* ?gemm_ of the right precision, Fortran interface */
    int64_t threads;              /* T threads share each mini-batch (1: no thread started) */
    void **NWT, **NBT;            /* T × L: thread t's Σ δ aᵀ and Σ δ of layer i at [t L + i] */
    int64_t gemm_rows;            /* > 0: narrow layers' products in calls of this many rows */
    uint64_t drop_key;            /* the epoch's dropout key (fit draws it) */
    int64_t drop_words;           /* 64-bit draws per example (all hidden layers) */
    const uint64_t *drop_thresh;  /* L: keep iff draw ≥ this (⌊p 2^32⌋); 0: no dropout */
    const double *drop_scale;     /* L: 1 / (1 − p) */
    const int64_t *drop_offset;   /* L: where layer i's draws start in an example's */
    void **AIN;                   /* L + 1: layer i's input, A[i] or its dropped copy */
    void **MK;                    /* L: layer i's output mask (0 or 1/(1 − p)), if dropout */
    const int64_t *lens;          /* n_lens: the length of every array above (NNM_OWN, below) */
    double *scores;               /* 2 T, or NULL: thread t adds Σ C_x, hits at [2 t], [2 t + 1] */
    int64_t n_lens;               /* entries of lens: 11 L + 26 + 2 T L */
} nnm_epoch;

/* What an epoch returns: 0, or which kernel id it does not know (it then does nothing). */
enum {
    NNM_OK = 0,
    NNM_UNKNOWN_ACTIVATION = 1,
    NNM_UNKNOWN_COST = 2,
    NNM_UNKNOWN_OPTIMIZER = 3,
    NNM_BAD_LENGTH = 4, /* an array's length (e->lens) is not what L, B, n, T and sizes imply */
    NNM_BAD_VALUE = 5,  /* a row index outside X, a dropout threshold ≥ 2^32, T outside 1..64 */
};

/* Whether this build implements kernel id `id` of a registry: kind 0 activations
 * (nnmath.activations.ACTIVATIONS), 1 costs, 2 optimizers. */
int64_t nnm_knows(int64_t kind, int64_t id) {
    switch (kind) {
    case 0: /* sigmoid 0, tanh 1, relu 2, leaky_relu 3, elu 4, identity 5, softmax 6, gelu 7,
             * softplus 8, silu 9, softsign 10 */
        return id >= 0 && id <= 10;
    case 1: /* quadratic 0, cross_entropy 1, log_likelihood 2 */
        return id >= 0 && id <= 2;
    case 2: /* SGD 0, SGD with momentum 1, Adam 2, RMSprop 3 */
        return id >= 0 && id <= 3;
    default:
        return 0;
    }
}

static int nnm_check_ids(const nnm_epoch *e) {
    for (int64_t i = 0; i < e->L; i++)
        if (!nnm_knows(0, e->codes[i])) return NNM_UNKNOWN_ACTIVATION;
    if (!nnm_knows(1, e->cost)) return NNM_UNKNOWN_COST;
    if (!nnm_knows(2, e->opt)) return NNM_UNKNOWN_OPTIMIZER;
    return NNM_OK;
}

/* The parts of e->lens (nnmath.engine.EpochRunner builds it), 11 L + 26 + 2 T L entries:
 * [0, 6L) per layer i the elements of W, b, S1W, S1B, S2W, S2B; [6L, 6L + 3) of X, Y, perm;
 * NNM_SMALL the entries of sizes, codes, alphas, hp, drop_thresh, drop_scale, drop_offset,
 * scores (0: NULL); NNM_PTRS those of the pointer arrays W, b, S1W, S1B, S2W, S2B, A, Z, D,
 * AIN, MK, NWT, NBT; NNM_OWN the elements of Yb, of each A[l], per layer of Z[i], D[i],
 * AIN[i], MK[i] (0: NULL), then per thread t and layer i of NWT[t L + i], NBT[t L + i]. */
#define NNM_SMALL(L) (6 * (L) + 3)
#define NNM_PTRS(L) (6 * (L) + 11)
#define NNM_OWN(L) (6 * (L) + 24)

/* The scalars, the small arrays and the pointer arrays hold what L, B, n and T imply: the
 * entry counts are checked before any entry is read. */
static int nnm_check_counts(const nnm_epoch *e) {
    const int64_t L = e->L, T = e->threads;
    if (!e->lens || L < 1 || L > (1 << 20) || e->B < 1 || e->n < 0) return NNM_BAD_LENGTH;
    if (T < 1 || T > 64) return NNM_BAD_VALUE;
    if (e->n_lens != 11 * L + 26 + 2 * T * L) return NNM_BAD_LENGTH;
    const int64_t *n = e->lens + NNM_SMALL(L);
    const int64_t small[8] = {L + 1, L, L, 8, L, L, L, e->scores ? 2 * T : 0}; /* hp: 8 */
    const void *small_at[8] = {e->sizes, e->codes, e->alphas, e->hp, e->drop_thresh,
                               e->drop_scale, e->drop_offset, e->scores};
    for (int k = 0; k < 8; k++)
        if (n[k] != small[k] || (small[k] && !small_at[k])) return NNM_BAD_LENGTH;
    n = e->lens + NNM_PTRS(L);
    const int64_t ptrs[13] = {L, L, L, L, L, L, L + 1, L, L, L + 1, L, T * L, T * L};
    void **const *ptrs_at[13] = {&e->W, &e->b,  &e->S1W, &e->S1B, &e->S2W, &e->S2B, &e->A,
                                 &e->Z, &e->D, &e->AIN, &e->MK,  &e->NWT, &e->NBT};
    for (int k = 0; k < 13; k++)
        if (n[k] != ptrs[k] || !*ptrs_at[k]) return NNM_BAD_LENGTH;
    for (int64_t l = 0; l <= L; l++)
        if (e->sizes[l] < 1) return NNM_BAD_LENGTH;
    return NNM_OK;
}

/* The buffers that come from the caller (and so, through a checkpoint, from a file) hold
 * what the sizes say: per layer W, b and the optimizer's state, then X, Y and perm. */
static int nnm_check_caller(const nnm_epoch *e) {
    for (int64_t i = 0; i < e->L; i++) {
        const int64_t w = e->sizes[i + 1] * e->sizes[i], b = e->sizes[i + 1];
        const int64_t *n = e->lens + 6 * i;
        if (n[0] != w || n[2] != w || n[4] != w || n[1] != b || n[3] != b || n[5] != b)
            return NNM_BAD_LENGTH;
        if (!e->W[i] || !e->b[i] || !e->S1W[i] || !e->S1B[i] || !e->S2W[i] || !e->S2B[i])
            return NNM_BAD_LENGTH;
    }
    const int64_t *n = e->lens + 6 * e->L;
    if (n[0] != e->n * e->sizes[0] || n[1] != e->n * e->sizes[e->L] || n[2] != e->n)
        return NNM_BAD_LENGTH;
    if (e->n > 0 && (!e->X || !e->Y || !e->perm)) return NNM_BAD_LENGTH;
    return NNM_OK;
}

/* The epoch's own buffers hold B rows of each layer (Yb, A, Z, D, AIN, MK) and each thread's
 * parts of ∂C/∂w and ∂C/∂b; the output layer has no mask (only hidden units are dropped). */
static int nnm_check_buffers(const nnm_epoch *e) {
    const int64_t L = e->L, B = e->B, *s = e->sizes, *n = e->lens + NNM_OWN(L);
    if (!e->Yb || n[0] != B * s[L] || e->MK[L - 1]) return NNM_BAD_LENGTH;
    for (int64_t l = 0; l <= L; l++)
        if (!e->A[l] || n[1 + l] != B * s[l]) return NNM_BAD_LENGTH;
    n += L + 2;
    for (int64_t i = 0; i < L; i++, n += 4) {
        const int64_t out = B * s[i + 1];
        if (!e->Z[i] || !e->D[i] || !e->AIN[i]) return NNM_BAD_LENGTH;
        if (n[0] != out || n[1] != out || n[2] != B * s[i] || n[3] != (e->MK[i] ? out : 0))
            return NNM_BAD_LENGTH;
    }
    for (int64_t k = 0; k < e->threads * L; k++, n += 2) {
        const int64_t i = k % L;
        if (!e->NWT[k] || !e->NBT[k] || n[0] != s[i + 1] * s[i] || n[1] != s[i + 1])
            return NNM_BAD_LENGTH;
    }
    return NNM_OK;
}

/* Every row index of perm is a row of X, and every dropout threshold ⌊p 2^32⌋ has p < 1. */
static int nnm_check_values(const nnm_epoch *e) {
    for (int64_t j = 0; j < e->n; j++)
        if (e->perm[j] < 0 || e->perm[j] >= e->n) return NNM_BAD_VALUE;
    for (int64_t i = 0; i < e->L; i++)
        if (e->drop_thresh[i] > UINT32_MAX) return NNM_BAD_VALUE;
    return nnm_check_ids(e);
}

/* Whether the epoch may run: every array holds what L, B, n, T and the sizes imply (e->lens
 * gives each one's length; every pointer among them must be set), and every value that
 * becomes an address or a bound is in range, before anything is read or written. */
static int nnm_check_epoch(const nnm_epoch *e) {
    int bad = nnm_check_counts(e);
    if (!bad) bad = nnm_check_caller(e);
    if (!bad) bad = nnm_check_buffers(e);
    return bad ? bad : nnm_check_values(e);
}

/* The 64-bit draw number `word` of the stream `key` (splitmix64's output function applied
 * to key + (word + 1) γ): uniform bits, the same on every thread and in NumPy. */
static inline uint64_t nnm_draw(uint64_t key, uint64_t word) {
    uint64_t z = key + (word + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Where thread t of T starts in m things (rows of a mini-batch, entries of W): ⌈m t / T⌉, so
 * that thread 0's share is never empty while m > 0. */
static inline int64_t nnm_share(int64_t m, int64_t t, int64_t T) { return (m * t + T - 1) / T; }

typedef void (*gemm32_f)(const char *, const char *, const int32_t *, const int32_t *,
                         const int32_t *, const void *, const void *, const int32_t *,
                         const void *, const int32_t *, const void *, void *, const int32_t *);
typedef void (*gemm64_f)(const char *, const char *, const int64_t *, const int64_t *,
                         const int64_t *, const void *, const void *, const int64_t *,
                         const void *, const int64_t *, const void *, void *, const int64_t *);

/* How many 64-bit draws the dropout kernel makes per pass (2 units each; NNM(drop_block)).
 * It reads their halves as 32-bit words, low half first: a little-endian layout. */
#define NNM_DROP_WORDS 64
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "NNM(drop_block) reads a draw's halves in little-endian order"
#endif

/* How many rows of X the gather of a mini-batch copies side by side (see NNM(gather)). */
#define NNM_GATHER_ROWS 4

#if defined(__GNUC__) && __GNUC__ >= 12 && !defined(__clang__) && defined(__x86_64__) && \
    defined(__linux__)
/* One copy of the epoch per instruction set, picked once at load time (GCC's ifunc) by the
 * processor's features, so the element-wise loops use AVX-512 / AVX2 where it has them.
 * (The ISA levels, not "arch=skylake-avx512": that clone is picked by processor model and so
 * never on, say, a Sapphire Rapids.) */
#define NNM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NNM_CLONES
#endif

/* The pieces of an epoch are inlined into each clone of it, so that every clone's element-wise
 * loops are compiled for its instruction set. */
#if defined(__GNUC__)
#define NNM_INLINE static inline __attribute__((always_inline))
#else
#define NNM_INLINE static inline
#endif

/* e^x for x ≤ 0 without a libm call, so that the sigmoid loop vectorises: x = k ln2 + r,
 * a polynomial for e^r, 2^k written into the exponent bits. Relative error: float below
 * 2e-7, double below 5e-16; e^x under the smallest normal number gives 0. */
static inline float nnm_exp_nonpositive_f(float x) {
    int tiny = x < -87.0f;
    x = tiny ? -87.0f : x;
    float k = floorf(x * 1.44269504f + 0.5f);
    float r = (x - k * 0.693359375f) + k * 2.12194440e-4f; /* ln 2 in two parts */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = (p * r) * r + r + 1.0f;
    union { int32_t i; float f; } s;
    s.i = ((int32_t)k + 127) << 23;
    return tiny ? 0.0f : p * s.f;
}

static inline double nnm_exp_nonpositive_d(double x) {
    int tiny = x < -708.0;
    x = tiny ? -708.0 : x;
    double k = floor(x * 1.44269504088896338700 + 0.5);
    double r = (x - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10;
    /* Taylor series of e^r to r^13/13!, |r| ≤ ln2/2 */
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 1.0 / 2.0;
    p = p * r + 1.0;
    p = p * r + 1.0;
    union { int64_t i; double f; } s;
    s.i = ((int64_t)k + 1023) << 52;
    return tiny ? 0.0 : p * s.f;
}

/* C ← alpha op(A) op(B) + beta C (column-major, Fortran BLAS), either integer width. */
static inline void nnm_gemm(const nnm_epoch *e, char ta, char tb, int64_t M, int64_t N,
                            int64_t K, const void *alpha, const void *A, int64_t lda,
                            const void *B, int64_t ldb, const void *beta, void *C,
                            int64_t ldc) {
    if (e->blas64) {
        ((gemm64_f)e->gemm)(&ta, &tb, &M, &N, &K, alpha, A, &lda, B, &ldb, beta, C, &ldc);
    } else {
        int32_t m = (int32_t)M, n = (int32_t)N, k = (int32_t)K;
        int32_t la = (int32_t)lda, lb = (int32_t)ldb, lc = (int32_t)ldc;
        ((gemm32_f)e->gemm)(&ta, &tb, &m, &n, &k, alpha, A, &la, B, &lb, beta, C, &lc);
    }
}

/* How many rows of a share of m rows one product of layer n_in → n_out takes per BLAS call
 * (see nnmath.engine.GEMM_ROWS). OpenBLAS multiplies matrices of at most NNM_SMALL_GEMM
 * multiply-adds by its small-matrix kernels, which skip the packing of its blocked path;
 * on this project's AVX-512 machine, with BLAS on one thread, a narrow layer's (n_out ≤ 32)
 * products are 1.2–1.4× faster as calls of 32 rows that fall under that bound than as one
 * call of 64 rows above it, and wider layers' are slower. So a share is cut into calls of
 * e->gemm_rows rows only when the layer is narrow, one call would be above the bound and
 * each cut call is under it; else it is one call. The products are the same; the sum over
 * the rows in δ aᵀ is taken call by call. */
#define NNM_SMALL_GEMM 1000000
static inline int64_t nnm_call_rows(const nnm_epoch *e, int64_t n_in, int64_t n_out,
                                    int64_t m) {
    const int64_t r = e->gemm_rows, per_row = n_in * n_out;
    if (r <= 0 || m <= r || n_out > 32 || m * per_row <= NNM_SMALL_GEMM ||
        r * per_row > NNM_SMALL_GEMM)
        return m;
    return r;
}

/* Whether on T threads layer i's weights take their step by slices of output units, each
 * thread making δ_J aᵀ for its units J over all m rows of the mini-batch (NNM(update_slices))
 * instead of adding up T parts of ∂C/∂w^l made over each thread's rows: for a layer of at
 * least 2^16 weights with at least m/T output units. Its T parts (each n_in × n_out, written
 * whole, then read slice by slice across the cores) then outweigh the other threads' rows of
 * its input (n_in m (T − 1)/T values) that the slices read. benchmarks/ab_builds.py against
 * every layer by parts, batch 128 on 2 threads: deep 0.957 and relu100 0.928 in float64,
 * 0.992 and 1.009 in float32 (their 784 → 100 layer sliced), the book's 1.00 (none sliced).
 * Slicing every layer was slower: the book's 784 → 30 reads 784 inputs per row for 30 units,
 * and deep's 100 → 100 layers' parts stay in cache. */
static inline int nnm_sliced(const nnm_epoch *e, int64_t i, int64_t m) {
    const int64_t n_in = e->sizes[i], n_out = e->sizes[i + 1];
    return e->threads > 1 && n_in * n_out >= 65536 && n_out * e->threads >= m;
}

/* One element-wise case of NNM(activate): over a row, z ← z + b, then a = EXPR(zc). */
#define NNM_EACH(EXPR)                                                                      \
    for (int64_t c = 0; c < n; c++) {                                                       \
        const REAL zc = zr[c] + b[c];                                                       \
        zr[c] = zc;                                                                         \
        ar[c] = (EXPR);                                                                     \
    }                                                                                       \
    break

#define REAL float
#define NNM(name) name##_f32
#define NNM_EXPNP nnm_exp_nonpositive_f
#define NNM_EXP expf
#define NNM_EXPM1 expm1f
#define NNM_TANH tanhf
#define NNM_SQRT sqrtf
#define NNM_ERF erff
#define NNM_LOG1P log1pf
#define NNM_LOG logf
#include "_ckernels_real.h"
#include "_ckernels_epoch.h"
#undef REAL
#undef NNM
#undef NNM_EXPNP
#undef NNM_EXP
#undef NNM_EXPM1
#undef NNM_TANH
#undef NNM_SQRT
#undef NNM_ERF
#undef NNM_LOG1P
#undef NNM_LOG

#define REAL double
#define NNM(name) name##_f64
#define NNM_EXPNP nnm_exp_nonpositive_d
#define NNM_EXP exp
#define NNM_EXPM1 expm1
#define NNM_TANH tanh
#define NNM_SQRT sqrt
#define NNM_ERF erf
#define NNM_LOG1P log1p
#define NNM_LOG log
#include "_ckernels_real.h"
#include "_ckernels_epoch.h"

/* The ABI version nnmath.engine.binding checks before it trusts the struct layout above. */
int64_t nnm_abi_version(void) { return 7; }

/* A Python module so that setuptools can build and import it; its functions are reached
 * through ctypes (nnmath.engine.binding loads this file's path with ctypes.CDLL). */
static struct PyModuleDef nnm_module = {
    PyModuleDef_HEAD_INIT, "_ckernels",
    "The compiled training epoch (C); called through ctypes by nnmath.engine.", -1, NULL,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__ckernels(void) { return PyModule_Create(&nnm_module); }


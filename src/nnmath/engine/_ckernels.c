/* The compiled training epoch in C: the lecture's equations with no Python per mini-batch.
 *
 * This is the fast twin of the readable reference (Network.backprop_columns followed by an
 * optimizer's step); read those for the maths. It is built, when a C compiler is at hand, as
 * the optional extension module nnmath.engine._ckernels and called through ctypes by
 * nnmath.engine.
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
 * Threads. T threads (1..64; nnmath.engine decides) share every mini-batch as T logical
 * parts (_threads.h): each part gathers and backpropagates its own rows, with BLAS on one
 * thread when T > 1, into its own Σ δ aᵀ and Σ δ; once all have, each part updates its
 * slice of every W and b from the sum of all parts over m (a large layer's weights instead
 * from the product of its slice of units over all rows: nnm_sliced). A thread runs its own
 * part and any part no thread has started, so a thread kept off its core by another
 * process holds nothing up; the result is the same bit for bit. A part's share of a narrow
 * layer's products goes to BLAS in calls of e->gemm_rows rows (nnm_call_rows says when).
 * One thread (mini-batches under 64 rows) cuts each large product into e->product_parts
 * parts of its output instead, each a BLAS call on one thread, run first-come by a crew of
 * that many threads (_crew.h), so that again no thread waits for one kept off its core.
 *
 * Kernels by name. Each activation, cost and optimizer this build implements is a case in
 * one header (_activations.h, _costs.h, _optimizers.h) and a name in that header's table;
 * nnmath.engine looks the registry entry's name up there (nnm_kernel_id) when it loads the
 * library, and trains an entry the tables lack on the reference loop. An epoch given an id
 * past a table does nothing and returns NNM_UNKNOWN_*.
 *
 * Shared layout. The struct an epoch is given, with its optimizer's hyper-parameters and
 * state as named fields, is declared once (_layout.h) and exported field by field, from
 * which nnmath.engine.binding builds its ctypes twin.
 *
 * Checks. An epoch refuses any array whose length is not what the sizes imply, before it
 * reads or writes anything (nnm_check_epoch, _checks.h); nnmath.engine checks first and
 * names the array.
 *
 * Dropout. Unit u of hidden layer i of the example at position j of the epoch is kept when
 * its 32-bit draw is at least drop_thresh[i] (⌊p·2^32⌋); the draws are the halves of
 * nnm_draw(key, j·drop_words + drop_offset[i] + ⌊u/2⌋), a counter-based generator, so any
 * thread computes the same mask for the same example, and nnmath.network.Network's
 * dropout_masks computes it too (the reference path).
 *
 * Layers. A layer is dense or a batch norm (e->kind; _batchnorm.h: its sums over all the
 * rows cost the threads up to three barriers a mini-batch), and a dense layer may add an
 * earlier layer's input to its z (e->skip: a residual block's sum).
 *
 * The per-precision body is _activations.h, _costs.h, _optimizers.h, _dropout.h,
 * _batchnorm.h and _ckernels_epoch.h with _threads.h (the epoch that calls them), each
 * included twice (float, double).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
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

#include "_layout.h"

/* What an epoch returns: 0, or why it did nothing (nnm_status_name gives the word). */
enum {
    NNM_OK = 0,
    NNM_UNKNOWN_ACTIVATION = 1,
    NNM_UNKNOWN_COST = 2,
    NNM_UNKNOWN_OPTIMIZER = 3,
    NNM_BAD_LENGTH = 4, /* an array's length (e->lens) is not what L, B, n, T and sizes imply */
    NNM_BAD_VALUE = 5,  /* a row index outside X, a dropout threshold ≥ 2^32, T outside 1..64 */
};

/* The word nnmath.engine.binding reads for status code `status` (NULL: none such). */
const char *nnm_status_name(int64_t status) {
    static const char *const names[] = {"ok", "unknown_activation", "unknown_cost",
                                        "unknown_optimizer", "bad_length", "bad_value"};
    return status >= 0 && status < 6 ? names[status] : NULL;
}

static int nnm_check_epoch(const nnm_epoch *e); /* _checks.h, after the kernels' tables */

/* Where thread t of T starts in m things (rows of a mini-batch, entries of W): ⌈m t / T⌉, so
 * that thread 0's share is never empty while m > 0. */
static inline int64_t nnm_share(int64_t m, int64_t t, int64_t T) { return (m * t + T - 1) / T; }

typedef void (*gemm32_f)(const char *, const char *, const int32_t *, const int32_t *,
                         const int32_t *, const void *, const void *, const int32_t *,
                         const void *, const int32_t *, const void *, void *, const int32_t *);
typedef void (*gemm64_f)(const char *, const char *, const int64_t *, const int64_t *,
                         const int64_t *, const void *, const void *, const int64_t *,
                         const void *, const int64_t *, const void *, void *, const int64_t *);

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
static inline void nnm_blas_gemm(const nnm_epoch *e, char ta, char tb, int64_t M, int64_t N,
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

/* nnm_gemm: a large product in parts on a crew of threads, or whole. */
#include "_crew.h"

/* How many rows of a share of m rows one product of layer n_in → n_out takes per BLAS call
 * (see nnmath.engine.GEMM_ROWS). OpenBLAS multiplies matrices of at most NNM_SMALL_GEMM
 * multiply-adds by its small-matrix kernels, which skip the packing of its blocked path, and
 * with BLAS on one thread a narrow layer's (n_out ≤ 32) products are faster as calls under
 * that bound, wider layers' slower (benchmarks/RESULTS.md, "Narrow layers"). So a share is
 * cut into calls of e->gemm_rows rows only when the layer is narrow, one call would be above
 * the bound and each cut call is under it; else it is one call. The products are the same;
 * the sum over the rows in δ aᵀ is taken call by call. */
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
 * its input (n_in m (T − 1)/T values) that the slices read (benchmarks/RESULTS.md, "Large
 * layers take their step by slices on several threads"). Slicing every layer was slower: the
 * book's 784 → 30 reads 784 inputs per row for 30 units, and 100 → 100 layers' parts stay in
 * cache. */
/* The entries of layer i's W: n_out × n_in, or a batch norm's γ, one per unit. */
static inline int64_t nnm_w_size(const nnm_epoch *e, int64_t i) {
    return e->kind[i] == NNM_BATCH_NORM ? e->sizes[i + 1] : e->sizes[i + 1] * e->sizes[i];
}

static inline int nnm_sliced(const nnm_epoch *e, int64_t i, int64_t m) {
    const int64_t n_in = e->sizes[i], n_out = e->sizes[i + 1];
    return e->threads > 1 && e->kind[i] == NNM_DENSE && n_in * n_out >= 65536 &&
           n_out * e->threads >= m;
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
#include "_activations.h"
#include "_costs.h"
#include "_optimizers.h"
#include "_dropout.h"
#include "_batchnorm.h"
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
#include "_activations.h"
#include "_costs.h"
#include "_optimizers.h"
#include "_dropout.h"
#include "_batchnorm.h"
#include "_ckernels_epoch.h"

#include "_checks.h"

/* The name of kernel `id` of `kind` ("activation", "cost", "optimizer", "layer"), or NULL past the
 * last: nnmath.engine.binding reads the tables so when it loads the library. */
const char *nnm_kernel_name(const char *kind, int64_t id) {
    if (id < 0) return NULL;
    if (!strcmp(kind, "activation"))
        return id < NNM_N_ACTIVATIONS ? nnm_activation_names[id] : NULL;
    if (!strcmp(kind, "cost")) return id < NNM_N_COSTS ? nnm_cost_names[id] : NULL;
    if (!strcmp(kind, "layer")) return id < NNM_N_LAYER_KINDS ? nnm_layer_names[id] : NULL;
    if (!strcmp(kind, "optimizer"))
        return id < NNM_N_OPTIMIZERS ? nnm_optimizer_kernels[id].name : NULL;
    return NULL;
}

/* The id of the first kernel `name` of `kind`, or −1 when this build has none. */
int64_t nnm_kernel_id(const char *kind, const char *name) {
    for (int64_t k = 0; nnm_kernel_name(kind, k); k++)
        if (!strcmp(nnm_kernel_name(kind, k), name)) return k;
    return -1;
}

/* The hyper-parameters (fields of nnm_hyper) and the state (fields of nnm_state, and t) that
 * optimizer kernel `id` reads, space-separated, or NULL past the last. */
const char *nnm_optimizer_hyper(int64_t id) {
    return id >= 0 && id < NNM_N_OPTIMIZERS ? nnm_optimizer_kernels[id].hyper : NULL;
}

const char *nnm_optimizer_state(int64_t id) {
    return id >= 0 && id < NNM_N_OPTIMIZERS ? nnm_optimizer_kernels[id].state : NULL;
}

/* A Python module so that setuptools can build and import it; its functions are reached
 * through ctypes (nnmath.engine.binding loads this file's path with ctypes.CDLL). */
static struct PyModuleDef nnm_module = {
    PyModuleDef_HEAD_INIT, "_ckernels",
    "The compiled training epoch (C); called through ctypes by nnmath.engine.", -1, NULL,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__ckernels(void) { return PyModule_Create(&nnm_module); }


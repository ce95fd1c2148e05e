/* The compiled training epoch in C: the lecture's equations with no Python per mini-batch.
 *
 * This file is the C twin of nnmath/_numba_kernels.py (and so of Network.backprop_columns
 * followed by SGD.step / Adam.step); read those for the maths. It is built, when a C
 * compiler is at hand, as the optional extension module nnmath._ckernels and called through
 * ctypes by nnmath.fast (backend "c"). It holds no Python objects: the Python side passes one
 * struct of pointers per epoch, the matrix products go to the BLAS ?gemm whose address it
 * passes (NumPy's bundled OpenBLAS), and nothing is allocated.
 *
 * Layout. A row-major buffer (B, n_l), one row per example, *is* the lecture's column matrix
 * a^l (n_l, B) to column-major BLAS, with leading dimension n_l; a row-major W (n_out, n_in)
 * is Wᵀ to BLAS. The three products of one layer are
 *
 *     z = W a          gemm('T', 'N', n_out, m, n_in, 1,  W, n_in, a, n_in, 0, z, n_out)
 *     g = Wᵀ δ         gemm('N', 'N', n_in,  m, n_out, 1, W, n_in, δ, n_out, 0, g, n_in)
 *     ∂C/∂w = δ aᵀ/m   gemm('N', 'T', n_in, n_out, m, 1/m, a, n_in, δ, n_out, 0, ∇w, n_in)
 *
 * and for plain SGD the last is fused with the update: w ← (1 − ηλ/n) w − (η/m) δ aᵀ.
 *
 * Threads. With e->threads = T > 1 (mini-batches of 64 or more, nnmath.fast decides) T
 * threads share every mini-batch: each gathers and backpropagates its own rows, with BLAS on
 * one thread, into its own Σ δ aᵀ and Σ δ; after a barrier each updates its slice of every W
 * and b from the sum of all parts over m, and a second barrier ends the mini-batch. The
 * numbers are those of one thread up to the order of the sums. A thread's share of a narrow
 * layer's products goes to BLAS in calls of e->gemm_rows rows (nnm_call_rows says when).
 *
 * Codes (in step with nnmath.fast.ACTIVATION_CODES and friends): activations sigmoid 0,
 * tanh 1, relu 2, leaky_relu 3, elu 4, identity 5, softmax 6; costs quadratic 0,
 * cross_entropy 1, log_likelihood 2; optimizers SGD 0, SGD + momentum 1, Adam 2.
 *
 * The body below is written once for a type REAL and included twice (float, double).
 */
#ifndef NNM_BODY

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NNM_PAUSE() _mm_pause()
#else
#define NNM_PAUSE() ((void)0)
#endif

/* Everything one epoch needs; nnmath.fast.CEpoch is the same struct in ctypes. */
typedef struct {
    int64_t n, B, L;              /* examples, mini-batch size, layers of weights */
    int64_t cost, fused, opt;     /* cost code, δ^L = a − y applies, optimizer code */
    int64_t blas64;               /* BLAS integers are 64-bit (else 32-bit) */
    int64_t t;                    /* Adam's step count: in and out */
    const int64_t *sizes;         /* L + 1 units per layer */
    const int64_t *perm;          /* n: the epoch's shuffle */
    const int64_t *codes;         /* L activation codes */
    const double *alphas;         /* L: α of leaky ReLU / ELU */
    const double *hp;             /* η, λ/n, μ, nesterov, β1, β2, ε, eps of the dtype */
    const void *X, *Y;            /* (n, sizes[0]), (n, sizes[L]) row-major */
    void **W, **b;                /* L weights (n_out, n_in) and biases, updated in place */
    void **A, **Z, **D;           /* a^l (B, n_l) for l = 0..L; z^l, δ^l (B, n_{l+1}) */
    void **NW, **NB;              /* gradient buffers (NW unused by plain SGD) */
    void **S1W, **S1B, **S2W, **S2B; /* optimizer state: velocity, or Adam's m and v */
    void *Yb;                     /* (B, sizes[L]) targets of the mini-batch */
    void *gemm;                   /* ?gemm_ of the right precision, Fortran interface */
    int64_t threads;              /* T threads share each mini-batch (1: no thread started) */
    void **NWT, **NBT;            /* T × L: thread t's Σ δ aᵀ and Σ δ of layer i at [t L + i] */
    int64_t gemm_rows;            /* > 0: narrow layers' products in calls of this many rows
                                   * (threaded epoch and floor; nnm_call_rows) */
} nnm_epoch;

/* A barrier for the T threads of one epoch: each arrival bumps count, the last one resets
 * it and starts the next generation. Waiting spins briefly (a mini-batch lasts tens of
 * microseconds, longer than a futex wake-up), then yields the core. */
typedef struct {
    atomic_int_fast64_t count, generation;
    int64_t T;
} nnm_barrier;

static void nnm_barrier_wait(nnm_barrier *bar) {
    int_fast64_t gen = atomic_load_explicit(&bar->generation, memory_order_acquire);
    if (atomic_fetch_add_explicit(&bar->count, 1, memory_order_acq_rel) == bar->T - 1) {
        atomic_store_explicit(&bar->count, 0, memory_order_relaxed);
        atomic_store_explicit(&bar->generation, gen + 1, memory_order_release);
        return;
    }
    for (int spins = 0; atomic_load_explicit(&bar->generation, memory_order_acquire) == gen;
         spins++) {
        if (spins < 20000)
            NNM_PAUSE();
        else
            sched_yield();
    }
}

/* Where thread t of T starts in m things (rows of a mini-batch, entries of W): ⌈m t / T⌉, so
 * that thread 0's share is never empty while m > 0. */
static inline int64_t nnm_share(int64_t m, int64_t t, int64_t T) { return (m * t + T - 1) / T; }

/* What one thread of an epoch is given: the struct, the shared barrier, its number. */
typedef struct {
    nnm_epoch *e;
    nnm_barrier *bar;
    int64_t tid;
    atomic_int_fast64_t *go; /* 0 until all threads that could be started are */
} nnm_part;


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
 * (see nnmath.fast.GEMM_ROWS). OpenBLAS multiplies matrices of at most NNM_SMALL_GEMM
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

#define NNM_BODY
#define REAL float
#define NNM(name) name##_f32
#define NNM_EXPNP nnm_exp_nonpositive_f
#define NNM_EXP expf
#define NNM_EXPM1 expm1f
#define NNM_TANH tanhf
#define NNM_SQRT sqrtf
#include "_ckernels.c" /* this file again: the body below, for this REAL */
#undef REAL
#undef NNM
#undef NNM_EXPNP
#undef NNM_EXP
#undef NNM_EXPM1
#undef NNM_TANH
#undef NNM_SQRT

#define REAL double
#define NNM(name) name##_f64
#define NNM_EXPNP nnm_exp_nonpositive_d
#define NNM_EXP exp
#define NNM_EXPM1 expm1
#define NNM_TANH tanh
#define NNM_SQRT sqrt
#include "_ckernels.c" /* this file again: the body below, for this REAL */

/* The ABI version nnmath.fast checks before it trusts the struct layout above. */
int64_t nnm_abi_version(void) { return 3; }

/* A Python module so that setuptools can build and import it; its functions are reached
 * through ctypes (nnmath.fast loads this file's path with ctypes.CDLL). */
static struct PyModuleDef nnm_module = {
    PyModuleDef_HEAD_INIT, "_ckernels",
    "The compiled training epoch (C); called through ctypes by nnmath.fast.", -1, NULL,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__ckernels(void) { return PyModule_Create(&nnm_module); }

#else /* ----------------------------------------------------------- the body, per REAL */

/* z ← z + b (the bias of z = W a + b), then a = σ(z), for the first m examples (rows). */
static inline void NNM(activate)(int64_t code, double alpha, REAL *restrict z,
                                 const REAL *restrict b, REAL *restrict a, int64_t m,
                                 int64_t n) {
    const REAL zero = 0, one = 1;
    for (int64_t r = 0; r < m; r++) {
        REAL *restrict zr = z + r * n, *restrict ar = a + r * n;
        switch (code) {
        case 0: /* sigmoid, stable: 1/(1+e) for z ≥ 0, e/(1+e) for z < 0, e = e^{−|z|} */
            for (int64_t c = 0; c < n; c++) {
                REAL zc = zr[c] + b[c];
                zr[c] = zc;
                REAL e = NNM_EXPNP(zc < zero ? zc : -zc);
                REAL q = one / (one + e);
                ar[c] = zc >= zero ? q : e * q;
            }
            break;
        case 1: /* tanh */
            for (int64_t c = 0; c < n; c++) {
                REAL zc = zr[c] + b[c];
                zr[c] = zc;
                ar[c] = NNM_TANH(zc);
            }
            break;
        case 2: /* relu: max(0, z) */
            for (int64_t c = 0; c < n; c++) {
                REAL zc = zr[c] + b[c];
                zr[c] = zc;
                ar[c] = zc > zero ? zc : zero;
            }
            break;
        case 3: /* leaky relu: z for z ≥ 0, α z for z < 0 */
            for (int64_t c = 0; c < n; c++) {
                REAL zc = zr[c] + b[c];
                zr[c] = zc;
                ar[c] = zc >= zero ? zc : (REAL)(alpha * zc);
            }
            break;
        case 4: /* elu: z for z > 0, α (e^z − 1) for z ≤ 0 */
            for (int64_t c = 0; c < n; c++) {
                REAL zc = zr[c] + b[c];
                zr[c] = zc;
                ar[c] = zc > zero ? zc : (REAL)(alpha * NNM_EXPM1(zc < zero ? zc : zero));
            }
            break;
        case 6: { /* softmax over the units of one example, its max subtracted first */
            REAL zmax = -INFINITY;
            for (int64_t c = 0; c < n; c++) {
                zr[c] += b[c];
                zmax = zr[c] > zmax ? zr[c] : zmax;
            }
            double s = 0.0;
            for (int64_t c = 0; c < n; c++) {
                ar[c] = NNM_EXP(zr[c] - zmax);
                s += ar[c];
            }
            for (int64_t c = 0; c < n; c++) ar[c] = (REAL)(ar[c] / s);
            break;
        }
        default: /* identity */
            for (int64_t c = 0; c < n; c++) {
                REAL zc = zr[c] + b[c];
                zr[c] = zc;
                ar[c] = zc;
            }
        }
    }
}

/* g ← (∂a/∂z)ᵀ g in place: g ⊙ σ'(z^l), or for softmax a ⊙ (g − Σ_i a_i g_i). */
static inline void NNM(vjp)(int64_t code, double alpha, const REAL *restrict z,
                            const REAL *restrict a, REAL *restrict g, int64_t m, int64_t n) {
    const REAL zero = 0, one = 1;
    if (code == 5) return; /* identity: σ' = 1 */
    for (int64_t r = 0; r < m; r++) {
        const REAL *restrict zr = z + r * n, *restrict ar = a + r * n;
        REAL *restrict gr = g + r * n;
        switch (code) {
        case 0: /* σ(z)(1 − σ(z)) */
            for (int64_t c = 0; c < n; c++) gr[c] *= ar[c] * (one - ar[c]);
            break;
        case 1: /* 1 − tanh²(z) */
            for (int64_t c = 0; c < n; c++) gr[c] *= one - ar[c] * ar[c];
            break;
        case 2: /* 1 for z > 0, else 0 */
            for (int64_t c = 0; c < n; c++) gr[c] = zr[c] > zero ? gr[c] : zero;
            break;
        case 3: /* 1 for z ≥ 0, α for z < 0 */
            for (int64_t c = 0; c < n; c++) gr[c] *= zr[c] >= zero ? one : (REAL)alpha;
            break;
        case 4: /* 1 for z > 0, α e^z for z ≤ 0 */
            for (int64_t c = 0; c < n; c++)
                gr[c] *= zr[c] > zero ? one : (REAL)(alpha * NNM_EXP(zr[c] < zero ? zr[c] : zero));
            break;
        case 6: {
            double s = 0.0;
            for (int64_t c = 0; c < n; c++) s += ar[c] * gr[c];
            for (int64_t c = 0; c < n; c++) gr[c] = (REAL)(ar[c] * (gr[c] - s));
            break;
        }
        }
    }
}

/* δ^L = a − y for the fused pairs (and ∂C/∂a of the quadratic cost); otherwise
 * (∂a/∂z)ᵀ ∂C/∂a^L with a clipped as in costs._clip_probabilities. */
static inline void NNM(output_delta)(const nnm_epoch *e, const REAL *z, const REAL *a,
                                     const REAL *y, REAL *restrict delta, int64_t m) {
    int64_t L = e->L, n = e->sizes[L];
    REAL eps = (REAL)e->hp[7];
    for (int64_t j = 0; j < m * n; j++) {
        REAL aj = a[j], yj = y[j];
        if (e->fused || e->cost == 0) {
            delta[j] = aj - yj;
        } else {
            aj = aj < eps ? eps : aj;
            aj = aj > (REAL)1 - eps ? (REAL)1 - eps : aj;
            delta[j] = e->cost == 1 ? (aj - yj) / (aj * ((REAL)1 - aj)) : -yj / aj;
        }
    }
    if (!e->fused) NNM(vjp)(e->codes[L - 1], e->alphas[L - 1], z, a, delta, m, n);
}

/* ∂C/∂b^l = δ^l averaged over the m examples (rows). */
static inline void NNM(mean_rows)(const REAL *restrict delta, REAL *restrict out, int64_t m,
                                  int64_t n) {
    for (int64_t c = 0; c < n; c++) out[c] = 0;
    for (int64_t r = 0; r < m; r++)
        for (int64_t c = 0; c < n; c++) out[c] += delta[r * n + c];
    for (int64_t c = 0; c < n; c++) out[c] /= (REAL)m;
}

/* v ← μ v − η (g + l2 p); p ← p + v (Nesterov: p ← p + μ v − η (g + l2 p)). */
static inline void NNM(momentum)(REAL *restrict p, const REAL *restrict g, REAL *restrict v,
                                 int64_t size, double eta, double mu, double l2, int nesterov) {
    for (int64_t j = 0; j < size; j++) {
        REAL gj = g[j] + (REAL)l2 * p[j];
        REAL vj = (REAL)mu * v[j] - (REAL)eta * gj;
        v[j] = vj;
        p[j] += nesterov ? (REAL)mu * vj - (REAL)eta * gj : vj;
    }
}

/* m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²; p ← p − step m / (√v + ε̂). */
static inline void NNM(adam)(REAL *restrict p, const REAL *restrict g, REAL *restrict mm,
                             REAL *restrict vv, int64_t size, double step, double eps_hat,
                             double b1, double b2, double l2) {
    for (int64_t j = 0; j < size; j++) {
        REAL gj = g[j] + (REAL)l2 * p[j];
        REAL mj = (REAL)b1 * mm[j] + (REAL)(1.0 - b1) * gj;
        REAL vj = (REAL)b2 * vv[j] + (REAL)(1.0 - b2) * (gj * gj);
        mm[j] = mj;
        vv[j] = vj;
        p[j] -= (REAL)step * mj / (NNM_SQRT(vj) + (REAL)eps_hat);
    }
}

/* The mini-batch that starts at k: rows X[perm[k:k+m]] into x0, Y[perm[k:k+m]] into yb.
 * The rows are copied NNM_GATHER_ROWS at a time, one cache line of each in turn, so that
 * that many rows' memory reads are in flight at once instead of one row's (the random
 * gather of the rows of X is bound by memory latency more than by bandwidth). */
static inline void NNM(gather)(const nnm_epoch *e, int64_t k, int64_t m, REAL *restrict x0,
                               REAL *restrict yb) {
    const int64_t n0 = e->sizes[0], nL = e->sizes[e->L];
    const int64_t line = 64 / (int64_t)sizeof(REAL), body = n0 - n0 % line;
    const REAL *X = (const REAL *)e->X, *Y = (const REAL *)e->Y;
    const int64_t *idx = e->perm + k;
    int64_t r = 0;
    for (; r + NNM_GATHER_ROWS <= m; r += NNM_GATHER_ROWS) {
        const REAL *src[NNM_GATHER_ROWS];
        for (int g = 0; g < NNM_GATHER_ROWS; g++) src[g] = X + idx[r + g] * n0;
        REAL *dst = x0 + r * n0;
        for (int64_t c = 0; c < body; c += line)
            for (int g = 0; g < NNM_GATHER_ROWS; g++)
                memcpy(dst + g * n0 + c, src[g] + c, 64);
        if (body < n0)
            for (int g = 0; g < NNM_GATHER_ROWS; g++)
                memcpy(dst + g * n0 + body, src[g] + body, (size_t)(n0 - body) * sizeof(REAL));
    }
    for (; r < m; r++) memcpy(x0 + r * n0, X + idx[r] * n0, (size_t)n0 * sizeof(REAL));
    for (r = 0; r < m; r++) memcpy(yb + r * nL, Y + idx[r] * nL, (size_t)nL * sizeof(REAL));
}

/* One epoch of mini-batch training over X[perm] on this thread alone, in place. Adam's step
 * count comes back in e->t. */
NNM_CLONES static void NNM(train_serial)(nnm_epoch *e) {
    const int64_t n = e->n, B = e->B, L = e->L;
    const double *hp = e->hp;
    const double eta = hp[0], decay = hp[1], mu = hp[2], b1 = hp[4], b2 = hp[5], eps = hp[6];
    const int nesterov = hp[3] != 0.0;
    const REAL one = 1, zero = 0;
    int64_t t = e->t;
    REAL *Yb = (REAL *)e->Yb;
    for (int64_t k = 0; k < n; k += B) {
        const int64_t m = B < n - k ? B : n - k;
        NNM(gather)(e, k, m, (REAL *)e->A[0], Yb); /* the mini-batch: rows X[perm[k:k+m]] */
        for (int64_t i = 0; i < L; i++) { /* z^l = W^l a^{l−1} + b^l,  a^l = σ(z^l) */
            const int64_t n_in = e->sizes[i], n_out = e->sizes[i + 1];
            nnm_gemm(e, 'T', 'N', n_out, m, n_in, &one, e->W[i], n_in, e->A[i],
                     n_in, &zero, e->Z[i], n_out);
            NNM(activate)(e->codes[i], e->alphas[i], (REAL *)e->Z[i], (const REAL *)e->b[i],
                          (REAL *)e->A[i + 1], m, n_out);
        }
        NNM(output_delta)(e, (const REAL *)e->Z[L - 1], (const REAL *)e->A[L], Yb,
                          (REAL *)e->D[L - 1], m);
        t += 1;
        double step = 0.0, eps_hat = 0.0;
        if (e->opt == 2) {
            step = eta * sqrt(1.0 - pow(b2, (double)t)) / (1.0 - pow(b1, (double)t));
            eps_hat = eps * sqrt(1.0 - pow(b2, (double)t));
        }
        for (int64_t i = L - 1; i >= 0; i--) {
            const int64_t n_in = e->sizes[i], n_out = e->sizes[i + 1];
            REAL *W = (REAL *)e->W[i], *b = (REAL *)e->b[i], *nb = (REAL *)e->NB[i];
            NNM(mean_rows)((const REAL *)e->D[i], nb, m, n_out); /* ∂C/∂b^l = δ^l */
            if (i > 0) { /* δ^{l−1} = ((W^l)ᵀ δ^l) ⊙ σ'(z^{l−1}), with the weights before the step */
                nnm_gemm(e, 'N', 'N', n_in, m, n_out, &one, W, n_in, e->D[i], n_out, &zero,
                         e->D[i - 1], n_in);
                NNM(vjp)(e->codes[i - 1], e->alphas[i - 1], (const REAL *)e->Z[i - 1],
                         (const REAL *)e->A[i], (REAL *)e->D[i - 1], m, n_in);
            }
            if (e->opt == 0) { /* w ← (1 − ηλ/n) w − (η/m) δ aᵀ ; b ← b − η ∂C/∂b */
                const REAL alpha = (REAL)(-eta / (double)m), beta = (REAL)(1.0 - eta * decay);
                nnm_gemm(e, 'N', 'T', n_in, n_out, m, &alpha, e->A[i], n_in, e->D[i],
                         n_out, &beta, W, n_in);
                for (int64_t c = 0; c < n_out; c++) b[c] -= (REAL)eta * nb[c];
                continue;
            }
            const REAL inv_m = (REAL)(1.0 / (double)m); /* ∂C/∂w^l = δ^l (a^{l−1})ᵀ / m */
            nnm_gemm(e, 'N', 'T', n_in, n_out, m, &inv_m, e->A[i], n_in, e->D[i],
                     n_out, &zero, e->NW[i], n_in);
            const REAL *nw = (const REAL *)e->NW[i];
            if (e->opt == 1) {
                NNM(momentum)(W, nw, (REAL *)e->S1W[i], n_in * n_out, eta, mu, decay, nesterov);
                NNM(momentum)(b, nb, (REAL *)e->S1B[i], n_out, eta, mu, 0.0, nesterov);
            } else {
                NNM(adam)(W, nw, (REAL *)e->S1W[i], (REAL *)e->S2W[i], n_in * n_out, step,
                          eps_hat, b1, b2, decay);
                NNM(adam)(b, nb, (REAL *)e->S1B[i], (REAL *)e->S2B[i], n_out, step, eps_hat,
                          b1, b2, 0.0);
            }
        }
    }
    e->t = t;
}

/* The three products of layer n_in → n_out over m rows (a, z, δ, g pointing at the first of
 * them), each in calls of nnm_call_rows rows: the threaded epoch's and the floor's. */
static inline void NNM(z_calls)(const nnm_epoch *e, const REAL *W, const REAL *a, REAL *z,
                                int64_t n_in, int64_t n_out, int64_t m) { /* z = W a */
    const REAL one = 1, zero = 0;
    const int64_t c = nnm_call_rows(e, n_in, n_out, m);
    for (int64_t r = 0; r < m; r += c)
        nnm_gemm(e, 'T', 'N', n_out, c < m - r ? c : m - r, n_in, &one, W, n_in, a + r * n_in,
                 n_in, &zero, z + r * n_out, n_out);
}

static inline void NNM(wt_delta_calls)(const nnm_epoch *e, const REAL *W, const REAL *d,
                                       REAL *g, int64_t n_in, int64_t n_out, int64_t m) {
    const REAL one = 1, zero = 0; /* g = Wᵀ δ */
    const int64_t c = nnm_call_rows(e, n_in, n_out, m);
    for (int64_t r = 0; r < m; r += c)
        nnm_gemm(e, 'N', 'N', n_in, c < m - r ? c : m - r, n_out, &one, W, n_in, d + r * n_out,
                 n_out, &zero, g + r * n_in, n_in);
}

static inline void NNM(delta_at_calls)(const nnm_epoch *e, const REAL *a, const REAL *d,
                                       REAL *out, int64_t n_in, int64_t n_out, int64_t m) {
    const REAL one = 1, zero = 0; /* out = Σ over the rows of δ aᵀ, call by call */
    const int64_t c = nnm_call_rows(e, n_in, n_out, m);
    for (int64_t r = 0; r < m; r += c)
        nnm_gemm(e, 'N', 'T', n_in, n_out, c < m - r ? c : m - r, &one, a + r * n_in, n_in,
                 d + r * n_out, n_out, r == 0 ? &zero : &one, out, n_in);
}

/* Σ over the m rows of δ (one thread's share of ∂C/∂b^l before the mean). */
static inline void NNM(sum_rows)(const REAL *restrict delta, REAL *restrict out, int64_t m,
                                 int64_t n) {
    for (int64_t c = 0; c < n; c++) out[c] = 0;
    for (int64_t r = 0; r < m; r++)
        for (int64_t c = 0; c < n; c++) out[c] += delta[r * n + c];
}

/* g[j] = (Σ_u G_u[j]) / m over the threads u whose share of the m rows is not empty, for j
 * in [lo, hi); g is G_0, which thread 0 always fills (its share is the first row). */
static inline void NNM(combine)(void *const *G, int64_t stride, int64_t T, int64_t m,
                                int64_t lo, int64_t hi) {
    REAL *restrict g = (REAL *)G[0];
    const REAL inv_m = (REAL)(1.0 / (double)m);
    for (int64_t u = 1; u < T; u++) {
        if (nnm_share(m, u + 1, T) == nnm_share(m, u, T)) continue; /* no rows: G_u is stale */
        const REAL *restrict gu = (const REAL *)G[u * stride];
        for (int64_t j = lo; j < hi; j++) g[j] += gu[j];
    }
    for (int64_t j = lo; j < hi; j++) g[j] *= inv_m;
}

/* Thread tid's part of one epoch when T threads share each mini-batch. Its rows
 * [⌈m·tid/T⌉, ⌈m·(tid+1)/T⌉) of the mini-batch are its own: it gathers them, runs the forward
 * pass and backpropagates them through the same equations as train_serial, with BLAS on
 * one thread, and keeps Σ δ aᵀ and Σ δ of its rows in NWT, NBT. After a barrier (every δ^l
 * needs the weights before the step) each thread updates its slice of every W and b from
 * the sum of all threads' parts over m, the mean of the whole mini-batch; a second barrier
 * and the next mini-batch begins. */
NNM_CLONES void NNM(train_part)(nnm_epoch *e, nnm_barrier *bar, int64_t tid) {
    const int64_t n = e->n, B = e->B, L = e->L, T = e->threads;
    const int64_t n0 = e->sizes[0], nL = e->sizes[L];
    const double *hp = e->hp;
    const double eta = hp[0], decay = hp[1], mu = hp[2], b1 = hp[4], b2 = hp[5], eps = hp[6];
    const int nesterov = hp[3] != 0.0;
    int64_t t = e->t;
    for (int64_t k = 0; k < n; k += B) {
        const int64_t m = B < n - k ? B : n - k;
        const int64_t lo = nnm_share(m, tid, T), mt = nnm_share(m, tid + 1, T) - lo;
        if (mt > 0) {
            REAL *yb = (REAL *)e->Yb + lo * nL;
            NNM(gather)(e, k + lo, mt, (REAL *)e->A[0] + lo * n0, yb);
            for (int64_t i = 0; i < L; i++) { /* z^l = W^l a^{l−1} + b^l,  a^l = σ(z^l) */
                const int64_t n_in = e->sizes[i], n_out = e->sizes[i + 1];
                REAL *z = (REAL *)e->Z[i] + lo * n_out;
                NNM(z_calls)(e, (const REAL *)e->W[i], (const REAL *)e->A[i] + lo * n_in, z,
                             n_in, n_out, mt);
                NNM(activate)(e->codes[i], e->alphas[i], z, (const REAL *)e->b[i],
                              (REAL *)e->A[i + 1] + lo * n_out, mt, n_out);
            }
            NNM(output_delta)(e, (const REAL *)e->Z[L - 1] + lo * nL,
                              (const REAL *)e->A[L] + lo * nL, yb, (REAL *)e->D[L - 1] + lo * nL,
                              mt);
            for (int64_t i = L - 1; i >= 0; i--) {
                const int64_t n_in = e->sizes[i], n_out = e->sizes[i + 1];
                const REAL *d = (const REAL *)e->D[i] + lo * n_out;
                NNM(sum_rows)(d, (REAL *)e->NBT[tid * L + i], mt, n_out); /* Σ δ^l */
                if (i > 0) { /* δ^{l−1} = ((W^l)ᵀ δ^l) ⊙ σ'(z^{l−1}) */
                    REAL *d_prev = (REAL *)e->D[i - 1] + lo * n_in;
                    NNM(wt_delta_calls)(e, (const REAL *)e->W[i], d, d_prev, n_in, n_out, mt);
                    NNM(vjp)(e->codes[i - 1], e->alphas[i - 1],
                             (const REAL *)e->Z[i - 1] + lo * n_in,
                             (const REAL *)e->A[i] + lo * n_in, d_prev, mt, n_in);
                }
                NNM(delta_at_calls)(e, (const REAL *)e->A[i] + lo * n_in, d,
                                    (REAL *)e->NWT[tid * L + i], n_in, n_out, mt); /* Σ δ aᵀ */
            }
        }
        nnm_barrier_wait(bar);
        t += 1;
        double step = 0.0, eps_hat = 0.0;
        if (e->opt == 2) {
            step = eta * sqrt(1.0 - pow(b2, (double)t)) / (1.0 - pow(b1, (double)t));
            eps_hat = eps * sqrt(1.0 - pow(b2, (double)t));
        }
        for (int64_t i = 0; i < L; i++) { /* this thread's slice of W^l and b^l */
            const int64_t size = e->sizes[i] * e->sizes[i + 1], n_out = e->sizes[i + 1];
            const int64_t wlo = nnm_share(size, tid, T), wn = nnm_share(size, tid + 1, T) - wlo;
            const int64_t blo = nnm_share(n_out, tid, T), bn = nnm_share(n_out, tid + 1, T) - blo;
            NNM(combine)(e->NWT + i, L, T, m, wlo, wlo + wn); /* ∂C/∂w^l */
            NNM(combine)(e->NBT + i, L, T, m, blo, blo + bn); /* ∂C/∂b^l */
            REAL *W = (REAL *)e->W[i] + wlo, *b = (REAL *)e->b[i] + blo;
            const REAL *nw = (const REAL *)e->NWT[i] + wlo, *nb = (const REAL *)e->NBT[i] + blo;
            if (e->opt == 0) { /* w ← (1 − ηλ/n) w − η ∂C/∂w ; b ← b − η ∂C/∂b */
                const REAL ceta = (REAL)eta, beta = (REAL)(1.0 - eta * decay);
                for (int64_t j = 0; j < wn; j++) W[j] = beta * W[j] - ceta * nw[j];
                for (int64_t j = 0; j < bn; j++) b[j] -= ceta * nb[j];
            } else if (e->opt == 1) {
                NNM(momentum)(W, nw, (REAL *)e->S1W[i] + wlo, wn, eta, mu, decay, nesterov);
                NNM(momentum)(b, nb, (REAL *)e->S1B[i] + blo, bn, eta, mu, 0.0, nesterov);
            } else {
                NNM(adam)(W, nw, (REAL *)e->S1W[i] + wlo, (REAL *)e->S2W[i] + wlo, wn, step,
                          eps_hat, b1, b2, decay);
                NNM(adam)(b, nb, (REAL *)e->S1B[i] + blo, (REAL *)e->S2B[i] + blo, bn, step,
                          eps_hat, b1, b2, 0.0);
            }
        }
        nnm_barrier_wait(bar);
    }
    if (tid == 0) e->t = t;
}

static void *NNM(part_main)(void *arg) {
    nnm_part *p = (nnm_part *)arg;
    while (!atomic_load_explicit(p->go, memory_order_acquire)) sched_yield();
    if (p->tid < p->e->threads) NNM(train_part)(p->e, p->bar, p->tid);
    return NULL;
}

/* One epoch of mini-batch training over X[perm], in place; returns 0. With e->threads = T
 * > 1 it starts T − 1 threads (BLAS must then be on one thread: the caller sets that) that
 * share each mini-batch with this one; should fewer start, the epoch runs on those, and
 * e->threads says how many did. Adam's step count comes back in e->t. */
int NNM(nnm_train_epoch)(nnm_epoch *e) {
    enum { MAX_THREADS = 64 };
    int64_t T = e->threads < 1 ? 1 : e->threads > MAX_THREADS ? MAX_THREADS : e->threads;
    T = T > e->B ? e->B : T;
    if (T == 1) {
        e->threads = 1;
        NNM(train_serial)(e);
        return 0;
    }
    pthread_t workers[MAX_THREADS];
    nnm_part parts[MAX_THREADS];
    nnm_barrier bar;
    atomic_int_fast64_t go;
    atomic_init(&bar.count, 0);
    atomic_init(&bar.generation, 0);
    atomic_init(&go, 0);
    int64_t started = 1;
    for (; started < T; started++) {
        parts[started] = (nnm_part){e, &bar, started, &go};
        if (pthread_create(&workers[started], NULL, NNM(part_main), &parts[started])) break;
    }
    e->threads = bar.T = started;
    atomic_store_explicit(&go, 1, memory_order_release);
    NNM(train_part)(e, &bar, 0);
    for (int64_t u = 1; u < started; u++) pthread_join(workers[u], NULL);
    return 0;
}

/* Only the matrix products of `batches` backprop steps (the benchmark's floor): per
 * mini-batch and layer z = W a (into Z), ∇w = δ aᵀ (into NW) and, above the first layer,
 * Wᵀ δ (into S1W, used as scratch here), in calls of nnm_call_rows rows as the threaded
 * epoch makes them. A and D are never overwritten. */
int NNM(nnm_floor_epoch)(nnm_epoch *e, int64_t batches) {
    const int64_t B = e->B, L = e->L;
    for (int64_t k = 0; k < batches; k++) {
        for (int64_t i = 0; i < L; i++)
            NNM(z_calls)(e, (const REAL *)e->W[i], (const REAL *)e->A[i], (REAL *)e->Z[i],
                         e->sizes[i], e->sizes[i + 1], B);
        for (int64_t i = L - 1; i >= 0; i--) {
            const int64_t n_in = e->sizes[i], n_out = e->sizes[i + 1];
            NNM(delta_at_calls)(e, (const REAL *)e->A[i], (const REAL *)e->D[i],
                                (REAL *)e->NW[i], n_in, n_out, B);
            if (i > 0)
                NNM(wt_delta_calls)(e, (const REAL *)e->W[i], (const REAL *)e->D[i],
                                    (REAL *)e->S1W[i - 1], n_in, n_out, B);
        }
    }
    return 0;
}

#endif

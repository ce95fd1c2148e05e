/* Batch normalisation of one layer over the mini-batch, for one precision REAL, included
 * twice by _ckernels.c: the reference is nnmath.layers.BatchNorm (read it for the maths).
 * Per unit c of the n units, over the m rows r of the mini-batch:
 *
 *     μ_B = (1/m) Σ_r a          σ²_B = (1/m) Σ_r (a − μ_B)²          ẑ = (a − μ_B)/√(σ²_B + ε)
 *     z = γ ẑ (+ β, added with σ by NNM(activate))
 *     running_mean ← (1 − p) running_mean + p μ_B
 *     running_var  ← (1 − p) running_var + p σ²_B m/(m − 1)
 *
 * and backward, from δ = ∂C/∂z (m rows), with Σ δ already in the layer's ∂C/∂β part:
 *
 *     Σ δ ⊙ ẑ into the ∂C/∂γ part          g = γ/√(σ²_B + ε) (δ − mean δ − ẑ mean(δ ⊙ ẑ)).
 *
 * The m rows are shared between the epoch's T parts (_threads.h), and each sum over them
 * needs every part's rows, so each is made in two phases: every part sums its own rows into
 * its own buffer, then after the barrier every part adds all the parts up itself, in the
 * order NNM(combine) does, and goes on with its own rows. A forward pass thus takes two
 * barriers per batch norm, a backward pass one. Every part gets the same bits whichever
 * thread runs it; the sums (like Σ δ aᵀ) depend on T.
 *
 * Part p keeps its own 3 n of e->inv_std[i] (at 3 n p): 1/√(σ²_B + ε), then μ_B and its
 * Σ (a − μ_B)² in forward, or the totals Σ δ and Σ δ ⊙ ẑ in backward. Σ a and Σ δ go into
 * its part of ∂C/∂β (nabla_b_parts), Σ δ ⊙ ẑ into its part of ∂C/∂γ (nabla_w_parts); not
 * Σ (a − μ_B)²: a part past the last batch norm's barrier runs on to its backward pass and
 * writes its Σ δ ⊙ ẑ while a slower part still reads the parts' Σ (a − μ_B)². */

#ifndef NNM_BATCHNORM_ONCE
#define NNM_BATCHNORM_ONCE

/* The layer of the j-th batch norm from the input (j = 0, 1, …), or −1. */
static int64_t nnm_norm_at(const nnm_epoch *e, int64_t j) {
    for (int64_t i = 0; i < e->L; i++)
        if (e->kind[i] == NNM_BATCH_NORM && j-- == 0) return i;
    return -1;
}

/* The layer of the j-th batch norm above the first layer from the output, or −1: the
 * backward pass of a batch norm at layer 0 hands no δ down, so it needs no barrier. */
static int64_t nnm_norm_down(const nnm_epoch *e, int64_t j) {
    for (int64_t i = e->L - 1; i > 0; i--)
        if (e->kind[i] == NNM_BATCH_NORM && j-- == 0) return i;
    return -1;
}

/* How many batch norms the network has. */
static int64_t nnm_norms(const nnm_epoch *e) {
    int64_t K = 0;
    for (int64_t i = 0; i < e->L; i++) K += e->kind[i] == NNM_BATCH_NORM;
    return K;
}

/* Phases of one mini-batch (_threads.h): the rows' passes, cut at two barriers per batch
 * norm forward and one per batch norm above layer 0 backward, then the step. */
static int64_t nnm_batch_phases(const nnm_epoch *e) {
    int64_t p = 2;
    for (int64_t i = 0; i < e->L; i++)
        if (e->kind[i] == NNM_BATCH_NORM) p += i > 0 ? 3 : 2;
    return p;
}

#endif /* NNM_BATCHNORM_ONCE */

/* Part p's own 3 n of batch norm layer i (at 3 n p of e->inv_std[i]). */
NNM_INLINE REAL *NNM(bn_own)(const nnm_epoch *e, int64_t i, int64_t p) {
    return (REAL *)e->inv_std[i] + 3 * e->sizes[i + 1] * p;
}

/* Part u's sum of batch norm layer i: `which` 0 its Σ a or Σ δ, 1 its Σ δ ⊙ ẑ, 2 its
 * Σ (a − μ_B)². */
NNM_INLINE const REAL *NNM(bn_part)(const nnm_epoch *e, int which, int64_t i, int64_t u) {
    if (which == 2) return NNM(bn_own)(e, i, u) + 2 * e->sizes[i + 1];
    return (const REAL *)(which ? e->nabla_w_parts : e->nabla_b_parts)[u * e->L + i];
}

/* out = Σ over the parts u with rows of their sum `which` (NNM(bn_part)), u = 0, 1, … in
 * turn: part 0 first, as NNM(combine) adds the parts of ∂C/∂w, so the total is the same
 * whichever thread runs which part. */
NNM_INLINE void NNM(bn_total)(const nnm_epoch *e, int which, int64_t i, int64_t m,
                                 REAL *restrict out) {
    const int64_t T = e->threads, n = e->sizes[i + 1];
    const REAL *restrict p0 = NNM(bn_part)(e, which, i, 0);
    for (int64_t c = 0; c < n; c++) out[c] = p0[c];
    for (int64_t u = 1; u < T; u++) {
        if (nnm_share(m, u + 1, T) == nnm_share(m, u, T)) continue; /* no rows: stale */
        const REAL *restrict pu = NNM(bn_part)(e, which, i, u);
        for (int64_t c = 0; c < n; c++) out[c] += pu[c];
    }
}

/* The second forward phase of batch norm layer i for part p's mt rows a (of m): μ_B from
 * the parts' Σ a, then this part's Σ (a − μ_B)² (two passes, as the reference: one pass's
 * Σ a² − m μ² loses digits when the mean is large). */
NNM_INLINE void NNM(bn_center)(nnm_epoch *e, int64_t i, int64_t p, const REAL *restrict a,
                                  int64_t mt, int64_t m) {
    const int64_t n = e->sizes[i + 1];
    REAL *restrict mu = NNM(bn_own)(e, i, p) + n, *restrict sq = mu + n;
    const REAL inv_m = (REAL)(1.0 / (double)m);
    NNM(bn_total)(e, 0, i, m, mu);
    for (int64_t c = 0; c < n; c++) mu[c] *= inv_m, sq[c] = 0;
    for (int64_t r = 0; r < mt; r++)
        for (int64_t c = 0; c < n; c++) {
            const REAL d = a[r * n + c] - mu[c];
            sq[c] += d * d;
        }
}

/* The third forward phase of batch norm layer i for part p's mt rows a (of m): σ²_B from
 * the parts' Σ (a − μ_B)², ẑ into xhat and γ ẑ into z (mt rows each); part 0 alone (it
 * always has rows) moves the running statistics, once per step. */
NNM_INLINE void NNM(bn_normalise)(nnm_epoch *e, int64_t i, int64_t p, const REAL *restrict a,
                                     REAL *restrict z, REAL *restrict xhat, int64_t mt,
                                     int64_t m) {
    const int64_t n = e->sizes[i + 1];
    const REAL *restrict gamma = (const REAL *)e->W[i];
    REAL *restrict inv = NNM(bn_own)(e, i, p), *restrict mu = inv + n;
    REAL *rm = (REAL *)e->running_mean[i], *rv = (REAL *)e->running_var[i];
    const REAL inv_m = (REAL)(1.0 / (double)m), q = (REAL)e->bn_momentum[i];
    const REAL unbias = (REAL)((double)m / (double)(m - 1)), eps = (REAL)e->bn_eps[i];
    NNM(bn_total)(e, 2, i, m, inv);
    for (int64_t c = 0; c < n; c++) {
        const REAL var = inv[c] * inv_m; /* σ²_B, biased */
        if (p == 0) {
            rm[c] = (1 - q) * rm[c] + q * mu[c];
            rv[c] = (1 - q) * rv[c] + q * var * unbias;
        }
        inv[c] = 1 / NNM_SQRT(var + eps);
    }
    for (int64_t r = 0; r < mt; r++)
        for (int64_t c = 0; c < n; c++) {
            const REAL x = (a[r * n + c] - mu[c]) * inv[c];
            xhat[r * n + c] = x;
            z[r * n + c] = gamma[c] * x;
        }
}

/* The first backward phase of batch norm layer i for part p's mt rows of δ and ẑ: this
 * part's Σ δ ⊙ ẑ (its Σ δ is made with every layer's). */
NNM_INLINE void NNM(bn_dz)(const nnm_epoch *e, int64_t i, int64_t p, const REAL *restrict d,
                              const REAL *restrict xhat, int64_t mt) {
    const int64_t n = e->sizes[i + 1];
    REAL *restrict dz = (REAL *)e->nabla_w_parts[p * e->L + i];
    for (int64_t c = 0; c < n; c++) dz[c] = 0;
    for (int64_t r = 0; r < mt; r++)
        for (int64_t c = 0; c < n; c++) dz[c] += d[r * n + c] * xhat[r * n + c];
}

/* The second backward phase of batch norm layer i for part p's mt rows (of m): ∂C/∂a into
 * g from δ, ẑ and the parts' Σ δ and Σ δ ⊙ ẑ. */
NNM_INLINE void NNM(bn_delta)(const nnm_epoch *e, int64_t i, int64_t p, const REAL *restrict d,
                                 const REAL *restrict xhat, REAL *restrict g, int64_t mt,
                                 int64_t m) {
    const int64_t n = e->sizes[i + 1];
    const REAL *restrict gamma = (const REAL *)e->W[i];
    REAL *restrict inv = NNM(bn_own)(e, i, p), *restrict sum_d = inv + n, *restrict dz = sum_d + n;
    const REAL inv_m = (REAL)(1.0 / (double)m);
    NNM(bn_total)(e, 0, i, m, sum_d);
    NNM(bn_total)(e, 1, i, m, dz);
    for (int64_t r = 0; r < mt; r++)
        for (int64_t c = 0; c < n; c++) {
            const REAL gd = gamma[c] * d[r * n + c]; /* ∂C/∂ẑ = γ δ */
            const REAL mean_d = gamma[c] * sum_d[c] * inv_m; /* mean(γ δ) */
            const REAL mean_dz = gamma[c] * dz[c] * inv_m; /* mean(γ δ ⊙ ẑ) */
            g[r * n + c] = inv[c] * (gd - mean_d - xhat[r * n + c] * mean_dz);
        }
}

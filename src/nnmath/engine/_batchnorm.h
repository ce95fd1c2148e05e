/* Batch normalisation of one layer over the mini-batch, for one precision REAL, included
 * twice by _ckernels.c: the reference is nnmath.layers.BatchNorm (read it for the maths).
 * The layer's m rows are one thread's whole mini-batch (an epoch with a batch norm runs on
 * one thread: the statistics are over all rows). Per unit c of the n units, rows r:
 *
 *     μ_B = (1/m) Σ_r a          σ²_B = (1/m) Σ_r (a − μ_B)²          ẑ = (a − μ_B)/√(σ²_B + ε)
 *     z = γ ẑ (+ β, added with σ by NNM(activate))
 *     running_mean ← (1 − p) running_mean + p μ_B
 *     running_var  ← (1 − p) running_var + p σ²_B m/(m − 1)
 *
 * and backward, from δ = ∂C/∂z (m rows), with Σ δ already in the layer's ∂C/∂β part:
 *
 *     Σ δ ⊙ ẑ into the ∂C/∂γ part          g = γ/√(σ²_B + ε) (δ − mean δ − ẑ mean(δ ⊙ ẑ)). */

/* The forward pass of batch norm layer i over the m rows of a (m, n): ẑ into e->xhat[i],
 * 1/√(σ²_B + ε) into e->inv_std[i][0, n) (μ_B at [n, 2n)), γ ẑ into z, and the step's
 * running statistics. */
NNM_INLINE void NNM(bn_forward)(nnm_epoch *e, int64_t i, const REAL *restrict a,
                                   REAL *restrict z, int64_t m) {
    const int64_t n = e->sizes[i + 1];
    const REAL *restrict gamma = (const REAL *)e->W[i];
    REAL *restrict xhat = (REAL *)e->xhat[i], *restrict inv = (REAL *)e->inv_std[i];
    REAL *restrict mu = inv + n, *rm = (REAL *)e->running_mean[i];
    REAL *rv = (REAL *)e->running_var[i];
    const REAL inv_m = (REAL)(1.0 / (double)m), p = (REAL)e->bn_momentum[i];
    const REAL unbias = (REAL)((double)m / (double)(m - 1)), eps = (REAL)e->bn_eps[i];
    for (int64_t c = 0; c < n; c++) mu[c] = 0, inv[c] = 0;
    for (int64_t r = 0; r < m; r++)
        for (int64_t c = 0; c < n; c++) mu[c] += a[r * n + c];
    for (int64_t c = 0; c < n; c++) mu[c] *= inv_m;
    for (int64_t r = 0; r < m; r++)
        for (int64_t c = 0; c < n; c++) {
            const REAL d = a[r * n + c] - mu[c];
            inv[c] += d * d;
        }
    for (int64_t c = 0; c < n; c++) {
        const REAL var = inv[c] * inv_m; /* σ²_B, biased */
        rm[c] = (1 - p) * rm[c] + p * mu[c];
        rv[c] = (1 - p) * rv[c] + p * var * unbias;
        inv[c] = 1 / NNM_SQRT(var + eps);
    }
    for (int64_t r = 0; r < m; r++)
        for (int64_t c = 0; c < n; c++) {
            const REAL x = (a[r * n + c] - mu[c]) * inv[c];
            xhat[r * n + c] = x;
            z[r * n + c] = gamma[c] * x;
        }
}

/* The backward pass of batch norm layer i from δ (m, n): Σ δ ⊙ ẑ into nabla_w (the ∂C/∂γ
 * part), and with g (not NULL) ∂C/∂a into g (m, n), from sum_d = Σ δ (the ∂C/∂β part). */
NNM_INLINE void NNM(bn_backward)(const nnm_epoch *e, int64_t i, const REAL *restrict d,
                                    const REAL *restrict sum_d, REAL *restrict nabla_w,
                                    REAL *restrict g, int64_t m) {
    const int64_t n = e->sizes[i + 1];
    const REAL *restrict gamma = (const REAL *)e->W[i], *restrict xhat = (const REAL *)e->xhat[i];
    const REAL *restrict inv = (const REAL *)e->inv_std[i];
    const REAL inv_m = (REAL)(1.0 / (double)m);
    for (int64_t c = 0; c < n; c++) nabla_w[c] = 0;
    for (int64_t r = 0; r < m; r++)
        for (int64_t c = 0; c < n; c++) nabla_w[c] += d[r * n + c] * xhat[r * n + c];
    if (!g) return;
    for (int64_t r = 0; r < m; r++)
        for (int64_t c = 0; c < n; c++) {
            const REAL gd = gamma[c] * d[r * n + c]; /* ∂C/∂ẑ = γ δ */
            const REAL mean_d = gamma[c] * sum_d[c] * inv_m; /* mean(γ δ) */
            const REAL mean_dz = gamma[c] * nabla_w[c] * inv_m; /* mean(γ δ ⊙ ẑ) */
            g[r * n + c] = inv[c] * (gd - mean_d - xhat[r * n + c] * mean_dz);
        }
}

/* The costs of the compiled epoch for one precision REAL, included twice by _ckernels.c:
 * each cost's ∂C/∂a^L and its C_x as one case here, found by name through nnm_cost_names
 * (nnmath.costs' registry names). The equations are those of nnmath.costs. */

#ifndef NNM_COSTS_DECLARED
#define NNM_COSTS_DECLARED
/* The costs this build has, by registry name; an id is a position in this list. */
#define NNM_COSTS(F) F(quadratic) F(cross_entropy) F(log_likelihood)
#define NNM_COST_ID(name) NNM_COST_##name,
#define NNM_COST_NAME(name) #name,
enum { NNM_COSTS(NNM_COST_ID) NNM_N_COSTS };
static const char *const nnm_cost_names[] = {NNM_COSTS(NNM_COST_NAME)};
#endif

/* a clipped into (ε, 1 − ε), as costs._clip_probabilities, before ln a or 1/a. */
NNM_INLINE REAL NNM(clip)(REAL a, REAL eps) {
    a = a < eps ? eps : a;
    return a > (REAL)1 - eps ? (REAL)1 - eps : a;
}

/* δ^L = a − y for the fused pairs; otherwise (∂a/∂z)ᵀ ∂C/∂a^L, one loop per cost. */
NNM_INLINE void NNM(output_delta)(const nnm_epoch *e, const REAL *z, const REAL *a,
                                     const REAL *y, REAL *restrict delta, int64_t m) {
    const int64_t L = e->L, size = m * e->sizes[L];
    const REAL eps = (REAL)e->clip_eps, one = 1;
    if (e->fused || e->cost == NNM_COST_quadratic) { /* a − y: δ^L, or ∂C/∂a of ½‖a − y‖² */
        for (int64_t j = 0; j < size; j++) delta[j] = a[j] - y[j];
    } else if (e->cost == NNM_COST_cross_entropy) { /* (a − y) / (a (1 − a)) */
        for (int64_t j = 0; j < size; j++) {
            const REAL aj = NNM(clip)(a[j], eps);
            delta[j] = (aj - y[j]) / (aj * (one - aj));
        }
    } else { /* log-likelihood: −y / a */
        for (int64_t j = 0; j < size; j++) delta[j] = -y[j] / NNM(clip)(a[j], eps);
    }
    if (!e->fused) NNM(vjp)(e->activation[L - 1], e->alphas[L - 1], z, a, delta, m, e->sizes[L]);
}

/* C_x of one example (a^L, y) of n units, as costs.COSTS[name].fn computes it. */
NNM_INLINE double NNM(cost_row)(int64_t cost, const REAL *a, const REAL *y, int64_t n,
                                   REAL eps) {
    const REAL half = (REAL)0.5, one = 1;
    double c = 0.0;
    switch (cost) {
    case NNM_COST_quadratic: /* ½ ‖a − y‖² */
        for (int64_t j = 0; j < n; j++) c += (double)(half * (a[j] - y[j]) * (a[j] - y[j]));
        break;
    case NNM_COST_cross_entropy: /* −Σ y ln a + (1 − y) ln(1 − a) */
        for (int64_t j = 0; j < n; j++) {
            const REAL p = NNM(clip)(a[j], eps);
            c -= (double)(y[j] * NNM_LOG(p) + (one - y[j]) * NNM_LOG(one - p));
        }
        break;
    case NNM_COST_log_likelihood: /* −Σ y ln a */
        for (int64_t j = 0; j < n; j++) c -= (double)(y[j] * NNM_LOG(NNM(clip)(a[j], eps)));
        break;
    }
    return c;
}

/* Adds to scores[0] the cost C_x of each of the m rows (a^L, y), and to scores[1] how many
 * rows have argmax a^L = argmax y (the first largest, as NumPy's argmax): fit's training
 * cost and accuracy from the forward passes the epoch makes anyway. */
NNM_INLINE void NNM(score_rows)(const nnm_epoch *e, const REAL *a, const REAL *y, int64_t m,
                                   double *scores) {
    const int64_t n = e->sizes[e->L];
    double cost = 0.0, hits = 0.0;
    for (int64_t r = 0; r < m; r++) {
        const REAL *ar = a + r * n, *yr = y + r * n;
        int64_t ia = 0, iy = 0;
        for (int64_t j = 0; j < n; j++) {
            ia = ar[j] > ar[ia] ? j : ia;
            iy = yr[j] > yr[iy] ? j : iy;
        }
        cost += NNM(cost_row)(e->cost, ar, yr, n, (REAL)e->clip_eps);
        hits += ia == iy;
    }
    scores[0] += cost;
    scores[1] += hits;
}

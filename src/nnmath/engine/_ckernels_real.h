/* The body of the compiled epoch for one precision REAL (float or double), included twice
 * by _ckernels.c, which defines REAL, NNM(name) and the libm names used here. The equations
 * are those of nnmath.network (forward, backprop_columns) and nnmath.optim (each step). */

/* The sigmoid σ(z), stable: 1/(1+e) for z ≥ 0, e/(1+e) for z < 0, e = e^{−|z|} (no libm call,
 * so that the loops using it vectorise); sigmoid, softplus' σ' and SiLU share it. */
NNM_INLINE REAL NNM(sigmoid)(REAL z) {
    const REAL e = NNM_EXPNP(z < (REAL)0 ? z : -z), q = (REAL)1 / ((REAL)1 + e);
    return z >= (REAL)0 ? q : e * q;
}

/* Softmax over the n units of one example (z ← z + b first), its max subtracted first. */
NNM_INLINE void NNM(softmax_row)(REAL *restrict zr, const REAL *restrict b,
                                    REAL *restrict ar, int64_t n) {
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
}

/* z ← z + b (the bias of z = W a + b), then a = σ(z), for the first m examples (rows); each
 * element-wise case is one loop over a row (NNM_EACH), so that it vectorises. */
NNM_INLINE void NNM(activate)(int64_t code, double alpha, REAL *restrict z,
                                 const REAL *restrict b, REAL *restrict a, int64_t m,
                                 int64_t n) {
    const REAL zero = 0, one = 1;
    for (int64_t r = 0; r < m; r++) {
        REAL *restrict zr = z + r * n, *restrict ar = a + r * n;
        switch (code) {
        case 0: NNM_EACH(NNM(sigmoid)(zc)); /* sigmoid */
        case 1: NNM_EACH(NNM_TANH(zc)); /* tanh */
        case 2: NNM_EACH(zc > zero ? zc : zero); /* relu: max(0, z) */
        case 3: NNM_EACH(zc >= zero ? zc : (REAL)(alpha * zc)); /* leaky relu: α z for z < 0 */
        case 4: /* elu: z for z > 0, α (e^z − 1) for z ≤ 0 */
            NNM_EACH(zc > zero ? zc : (REAL)(alpha * NNM_EXPM1(zc < zero ? zc : zero)));
        case 5: NNM_EACH(zc); /* identity */
        case 6: /* softmax over the units of one example */
            NNM(softmax_row)(zr, b, ar, n);
            break;
        case 7: /* gelu: z Φ(z) = (z/2)(1 + erf(z/√2)) */
            NNM_EACH((REAL)0.5 * zc * (one + NNM_ERF(zc * (REAL)0.70710678118654752)));
        case 8: /* softplus: max(z, 0) + ln(1 + e^{−|z|}) */
            NNM_EACH((zc > zero ? zc : zero) + NNM_LOG1P(NNM_EXP(zc < zero ? zc : -zc)));
        case 9: NNM_EACH(zc * NNM(sigmoid)(zc)); /* silu: z σ(z) */
        case 10: NNM_EACH(zc / (one + (zc < zero ? -zc : zc))); /* softsign: z / (1 + |z|) */
        default: /* not reached: the epoch refuses ids nnm_knows does not list */
            break;
        }
    }
}

/* g ← (∂a/∂z)ᵀ g in place: g ⊙ σ'(z^l), or for softmax a ⊙ (g − Σ_i a_i g_i). */
NNM_INLINE void NNM(vjp)(int64_t code, double alpha, const REAL *restrict z,
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
        case 7: /* Φ(z) + z φ(z) */
            for (int64_t c = 0; c < n; c++) {
                const REAL zc = zr[c];
                gr[c] *= (REAL)0.5 * (one + NNM_ERF(zc * (REAL)0.70710678118654752)) +
                         zc * NNM_EXP((REAL)-0.5 * zc * zc) * (REAL)0.39894228040143268;
            }
            break;
        case 8: /* σ(z) */
            for (int64_t c = 0; c < n; c++) gr[c] *= NNM(sigmoid)(zr[c]);
            break;
        case 9: /* σ(z) (1 + z (1 − σ(z))) */
            for (int64_t c = 0; c < n; c++) {
                const REAL zc = zr[c], s = NNM(sigmoid)(zc);
                gr[c] *= s * (one + zc * (one - s));
            }
            break;
        case 10: /* 1 / (1 + |z|)² */
            for (int64_t c = 0; c < n; c++) {
                const REAL d = one + (zr[c] < zero ? -zr[c] : zr[c]);
                gr[c] /= d * d;
            }
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
NNM_INLINE void NNM(output_delta)(const nnm_epoch *e, const REAL *z, const REAL *a,
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

/* Adds to scores[0] the cost C_x of each of the m rows (a^L, y), as costs.COSTS[e->cost].fn
 * computes it (a clipped into (ε, 1 − ε) for the logarithms), and to scores[1] how many rows
 * have argmax a^L = argmax y (the first largest, as NumPy's argmax): fit's training cost and
 * accuracy from the forward passes the epoch makes anyway. */
NNM_INLINE void NNM(score_rows)(const nnm_epoch *e, const REAL *a, const REAL *y, int64_t m,
                                   double *scores) {
    const int64_t n = e->sizes[e->L];
    const REAL eps = (REAL)e->hp[7], one = 1;
    double cost = 0.0, hits = 0.0;
    for (int64_t r = 0; r < m; r++) {
        const REAL *ar = a + r * n, *yr = y + r * n;
        double c = 0.0;
        int64_t ia = 0, iy = 0;
        for (int64_t j = 0; j < n; j++) {
            const REAL aj = ar[j], yj = yr[j];
            if (e->cost == 0) { /* ½ ‖a − y‖² */
                const REAL d = aj - yj;
                c += (double)((REAL)0.5 * d * d);
            } else {
                const REAL p = aj < eps ? eps : aj > one - eps ? one - eps : aj;
                c -= (double)(e->cost == 1 ? yj * NNM_LOG(p) + (one - yj) * NNM_LOG(one - p)
                                           : yj * NNM_LOG(p));
            }
            ia = aj > ar[ia] ? j : ia;
            iy = yj > yr[iy] ? j : iy;
        }
        cost += c;
        hits += ia == iy;
    }
    scores[0] += cost;
    scores[1] += hits;
}

/* v ← μ v − η (g + l2 p); p ← p + v (Nesterov: p ← p + μ v − η (g + l2 p)). */
NNM_INLINE void NNM(momentum)(REAL *restrict p, const REAL *restrict g, REAL *restrict v,
                                 int64_t size, double eta, double mu, double l2, int nesterov) {
    for (int64_t j = 0; j < size; j++) {
        REAL gj = g[j] + (REAL)l2 * p[j];
        REAL vj = (REAL)mu * v[j] - (REAL)eta * gj;
        v[j] = vj;
        p[j] += nesterov ? (REAL)mu * vj - (REAL)eta * gj : vj;
    }
}

/* Adam: m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²; p ← p − step m / (√v + ε̂). */
NNM_INLINE void NNM(adam)(REAL *restrict p, const REAL *restrict g, REAL *restrict mm,
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

/* RMSprop: v ← ρ v + (1−ρ) g²; p ← p − η g / (√v + ε). */
NNM_INLINE void NNM(rmsprop)(REAL *restrict p, const REAL *restrict g, REAL *restrict vv,
                                int64_t size, double eta, double rho, double eps, double l2) {
    for (int64_t j = 0; j < size; j++) {
        REAL gj = g[j] + (REAL)l2 * p[j];
        REAL vj = (REAL)rho * vv[j] + (REAL)(1.0 - rho) * (gj * gj);
        vv[j] = vj;
        p[j] -= (REAL)eta * gj / (NNM_SQRT(vj) + (REAL)eps);
    }
}

/* The optimizer's step on `size` parameters p with gradient g (+ l2 p: L2's ∂/∂w of
 * (λ/2n) Σ w²) and state s1, s2; t is the step count, from 1. Ids as in nnm_knows; hp holds
 * η, λ/n, then each optimizer's own p0..p4 (its kernel_hyper in nnmath.optim). */
NNM_INLINE void NNM(step)(const nnm_epoch *e, REAL *restrict p, const REAL *restrict g,
                             REAL *restrict s1, REAL *restrict s2, int64_t size, double l2,
                             int64_t t) {
    const double *hp = e->hp, eta = hp[0];
    switch (e->opt) {
    case 0: { /* SGD: w ← (1 − ηλ/n) w − η ∂C/∂w */
        const REAL ceta = (REAL)eta, beta = (REAL)(1.0 - eta * l2);
        for (int64_t j = 0; j < size; j++) p[j] = beta * p[j] - ceta * g[j];
        break;
    }
    case 1: /* SGD with momentum μ = p0, Nesterov if p1 */
        NNM(momentum)(p, g, s1, size, eta, hp[2], l2, hp[3] != 0.0);
        break;
    case 2: { /* Adam, β1 = p0, β2 = p1, ε = p2: the bias corrections folded into step, ε̂ */
        const double b1 = hp[2], b2 = hp[3], c2 = sqrt(1.0 - pow(b2, (double)t));
        NNM(adam)(p, g, s1, s2, size, eta * c2 / (1.0 - pow(b1, (double)t)), hp[4] * c2, b1,
                  b2, l2);
        break;
    }
    case 3: /* RMSprop, ρ = p0, ε = p1 */
        NNM(rmsprop)(p, g, s1, size, eta, hp[2], hp[3], l2);
        break;
    default: /* not reached: the epoch refuses ids nnm_knows does not list */
        break;
    }
}

/* Inverted dropout of `units` consecutive units whose draws are the consecutive words from
 * `word` on (units 2w and 2w + 1 take the low and the high half of draw w): mk = 1/(1 − p)
 * where the unit is kept (see _ckernels.c), else 0; ain = a ⊙ mk. The draws are made in
 * passes of NNM_DROP_WORDS, a plain loop that vectorises, and then read as 32-bit halves. */
NNM_INLINE void NNM(drop_block)(uint64_t key, uint64_t word, uint32_t thresh, REAL scale,
                                   const REAL *restrict a, REAL *restrict mk,
                                   REAL *restrict ain, int64_t units) {
    const REAL zero = 0;
    for (int64_t u0 = 0; u0 < units; u0 += 2 * NNM_DROP_WORDS) {
        uint64_t draws[NNM_DROP_WORDS];
        uint32_t halves[2 * NNM_DROP_WORDS];
        const int64_t cu = units - u0 < 2 * NNM_DROP_WORDS ? units - u0 : 2 * NNM_DROP_WORDS;
        const int64_t cw = (cu + 1) / 2;
        const uint64_t w0 = word + (uint64_t)(u0 / 2);
        for (int64_t w = 0; w < cw; w++) draws[w] = nnm_draw(key, w0 + (uint64_t)w);
        memcpy(halves, draws, (size_t)cw * sizeof(uint64_t)); /* low half first */
        for (int64_t u = 0; u < cu; u++) {
            const REAL keep = halves[u] >= thresh ? scale : zero;
            mk[u0 + u] = keep;
            ain[u0 + u] = a[u0 + u] * keep;
        }
    }
}

/* Inverted dropout of layer i's output a (n units) for the m rows at positions j0, j0 + 1,
 * ... of the epoch, into the mask mk and the next layer's input ain. Row j's draws are the
 * ⌈n/2⌉ words from j·drop_words + drop_offset[i]; when they are all the words of a row
 * (the one dropping layer) and n is even, the m rows' draws and units are both consecutive
 * and the block is one run (the book's 30 units are 15 draws a row: too short a loop). */
NNM_INLINE void NNM(dropout)(const nnm_epoch *e, int64_t i, int64_t j0,
                                const REAL *restrict a, REAL *restrict mk, REAL *restrict ain,
                                int64_t m, int64_t n) {
    const uint32_t thresh = (uint32_t)e->drop_thresh[i]; /* ⌊p 2^32⌋ < 2^32 as p < 1 */
    const uint64_t key = e->drop_key, words = (uint64_t)e->drop_words;
    const uint64_t offset = (uint64_t)e->drop_offset[i];
    const REAL scale = (REAL)e->drop_scale[i];
    if (n % 2 == 0 && words == (uint64_t)(n / 2)) {
        NNM(drop_block)(key, (uint64_t)j0 * words + offset, thresh, scale, a, mk, ain, m * n);
        return;
    }
    for (int64_t r = 0; r < m; r++)
        NNM(drop_block)(key, (uint64_t)(j0 + r) * words + offset, thresh, scale, a + r * n,
                        mk + r * n, ain + r * n, n);
}

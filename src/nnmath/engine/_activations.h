/* The activations of the compiled epoch for one precision REAL, included twice by
 * _ckernels.c: each σ's forward case (NNM(activate)) and its σ' case (NNM(vjp)), found by
 * name through nnm_activation_names (nnmath.activations' registry names). */

#ifndef NNM_ACTIVATIONS_DECLARED
#define NNM_ACTIVATIONS_DECLARED
/* The activations this build has, by registry name; an id is a position in this list. */
#define NNM_ACTIVATIONS(F)                                                                  \
    F(sigmoid) F(tanh) F(relu) F(leaky_relu) F(elu) F(identity) F(softmax) F(gelu)          \
    F(softplus) F(silu) F(softsign) F(selu)
#define NNM_ACT_ID(name) NNM_ACT_##name,
#define NNM_ACT_NAME(name) #name,
enum { NNM_ACTIVATIONS(NNM_ACT_ID) NNM_N_ACTIVATIONS };
static const char *const nnm_activation_names[] = {NNM_ACTIVATIONS(NNM_ACT_NAME)};

/* SELU's λ and α (Klambauer et al. 2017), to the digits torch uses. */
#define NNM_SELU_LAMBDA 1.0507009873554804934193349852946
#define NNM_SELU_ALPHA 1.6732632423543772848170429916717
#endif

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
NNM_INLINE void NNM(activate)(int64_t id, double alpha, REAL *restrict z,
                                 const REAL *restrict b, REAL *restrict a, int64_t m,
                                 int64_t n) {
    const REAL zero = 0, one = 1, lam = (REAL)NNM_SELU_LAMBDA;
    const REAL lam_alpha = (REAL)(NNM_SELU_LAMBDA * NNM_SELU_ALPHA);
    for (int64_t r = 0; r < m; r++) {
        REAL *restrict zr = z + r * n, *restrict ar = a + r * n;
        switch (id) {
        case NNM_ACT_sigmoid: NNM_EACH(NNM(sigmoid)(zc));
        case NNM_ACT_tanh: NNM_EACH(NNM_TANH(zc));
        case NNM_ACT_relu: NNM_EACH(zc > zero ? zc : zero); /* max(0, z) */
        case NNM_ACT_leaky_relu: NNM_EACH(zc >= zero ? zc : (REAL)(alpha * zc)); /* α z, z < 0 */
        case NNM_ACT_elu: /* z for z > 0, α (e^z − 1) for z ≤ 0 */
            NNM_EACH(zc > zero ? zc : (REAL)(alpha * NNM_EXPM1(zc < zero ? zc : zero)));
        case NNM_ACT_identity: NNM_EACH(zc);
        case NNM_ACT_softmax: /* over the units of one example */
            NNM(softmax_row)(zr, b, ar, n);
            break;
        case NNM_ACT_gelu: /* z Φ(z) = (z/2)(1 + erf(z/√2)) */
            NNM_EACH((REAL)0.5 * zc * (one + NNM_ERF(zc * (REAL)0.70710678118654752)));
        case NNM_ACT_softplus: /* max(z, 0) + ln(1 + e^{−|z|}) */
            NNM_EACH((zc > zero ? zc : zero) + NNM_LOG1P(NNM_EXP(zc < zero ? zc : -zc)));
        case NNM_ACT_silu: NNM_EACH(zc * NNM(sigmoid)(zc)); /* z σ(z) */
        case NNM_ACT_softsign: NNM_EACH(zc / (one + (zc < zero ? -zc : zc))); /* z / (1 + |z|) */
        case NNM_ACT_selu: /* λ z for z > 0, λ α (e^z − 1) for z ≤ 0 */
            NNM_EACH(zc > zero ? lam * zc : lam_alpha * NNM_EXPM1(zc < zero ? zc : zero));
        default: /* not reached: the epoch refuses ids past NNM_N_ACTIVATIONS */
            break;
        }
    }
}

/* g ← (∂a/∂z)ᵀ g in place: g ⊙ σ'(z^l), or for softmax a ⊙ (g − Σ_i a_i g_i). */
NNM_INLINE void NNM(vjp)(int64_t id, double alpha, const REAL *restrict z,
                            const REAL *restrict a, REAL *restrict g, int64_t m, int64_t n) {
    const REAL zero = 0, one = 1, lam = (REAL)NNM_SELU_LAMBDA;
    const REAL lam_alpha = (REAL)(NNM_SELU_LAMBDA * NNM_SELU_ALPHA);
    if (id == NNM_ACT_identity) return; /* σ' = 1 */
    for (int64_t r = 0; r < m; r++) {
        const REAL *restrict zr = z + r * n, *restrict ar = a + r * n;
        REAL *restrict gr = g + r * n;
        switch (id) {
        case NNM_ACT_sigmoid: /* σ(z)(1 − σ(z)) */
            for (int64_t c = 0; c < n; c++) gr[c] *= ar[c] * (one - ar[c]);
            break;
        case NNM_ACT_tanh: /* 1 − tanh²(z) */
            for (int64_t c = 0; c < n; c++) gr[c] *= one - ar[c] * ar[c];
            break;
        case NNM_ACT_relu: /* 1 for z > 0, else 0 */
            for (int64_t c = 0; c < n; c++) gr[c] = zr[c] > zero ? gr[c] : zero;
            break;
        case NNM_ACT_leaky_relu: /* 1 for z ≥ 0, α for z < 0 */
            for (int64_t c = 0; c < n; c++) gr[c] *= zr[c] >= zero ? one : (REAL)alpha;
            break;
        case NNM_ACT_elu: /* 1 for z > 0, α e^z for z ≤ 0 */
            for (int64_t c = 0; c < n; c++)
                gr[c] *= zr[c] > zero ? one : (REAL)(alpha * NNM_EXP(zr[c] < zero ? zr[c] : zero));
            break;
        case NNM_ACT_gelu: /* Φ(z) + z φ(z) */
            for (int64_t c = 0; c < n; c++) {
                const REAL zc = zr[c];
                gr[c] *= (REAL)0.5 * (one + NNM_ERF(zc * (REAL)0.70710678118654752)) +
                         zc * NNM_EXP((REAL)-0.5 * zc * zc) * (REAL)0.39894228040143268;
            }
            break;
        case NNM_ACT_softplus: /* σ(z) */
            for (int64_t c = 0; c < n; c++) gr[c] *= NNM(sigmoid)(zr[c]);
            break;
        case NNM_ACT_silu: /* σ(z) (1 + z (1 − σ(z))) */
            for (int64_t c = 0; c < n; c++) {
                const REAL zc = zr[c], s = NNM(sigmoid)(zc);
                gr[c] *= s * (one + zc * (one - s));
            }
            break;
        case NNM_ACT_softsign: /* 1 / (1 + |z|)² */
            for (int64_t c = 0; c < n; c++) {
                const REAL d = one + (zr[c] < zero ? -zr[c] : zr[c]);
                gr[c] /= d * d;
            }
            break;
        case NNM_ACT_selu: /* λ for z > 0, λ α e^z for z ≤ 0 */
            for (int64_t c = 0; c < n; c++)
                gr[c] *= zr[c] > zero ? lam : lam_alpha * NNM_EXP(zr[c] < zero ? zr[c] : zero);
            break;
        case NNM_ACT_softmax: {
            double s = 0.0;
            for (int64_t c = 0; c < n; c++) s += ar[c] * gr[c];
            for (int64_t c = 0; c < n; c++) gr[c] = (REAL)(ar[c] * (gr[c] - s));
            break;
        }
        }
    }
}

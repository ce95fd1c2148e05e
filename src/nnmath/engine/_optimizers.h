/* The optimizers of the compiled epoch for one precision REAL, included twice by _ckernels.c:
 * each update as the lines of nnmath.optim's step, found by name through
 * nnm_optimizer_kernels, which also names the hyper-parameters and the state each reads. */

#ifndef NNM_OPTIMIZERS_DECLARED
#define NNM_OPTIMIZERS_DECLARED
/* An optimizer kernel: the registry name it serves, the hyper-parameters it reads (fields of
 * nnm_hyper) and the state it reads and writes (fields of nnm_state, and t), by name. */
typedef struct {
    const char *name, *hyper, *state;
} nnm_optimizer_kernel;

/* The ids are positions here; SGD is first, for the epoch fuses its step when opt is 0. Of two
 * kernels with one name, nnmath.engine takes the one whose state is the optimizer's. */
enum { NNM_SGD, NNM_SGD_MOMENTUM, NNM_ADAM, NNM_RMSPROP, NNM_N_OPTIMIZERS };
static const nnm_optimizer_kernel nnm_optimizer_kernels[NNM_N_OPTIMIZERS] = {
    [NNM_SGD] = {"sgd", "eta lmbda n", ""},
    [NNM_SGD_MOMENTUM] = {"sgd", "eta lmbda n momentum nesterov", "velocity_w velocity_b"},
    [NNM_ADAM] = {"adam", "eta lmbda n beta1 beta2 epsilon", "m_w m_b v_w v_b t"},
    [NNM_RMSPROP] = {"rmsprop", "eta lmbda n rho epsilon", "v_w v_b"},
};

/* λ/n: L2's ∂/∂w of (λ/2n) Σ w² is (λ/n) w. */
static inline double nnm_l2(const nnm_epoch *e) { return e->hyper.lmbda / e->hyper.n; }
#endif

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

/* Layer i's array of state s (weights' or biases'), from entry lo on; NULL for no state. */
NNM_INLINE REAL *NNM(state_at)(void **s, int64_t i, int64_t lo) {
    return s ? (REAL *)s[i] + lo : NULL;
}

/* The optimizer's step on the `size` entries from lo of layer i's weights (or biases) p with
 * gradient g (+ l2 p: L2's ∂/∂w of (λ/2n) Σ w²); t is the step count, from 1. The state is
 * the epoch's named state of that layer, from entry lo. */
NNM_INLINE void NNM(step)(const nnm_epoch *e, REAL *restrict p, const REAL *restrict g,
                             int64_t i, int bias, int64_t lo, int64_t size, double l2,
                             int64_t t) {
    const nnm_hyper *h = &e->hyper;
    const nnm_state *s = &e->state;
    switch (e->opt) {
    case NNM_SGD: { /* w ← (1 − ηλ/n) w − η ∂C/∂w */
        const REAL ceta = (REAL)h->eta, beta = (REAL)(1.0 - h->eta * l2);
        for (int64_t j = 0; j < size; j++) p[j] = beta * p[j] - ceta * g[j];
        break;
    }
    case NNM_SGD_MOMENTUM:
        NNM(momentum)(p, g, NNM(state_at)(bias ? s->velocity_b : s->velocity_w, i, lo), size,
                      h->eta, h->momentum, l2, h->nesterov != 0.0);
        break;
    case NNM_ADAM: { /* the bias corrections folded into step and ε̂ */
        const double b1 = h->beta1, b2 = h->beta2, c2 = sqrt(1.0 - pow(b2, (double)t));
        NNM(adam)(p, g, NNM(state_at)(bias ? s->m_b : s->m_w, i, lo),
                  NNM(state_at)(bias ? s->v_b : s->v_w, i, lo), size,
                  h->eta * c2 / (1.0 - pow(b1, (double)t)), h->epsilon * c2, b1, b2, l2);
        break;
    }
    case NNM_RMSPROP:
        NNM(rmsprop)(p, g, NNM(state_at)(bias ? s->v_b : s->v_w, i, lo), size, h->eta, h->rho,
                     h->epsilon, l2);
        break;
    default: /* not reached: the epoch refuses ids past NNM_N_OPTIMIZERS */
        break;
    }
}

/* The epoch itself for one precision REAL, included twice by _ckernels.c after the headers
 * of the kernels it calls (_activations.h, _costs.h, _optimizers.h, _dropout.h): the gather
 * of a mini-batch, its matrix products, the forward and backward pass of a thread's rows,
 * the step of a thread's slice of the parameters, and the threads. */

/* The mini-batch that starts at k: rows X[perm[k:k+m]] into x0, Y[perm[k:k+m]] into y_batch.
 * The rows are copied NNM_GATHER_ROWS at a time, one cache line of each in turn, so that
 * that many rows' memory reads are in flight at once instead of one row's (the random
 * gather of the rows of X is bound by memory latency more than by bandwidth). */
NNM_INLINE void NNM(gather)(const nnm_epoch *e, int64_t k, int64_t m, REAL *restrict x0,
                               REAL *restrict y_batch) {
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
    for (r = 0; r < m; r++) memcpy(y_batch + r * nL, Y + idx[r] * nL, (size_t)nL * sizeof(REAL));
}

/* The products of layer n_in → n_out over m rows (a, z, δ, g pointing at the first of
 * them), each in calls of nnm_call_rows rows: the threaded epoch's and the floor's (Σ δ aᵀ
 * is NNM(slice_calls) below). */
NNM_INLINE void NNM(z_calls)(const nnm_epoch *e, const REAL *W, const REAL *a, REAL *z,
                                int64_t n_in, int64_t n_out, int64_t m) { /* z = W a */
    const REAL one = 1, zero = 0;
    const int64_t c = nnm_call_rows(e, n_in, n_out, m);
    for (int64_t r = 0; r < m; r += c)
        nnm_gemm(e, 'T', 'N', n_out, c < m - r ? c : m - r, n_in, &one, W, n_in, a + r * n_in,
                 n_in, &zero, z + r * n_out, n_out, sizeof(REAL));
}

NNM_INLINE void NNM(wt_delta_calls)(const nnm_epoch *e, const REAL *W, const REAL *d,
                                       REAL *g, int64_t n_in, int64_t n_out, int64_t m) {
    const REAL one = 1, zero = 0; /* g = Wᵀ δ */
    const int64_t c = nnm_call_rows(e, n_in, n_out, m);
    for (int64_t r = 0; r < m; r += c)
        nnm_gemm(e, 'N', 'N', n_in, c < m - r ? c : m - r, n_out, &one, W, n_in, d + r * n_out,
                 n_out, &zero, g + r * n_in, n_in, sizeof(REAL));
}

/* w ← beta w + alpha Σ over the m rows of δ_J aᵀ for the nj output units J of a slice of the
 * layer n_in → n_out (d points at the slice's first unit of row 0, rows n_out apart; w at
 * the slice's first row of W), call by call as nnm_call_rows cuts a narrow slice (beta
 * applies at the first call only). With J all the units, alpha 1 and beta 0: Σ δ aᵀ. */
NNM_INLINE void NNM(slice_calls)(const nnm_epoch *e, const REAL *a, const REAL *d, REAL *w,
                                    int64_t n_in, int64_t n_out, int64_t nj, int64_t m,
                                    REAL alpha, REAL beta) {
    const REAL one = 1;
    const int64_t c = nnm_call_rows(e, n_in, nj, m);
    for (int64_t r = 0; r < m; r += c)
        nnm_gemm(e, 'N', 'T', n_in, nj, c < m - r ? c : m - r, &alpha, a + r * n_in, n_in,
                 d + r * n_out, n_out, r == 0 ? &beta : &one, w, n_in, sizeof(REAL));
}

/* Plain SGD's step fused into the product, for the units J of a slice (all of them on one
 * thread) over `rows` of the mini-batch's m rows: w_J ← (1 − ηλ/n) w_J − (η/m) Σ δ_J aᵀ. */
NNM_INLINE void NNM(sgd_calls)(const nnm_epoch *e, const REAL *a, const REAL *d, REAL *w,
                                  int64_t n_in, int64_t n_out, int64_t nj, int64_t rows,
                                  int64_t m) {
    const double eta = e->hyper.eta;
    NNM(slice_calls)(e, a, d, w, n_in, n_out, nj, rows, (REAL)(-eta / (double)m),
                     (REAL)(1.0 - eta * nnm_l2(e)));
}

/* Σ over the m rows of δ (one thread's share of ∂C/∂b^l before the mean). */
NNM_INLINE void NNM(sum_rows)(const REAL *restrict delta, REAL *restrict out, int64_t m,
                                 int64_t n) {
    for (int64_t c = 0; c < n; c++) out[c] = 0;
    for (int64_t r = 0; r < m; r++)
        for (int64_t c = 0; c < n; c++) out[c] += delta[r * n + c];
}

/* g[j] = (Σ_u G_u[j]) / m over the threads u whose share of the m rows is not empty, for j
 * in [lo, hi); g is G_0, which thread 0 always fills (its share is the first row). */
NNM_INLINE void NNM(combine)(void *const *G, int64_t stride, int64_t T, int64_t m,
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

/* A part's rows (_threads.h): the mt rows [lo, lo + mt) of the mini-batch of m rows at k,
 * run by part p ("this part" below), with `fuse` as NNM(backward_from) takes it. */
typedef struct {
    int64_t p, k, lo, mt, m;
    int fuse;
} NNM(rows);

/* Layer i's a = σ(z + b) over this part's rows (dropped out into layer_input). */
NNM_INLINE void NNM(finish_layer)(nnm_epoch *e, int64_t i, const NNM(rows) *w) {
    const int64_t n_out = e->sizes[i + 1], lo = w->lo, mt = w->mt;
    REAL *z = (REAL *)e->Z[i] + lo * n_out, *a = (REAL *)e->A[i + 1] + lo * n_out;
    NNM(activate)(e->activation[i], e->alphas[i], z, (const REAL *)e->b[i], a, mt, n_out);
    if (e->mask[i])
        NNM(dropout)(e, i, w->k + lo, a, (REAL *)e->mask[i] + lo * n_out,
                     (REAL *)e->layer_input[i + 1] + lo * n_out, mt, n_out);
}

/* δ^{l−1} = (its Wᵀ δ^l, made into D[i − 1], + δ of the blocks layer i's input starts)
 * ⊙ mask ⊙ σ'(z^{l−1}) over this part's rows, for layer i > 0. */
NNM_INLINE void NNM(finish_delta)(nnm_epoch *e, int64_t i, const NNM(rows) *w) {
    const int64_t n_in = e->sizes[i], lo = w->lo, mt = w->mt;
    REAL *d_prev = (REAL *)e->D[i - 1] + lo * n_in;
    for (int64_t j = i; j < e->L; j++) /* the identity path of a block that reads a^l */
        if (e->skip[j] == i) {
            const REAL *dj = (const REAL *)e->D[j] + lo * n_in;
            for (int64_t r = 0; r < mt * n_in; r++) d_prev[r] += dj[r];
        }
    if (e->mask[i - 1]) {
        const REAL *mask = (const REAL *)e->mask[i - 1] + lo * n_in;
        for (int64_t j = 0; j < mt * n_in; j++) d_prev[j] *= mask[j];
    }
    NNM(vjp)(e->activation[i - 1], e->alphas[i - 1], (const REAL *)e->Z[i - 1] + lo * n_in,
             (const REAL *)e->A[i] + lo * n_in, d_prev, mt, n_in);
}

/* The backward pass of this part's rows from layer `top` down: δ^{l−1} = ((W^l)ᵀ δ^l) ⊙ …
 * (NNM(finish_delta)) with the weights before the step, and this part's Σ δ^l and
 * Σ δ^l (a^{l−1})ᵀ. With `fuse` (one thread, plain SGD) the weights' step is fused into that
 * product instead: w ← (1 − ηλ/n) w − (η/m) δ aᵀ. It stops at a batch norm above layer 0
 * once its part sums are made (its δ^{l−1} needs every part's: NNM(bn_delta)). */
NNM_INLINE void NNM(backward_from)(nnm_epoch *e, int64_t top, const NNM(rows) *w) {
    const int64_t L = e->L, p = w->p, lo = w->lo, mt = w->mt, m = w->m;
    for (int64_t i = top; i >= 0; i--) {
        const int64_t n_in = e->sizes[i], n_out = e->sizes[i + 1];
        const REAL *d = (const REAL *)e->D[i] + lo * n_out;
        const REAL *a_in = (const REAL *)e->layer_input[i] + lo * n_in;
        REAL *nabla_w = (REAL *)e->nabla_w_parts[p * L + i]; /* this part's */
        NNM(sum_rows)(d, (REAL *)e->nabla_b_parts[p * L + i], mt, n_out); /* Σ δ^l */
        if (e->kind[i] == NNM_BATCH_NORM) { /* its step is NNM(update_slices)'s */
            NNM(bn_dz)(e, i, p, d, (const REAL *)e->xhat[i] + lo * n_out, mt);
            if (i > 0) return;
            continue;
        }
        if (i > 0) {
            NNM(wt_delta_calls)(e, (const REAL *)e->W[i], d, (REAL *)e->D[i - 1] + lo * n_in,
                                n_in, n_out, mt);
            NNM(finish_delta)(e, i, w);
        }
        if (w->fuse) { /* one thread: one call (no gemm_rows), the whole of W */
            NNM(sgd_calls)(e, a_in, d, (REAL *)e->W[i], n_in, n_out, n_out, mt, m);
        } else if (!nnm_sliced(e, i, m)) { /* Σ δ aᵀ of its rows */
            NNM(slice_calls)(e, a_in, d, nabla_w, n_in, n_out, n_out, mt, 1, 0);
        } /* else each thread's slice of W over all m rows, after the barrier */
    }
}

/* The forward pass of this part's rows from layer `first` up: z^l = W^l a^{l−1} + b^l
 * (a block's adds its input), a^l = σ(z^l), then δ^L and the backward pass. It stops at a
 * batch norm once this part's Σ a is made (μ_B needs every part's: NNM(bn_center)). */
NNM_INLINE void NNM(forward_from)(nnm_epoch *e, int64_t first, const NNM(rows) *w) {
    const int64_t L = e->L, nL = e->sizes[L], lo = w->lo, mt = w->mt;
    for (int64_t i = first; i < L; i++) {
        const int64_t n_in = e->sizes[i], n_out = e->sizes[i + 1];
        const REAL *a_in = (const REAL *)e->layer_input[i] + lo * n_in;
        if (e->kind[i] == NNM_BATCH_NORM) {
            NNM(sum_rows)(a_in, (REAL *)e->nabla_b_parts[w->p * L + i], mt, n_in);
            return;
        }
        REAL *z = (REAL *)e->Z[i] + lo * n_out;
        NNM(z_calls)(e, (const REAL *)e->W[i], a_in, z, n_in, n_out, mt);
        if (e->skip[i] >= 0) { /* a residual block: z = a^in + W a + (b below) */
            const REAL *s = (const REAL *)e->layer_input[e->skip[i]] + lo * n_out;
            for (int64_t j = 0; j < mt * n_out; j++) z[j] += s[j];
        }
        NNM(finish_layer)(e, i, w);
    }
    const REAL *y_batch = (const REAL *)e->y_batch + lo * nL;
    if (e->scores)
        NNM(score_rows)(e, (const REAL *)e->A[L] + lo * nL, y_batch, mt, e->scores + 2 * w->p);
    NNM(output_delta)(e, (const REAL *)e->Z[L - 1] + lo * nL, (const REAL *)e->A[L] + lo * nL,
                      y_batch, (REAL *)e->D[L - 1] + lo * nL, mt);
    NNM(backward_from)(e, L - 1, w);
}

/* Phase s of the mini-batch's rows for this part (nnm_batch_phases: its K batch norms take
 * phases 1 … 2K forward, two each, and after those one each above layer 0 backward): the
 * gather and the passes up to the first barrier, or from a batch norm's on to the next. */
NNM_INLINE void NNM(rows_phase)(nnm_epoch *e, int64_t s, const NNM(rows) *w) {
    const int64_t p = w->p, lo = w->lo, mt = w->mt, m = w->m, K = nnm_norms(e);
    if (s == 0) {
        const int64_t n0 = e->sizes[0], nL = e->sizes[e->L];
        NNM(gather)(e, w->k + lo, mt, (REAL *)e->A[0] + lo * n0, (REAL *)e->y_batch + lo * nL);
        NNM(forward_from)(e, 0, w);
        return;
    }
    if (s <= 2 * K) { /* batch norm (s − 1)/2 forward: μ_B, or σ²_B and on */
        const int64_t i = nnm_norm_at(e, (s - 1) / 2), n = e->sizes[i + 1];
        const REAL *a_in = (const REAL *)e->layer_input[i] + lo * n;
        if (s % 2) {
            NNM(bn_center)(e, i, p, a_in, mt, m);
            return;
        }
        NNM(bn_normalise)(e, i, p, a_in, (REAL *)e->Z[i] + lo * n, (REAL *)e->xhat[i] + lo * n,
                          mt, m);
        NNM(finish_layer)(e, i, w);
        NNM(forward_from)(e, i + 1, w);
        return;
    }
    const int64_t i = nnm_norm_down(e, s - 2 * K - 1), n = e->sizes[i + 1]; /* its δ^{l−1} */
    NNM(bn_delta)(e, i, p, (const REAL *)e->D[i] + lo * n, (const REAL *)e->xhat[i] + lo * n,
                  (REAL *)e->D[i - 1] + lo * n, mt, m);
    NNM(finish_delta)(e, i, w);
    NNM(backward_from)(e, i - 1, w);
}

/* This thread's slice of every W^l and b^l takes the optimizer's step t, from the mean
 * over the m rows of all threads' parts (with `fuse` the weights have taken theirs already).
 * A layer that nnm_sliced picks has no parts of ∂C/∂w: this thread makes δ_J aᵀ over all m
 * rows for the output units J of its slice itself, every thread's rows of a and δ being in
 * place after the barrier (plain SGD's step fused into that product, any other optimizer's
 * taken from nabla_w_parts' rows J). The biases' Σ δ are always summed across the threads'
 * parts. */
NNM_INLINE void NNM(update_slices)(nnm_epoch *e, int64_t tid, int64_t m, int64_t t,
                                      int fuse) {
    const int64_t L = e->L, T = e->threads;
    for (int64_t i = 0; i < L; i++) {
        const int64_t n_in = e->sizes[i], n_out = e->sizes[i + 1], size = nnm_w_size(e, i);
        const int64_t blo = nnm_share(n_out, tid, T), bn = nnm_share(n_out, tid + 1, T) - blo;
        const int sliced = nnm_sliced(e, i, m), norm = e->kind[i] == NNM_BATCH_NORM;
        if ((!fuse || norm) && !sliced) { /* ∂C/∂w^l from the threads' parts */
            const int64_t wlo = nnm_share(size, tid, T), wn = nnm_share(size, tid + 1, T) - wlo;
            NNM(combine)(e->nabla_w_parts + i, L, T, m, wlo, wlo + wn);
            NNM(step)(e, (REAL *)e->W[i] + wlo, (const REAL *)e->nabla_w_parts[i] + wlo, i, 0,
                      wlo, wn, nnm_l2(e), t);
        } else if (sliced && bn > 0) { /* this slice's units J = [blo, blo + bn), all rows */
            const REAL *a = (const REAL *)e->layer_input[i], *d = (const REAL *)e->D[i] + blo;
            const int64_t w0 = blo * n_in;
            if (e->opt == NNM_SGD) {
                NNM(sgd_calls)(e, a, d, (REAL *)e->W[i] + w0, n_in, n_out, bn, m, m);
            } else {
                REAL *g = (REAL *)e->nabla_w_parts[i] + w0;
                NNM(slice_calls)(e, a, d, g, n_in, n_out, bn, m, (REAL)(1.0 / (double)m), 0);
                NNM(step)(e, (REAL *)e->W[i] + w0, g, i, 0, w0, bn * n_in, nnm_l2(e), t);
            }
        }
        NNM(combine)(e->nabla_b_parts + i, L, T, m, blo, blo + bn); /* ∂C/∂b^l */
        NNM(step)(e, (REAL *)e->b[i] + blo, (const REAL *)e->nabla_b_parts[i] + blo, i, 1, blo,
                  bn, 0.0, t);
    }
}

/* The threads: train_part, part_main and nnm_train_epoch. */
#include "_threads.h"

/* Only the matrix products of `batches` backprop steps (the benchmark's floor): per
 * mini-batch and layer z = W a (into Z), ∇w = δ aᵀ (into nabla_w_parts) and, above the first layer,
 * Wᵀ δ (into layer_input, used as scratch here), in calls of nnm_call_rows rows as the threaded
 * epoch makes them. A and D are never overwritten. It checks nothing (no e->lens): only
 * benchmarks/speed.py calls it, on buffers it sized itself. */
int NNM(nnm_floor_epoch)(nnm_epoch *e, int64_t batches) {
    const int64_t B = e->B, L = e->L;
    for (int64_t k = 0; k < batches; k++) {
        for (int64_t i = 0; i < L; i++)
            NNM(z_calls)(e, (const REAL *)e->W[i], (const REAL *)e->A[i], (REAL *)e->Z[i],
                         e->sizes[i], e->sizes[i + 1], B);
        for (int64_t i = L - 1; i >= 0; i--) {
            const int64_t n_in = e->sizes[i], n_out = e->sizes[i + 1];
            NNM(slice_calls)(e, (const REAL *)e->A[i], (const REAL *)e->D[i],
                             (REAL *)e->nabla_w_parts[i], n_in, n_out, n_out, B, 1, 0);
            if (i > 0)
                NNM(wt_delta_calls)(e, (const REAL *)e->W[i], (const REAL *)e->D[i],
                                    (REAL *)e->layer_input[i], n_in, n_out, B);
        }
    }
    return 0;
}

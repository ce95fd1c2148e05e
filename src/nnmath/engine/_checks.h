/* The checks of an epoch before it reads or writes anything (nnm_check_epoch), included once
 * by _ckernels.c after the kernels' tables. nnmath.engine checks first and names the array;
 * these hold even when it did not (a struct filled by hand, a checkpoint from a file).
 *
 * The parts of e->lens (nnmath.engine.EpochRunner builds it in this order):
 * [0, NNM_PER_LAYER L) per layer i the elements of W, b and each state field (0: NULL);
 * then of X, Y, perm; NNM_SMALL the entries of sizes, activation, alphas, drop_thresh,
 * drop_scale, drop_offset, scores (0: NULL); NNM_PTRS those of the pointer arrays W, b, each
 * state field (0: NULL), A, Z, D, layer_input, mask, nabla_w_parts, nabla_b_parts; NNM_OWN
 * the elements of y_batch, of each A[l], per layer of Z[i], D[i], layer_input[i], mask[i]
 * (0: NULL), then per thread t and layer i of nabla_w_parts[t L + i], nabla_b_parts[t L + i];
 * NNM_NORMS per layer those of running_mean[i], running_var[i], xhat[i], inv_std[i] (0: NULL).
 * The small arrays are sizes, activation, alphas, drop_thresh, drop_scale, drop_offset,
 * scores, kind, skip, bn_momentum, bn_eps; the pointer arrays after the state's A, Z, D,
 * layer_input, mask, nabla_w_parts, nabla_b_parts, running_mean, running_var, xhat, inv_std. */
#define NNM_PER_LAYER (2 + NNM_N_STATE)
#define NNM_SMALL(L) (NNM_PER_LAYER * (L) + 3)
#define NNM_PTRS(L) (NNM_SMALL(L) + 11)
#define NNM_OWN(L) (NNM_PTRS(L) + 13 + NNM_N_STATE)
#define NNM_NORMS(L, T) (NNM_OWN(L) + 2 + 5 * (L) + 2 * (T) * (L))
#define NNM_N_LENS(L, T) (NNM_NORMS(L, T) + 4 * (L))

/* Whether the space-separated `list` holds `word`. */
static int nnm_lists(const char *list, const char *word) {
    const size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return 1;
    return 0;
}

/* The scalars, the small arrays and the pointer arrays hold what L, B, n and T imply: the
 * entry counts are checked before any entry is read. */
static int nnm_check_counts(const nnm_epoch *e) {
    const int64_t L = e->L, T = e->threads;
    if (!e->lens || L < 1 || L > (1 << 20) || e->B < 1 || e->n < 0) return NNM_BAD_LENGTH;
    if (T < 1 || T > 64 || e->product_parts < 0 || e->product_parts > 64) return NNM_BAD_VALUE;
    if (e->n_lens != NNM_N_LENS(L, T)) return NNM_BAD_LENGTH;
    const int64_t *n = e->lens + NNM_SMALL(L);
    const int64_t small[11] = {L + 1, L, L, L, L, L, e->scores ? 2 * T : 0, L, L, L, L};
    const void *small_at[11] = {e->sizes,      e->activation,  e->alphas, e->drop_thresh,
                                e->drop_scale, e->drop_offset, e->scores, e->kind,
                                e->skip,       e->bn_momentum, e->bn_eps};
    for (int k = 0; k < 11; k++)
        if (n[k] != small[k] || (small[k] && !small_at[k])) return NNM_BAD_LENGTH;
    n = e->lens + NNM_PTRS(L);
    if (n[0] != L || n[1] != L || !e->W || !e->b) return NNM_BAD_LENGTH;
    for (int k = 0; k < NNM_N_STATE; k++) /* a state field is L arrays, or NULL */
        if (n[2 + k] != (e->state.slot[k] ? L : 0)) return NNM_BAD_LENGTH;
    n += 2 + NNM_N_STATE;
    const int64_t ptrs[11] = {L + 1, L, L, L + 1, L, T * L, T * L, L, L, L, L};
    void **const *ptrs_at[11] = {&e->A,           &e->Z,        &e->D,
                                 &e->layer_input, &e->mask,     &e->nabla_w_parts,
                                 &e->nabla_b_parts, &e->running_mean, &e->running_var,
                                 &e->xhat,        &e->inv_std};
    for (int k = 0; k < 11; k++)
        if (n[k] != ptrs[k] || !*ptrs_at[k]) return NNM_BAD_LENGTH;
    for (int64_t l = 0; l <= L; l++)
        if (e->sizes[l] < 1) return NNM_BAD_LENGTH;
    return NNM_OK;
}

/* The buffers that come from the caller (and so, through a checkpoint, from a file) hold
 * what the sizes say: per layer W, b and the optimizer's state, then X, Y and perm. */
static int nnm_check_caller(const nnm_epoch *e) {
    for (int64_t i = 0; i < e->L; i++) {
        const int64_t w = nnm_w_size(e, i), b = e->sizes[i + 1];
        const int64_t *n = e->lens + NNM_PER_LAYER * i;
        if (n[0] != w || n[1] != b || !e->W[i] || !e->b[i]) return NNM_BAD_LENGTH;
        for (int k = 0; k < NNM_N_STATE; k++) {
            void **s = e->state.slot[k];
            const int of_w = !strcmp(nnm_state_fields[k].type, "state_w");
            const int64_t want = !s ? 0 : of_w ? w : b;
            if (n[2 + k] != want || (s && !s[i])) return NNM_BAD_LENGTH;
        }
    }
    const int64_t *n = e->lens + NNM_PER_LAYER * e->L;
    if (n[0] != e->n * e->sizes[0] || n[1] != e->n * e->sizes[e->L] || n[2] != e->n)
        return NNM_BAD_LENGTH;
    if (e->n > 0 && (!e->X || !e->Y || !e->perm)) return NNM_BAD_LENGTH;
    return NNM_OK;
}

/* The epoch's own buffers hold B rows of each layer (y_batch, A, Z, D, layer_input, mask) and
 * each thread's parts of ∂C/∂w and ∂C/∂b; the output layer has no mask (only hidden units
 * are dropped). */
static int nnm_check_buffers(const nnm_epoch *e) {
    const int64_t L = e->L, B = e->B, *s = e->sizes, *n = e->lens + NNM_OWN(L);
    if (!e->y_batch || n[0] != B * s[L] || e->mask[L - 1]) return NNM_BAD_LENGTH;
    for (int64_t l = 0; l <= L; l++)
        if (!e->A[l] || n[1 + l] != B * s[l]) return NNM_BAD_LENGTH;
    n += L + 2;
    for (int64_t i = 0; i < L; i++, n += 4) {
        const int64_t out = B * s[i + 1];
        if (!e->Z[i] || !e->D[i] || !e->layer_input[i]) return NNM_BAD_LENGTH;
        if (n[0] != out || n[1] != out || n[2] != B * s[i] || n[3] != (e->mask[i] ? out : 0))
            return NNM_BAD_LENGTH;
    }
    for (int64_t k = 0; k < e->threads * L; k++, n += 2) {
        const int64_t i = k % L;
        if (!e->nabla_w_parts[k] || !e->nabla_b_parts[k] || n[0] != nnm_w_size(e, i) ||
            n[1] != s[i + 1])
            return NNM_BAD_LENGTH;
    }
    return NNM_OK;
}

/* Each layer's kind is known; a batch norm keeps n inputs, its running statistics (n each),
 * ẑ (B rows) and each thread's totals (3 n: _batchnorm.h), runs over mini-batches of at
 * least two rows (no last one of one row) and is in no block; a block's input (skip) is
 * an earlier layer's input of its width. Run after nnm_check_counts (kind, skip are L). */
static int nnm_check_layers(const nnm_epoch *e) {
    const int64_t L = e->L, B = e->B, *s = e->sizes, *n = e->lens + NNM_NORMS(L, e->threads);
    for (int64_t i = 0; i < L; i++, n += 4) {
        if (e->kind[i] < 0 || e->kind[i] >= NNM_N_LAYER_KINDS) return NNM_BAD_VALUE;
        if (e->skip[i] < -1 || e->skip[i] > i) return NNM_BAD_VALUE;
        if (e->skip[i] >= 0 && (s[e->skip[i]] != s[i + 1] || e->kind[i] != NNM_DENSE))
            return NNM_BAD_VALUE;
        if (e->kind[i] != NNM_BATCH_NORM) {
            if (n[0] || n[1] || n[2] || n[3]) return NNM_BAD_LENGTH;
            continue;
        }
        const int64_t u = s[i + 1];
        if (s[i] != u || n[0] != u || n[1] != u || n[2] != B * u || n[3] != 3 * u * e->threads)
            return NNM_BAD_LENGTH;
        if (!e->running_mean[i] || !e->running_var[i] || !e->xhat[i] || !e->inv_std[i])
            return NNM_BAD_LENGTH;
        if (B < 2 || e->n % B == 1) return NNM_BAD_VALUE;
        if (!(e->bn_eps[i] > 0) || !(e->bn_momentum[i] >= 0 && e->bn_momentum[i] <= 1))
            return NNM_BAD_VALUE;
    }
    return NNM_OK;
}

/* Every kernel id is one this build has, and the optimizer's kernel has each state field it
 * names (nnm_optimizer_kernels). */
static int nnm_check_ids(const nnm_epoch *e) {
    for (int64_t i = 0; i < e->L; i++)
        if (e->activation[i] < 0 || e->activation[i] >= NNM_N_ACTIVATIONS)
            return NNM_UNKNOWN_ACTIVATION;
    if (e->cost < 0 || e->cost >= NNM_N_COSTS) return NNM_UNKNOWN_COST;
    if (e->opt < 0 || e->opt >= NNM_N_OPTIMIZERS) return NNM_UNKNOWN_OPTIMIZER;
    for (int k = 0; k < NNM_N_STATE; k++)
        if (!e->state.slot[k] && nnm_lists(nnm_optimizer_kernels[e->opt].state,
                                           nnm_state_fields[k].name))
            return NNM_BAD_LENGTH;
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
    if (!bad) bad = nnm_check_layers(e);
    if (!bad) bad = nnm_check_caller(e);
    if (!bad) bad = nnm_check_buffers(e);
    return bad ? bad : nnm_check_values(e);
}

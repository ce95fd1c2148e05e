/* What C and Python share, declared once: the fields of the epoch's struct, of its optimizer's
 * hyper-parameters and of its optimizer's state. Each list below (an X-macro) both defines
 * its struct here and is exported record by record (nnm_field_name, nnm_field_type,
 * nnm_field_offset), from which nnmath.engine.binding builds the same structs in ctypes. */

/* The optimizers' hyper-parameters, each named as the attribute of nnmath.optim's optimizer
 * that holds it; a kernel reads those its entry of nnm_optimizer_kernels lists. */
#define NNM_HYPER_FIELDS(F)                                                                 \
    F(double, "f64", eta)      /* η, the learning rate */                                   \
    F(double, "f64", lmbda)    /* λ of L2 regularisation */                                 \
    F(double, "f64", n)        /* the training set's size: the n of λ/n */                  \
    F(double, "f64", momentum) /* SGD's μ */                                                \
    F(double, "f64", nesterov) /* SGD: 1 for Nesterov's look-ahead step */                  \
    F(double, "f64", beta1)    /* Adam's decay of the first moment */                       \
    F(double, "f64", beta2)    /* Adam's decay of the second moment */                      \
    F(double, "f64", epsilon)  /* Adam's and RMSprop's ε */                                 \
    F(double, "f64", rho)      /* RMSprop's decay of the squared gradient */

/* The optimizers' per-layer state, each named as its key in the optimizer's state dict; L
 * arrays shaped like the weights ("state_w") or the biases ("state_b"), NULL when unused. */
#define NNM_STATE_FIELDS(F)                                                                 \
    F(void **, "state_w", velocity_w) /* SGD with momentum: v */                            \
    F(void **, "state_b", velocity_b)                                                       \
    F(void **, "state_w", m_w)        /* Adam: the first moment m */                        \
    F(void **, "state_b", m_b)                                                              \
    F(void **, "state_w", v_w)        /* Adam, RMSprop: the second moment v */              \
    F(void **, "state_b", v_b)

#define NNM_EPOCH_FIELDS(F)                                                                 \
    F(int64_t, "i64", n)                  /* examples */                                    \
    F(int64_t, "i64", B)                  /* mini-batch size */                             \
    F(int64_t, "i64", L)                  /* layers of weights */                           \
    F(int64_t, "i64", cost)               /* the cost's kernel (nnm_kernel_id) */           \
    F(int64_t, "i64", fused)              /* δ^L = a − y applies */                         \
    F(int64_t, "i64", opt)                /* the optimizer's kernel (nnm_kernel_id) */      \
    F(int64_t, "i64", blas64)             /* BLAS integers are 64-bit (else 32-bit) */      \
    F(int64_t, "i64", t)                  /* the optimizer's step count: in and out */      \
    F(const int64_t *, "ptr", sizes)      /* L + 1 units per layer */                       \
    F(const int64_t *, "ptr", perm)       /* n: the epoch's shuffle */                      \
    F(const int64_t *, "ptr", activation) /* L: each layer's σ (nnm_kernel_id) */           \
    F(const double *, "ptr", alphas)      /* L: σ's parameter (α of leaky ReLU, ELU) */     \
    F(nnm_hyper, "hyper", hyper)          /* the optimizer's hyper-parameters */            \
    F(double, "f64", clip_eps)            /* the dtype's ε: a in (ε, 1 − ε) for ln a */     \
    F(const void *, "ptr", X)             /* (n, sizes[0]) row-major */                     \
    F(const void *, "ptr", Y)             /* (n, sizes[L]) row-major */                     \
    F(void **, "ptr", W)                  /* L weights (n_out, n_in), updated in place */   \
    F(void **, "ptr", b)                  /* L biases, updated in place */                  \
    F(nnm_state, "state", state)          /* the optimizer's state, updated in place */     \
    F(void **, "ptr", A)                  /* L + 1: a^l (B, n_l) for l = 0..L */            \
    F(void **, "ptr", Z)                  /* L: z^l (B, n_{l+1}) */                         \
    F(void **, "ptr", D)                  /* L: δ^l (B, n_{l+1}) */                         \
    F(void *, "ptr", y_batch)             /* (B, sizes[L]) targets of the mini-batch */     \
    F(void *, "ptr", gemm)                /* ?gemm_ of the precision, Fortran interface */  \
    F(int64_t, "i64", threads)            /* T threads share each mini-batch */             \
    F(int64_t, "i64", product_parts)      /* T = 1: large products in this many parts */    \
    F(void **, "ptr", nabla_w_parts)      /* T L: thread t's Σ δ aᵀ of layer i at t L + i */ \
    F(void **, "ptr", nabla_b_parts)      /* T L: thread t's Σ δ of layer i at t L + i */   \
    F(int64_t, "i64", gemm_rows)          /* > 0: narrow layers' products in such calls */  \
    F(uint64_t, "u64", drop_key)          /* the epoch's dropout key (fit draws it) */      \
    F(int64_t, "i64", drop_words)         /* 64-bit draws per example (all layers) */       \
    F(const uint64_t *, "ptr", drop_thresh) /* L: keep iff draw ≥ this (⌊p 2^32⌋) */        \
    F(const double *, "ptr", drop_scale)  /* L: 1 / (1 − p) */                              \
    F(const int64_t *, "ptr", drop_offset) /* L: where layer i's draws start */             \
    F(void **, "ptr", layer_input)        /* L + 1: layer i's input, A[i] or its dropped */ \
    F(void **, "ptr", mask)               /* L: layer i's output mask, if dropout */        \
    F(const int64_t *, "ptr", lens)       /* n_lens: every array's length (_checks.h) */    \
    F(double *, "ptr", scores)            /* 2 T, or NULL: thread t's Σ C_x and hits */     \
    F(int64_t, "i64", n_lens)             /* entries of lens */                             \
    F(const int64_t *, "ptr", kind)       /* L: layer i is NNM_DENSE or NNM_BATCH_NORM */   \
    F(const int64_t *, "ptr", skip)       /* L: −1, or s: z^i adds layer_input[s] (a block) */ \
    F(const double *, "ptr", bn_momentum) /* L: a batch norm's momentum (else unread) */    \
    F(const double *, "ptr", bn_eps)      /* L: a batch norm's ε (else unread) */           \
    F(void **, "ptr", running_mean)       /* L: a batch norm's, updated per step; or NULL */ \
    F(void **, "ptr", running_var)        /* L: likewise, the unbiased running σ² */        \
    F(void **, "ptr", xhat)               /* L: a batch norm's ẑ (B, n_{i+1}); or NULL */   \
    F(void **, "ptr", inv_std)            /* L: a batch norm's 1/√(σ²_B + ε) (n); or NULL */

/* The kinds of layer (e->kind): z = W a + b, or a batch norm's z = γ ẑ + β per unit over
 * the mini-batch (W is γ (n), b is β); either then a = σ(z). */
enum { NNM_DENSE, NNM_BATCH_NORM, NNM_N_LAYER_KINDS };
/* Their names, which nnmath.engine looks up (nnm_kernel_id("layer", name)). */
static const char *const nnm_layer_names[NNM_N_LAYER_KINDS] = {"dense", "batchnorm"};

#define NNM_DECLARE(type, kind, name) type name;
#define NNM_COUNT(type, kind, name) +1

typedef struct {
    NNM_HYPER_FIELDS(NNM_DECLARE)
} nnm_hyper;

enum { NNM_N_STATE = 0 NNM_STATE_FIELDS(NNM_COUNT) };

/* The named state, also an array of its slots for the checks that visit each. */
typedef union {
    struct {
        NNM_STATE_FIELDS(NNM_DECLARE)
    };
    void **slot[NNM_N_STATE];
} nnm_state;

/* Everything one epoch needs; nnmath.engine.binding builds the same struct from nnm_field_*. */
typedef struct {
    NNM_EPOCH_FIELDS(NNM_DECLARE)
} nnm_epoch;

/* One field as exported: its name, its type's word for Python, its offset. */
typedef struct {
    const char *name, *type;
    size_t offset;
} nnm_field;

#define NNM_HYPER_RECORD(type, kind, name) {#name, kind, offsetof(nnm_hyper, name)},
#define NNM_STATE_RECORD(type, kind, name) {#name, kind, offsetof(nnm_state, name)},
#define NNM_EPOCH_RECORD(type, kind, name) {#name, kind, offsetof(nnm_epoch, name)},
static const nnm_field nnm_hyper_fields[] = {NNM_HYPER_FIELDS(NNM_HYPER_RECORD)};
static const nnm_field nnm_state_fields[] = {NNM_STATE_FIELDS(NNM_STATE_RECORD)};
static const nnm_field nnm_epoch_fields[] = {NNM_EPOCH_FIELDS(NNM_EPOCH_RECORD)};

/* The fields of struct `which` ("epoch", "hyper", "state") and its size, or NULL. */
static const nnm_field *nnm_layout(const char *which, int64_t *count, int64_t *size) {
#define NNM_LAYOUT(word, fields, type)                                                      \
    if (!strcmp(which, word)) {                                                             \
        *count = (int64_t)(sizeof fields / sizeof fields[0]), *size = (int64_t)sizeof(type); \
        return fields;                                                                      \
    }
    NNM_LAYOUT("epoch", nnm_epoch_fields, nnm_epoch)
    NNM_LAYOUT("hyper", nnm_hyper_fields, nnm_hyper)
    NNM_LAYOUT("state", nnm_state_fields, nnm_state)
#undef NNM_LAYOUT
    *count = *size = 0;
    return NULL;
}

static const nnm_field *nnm_field_at(const char *which, int64_t k) {
    int64_t count, size;
    const nnm_field *f = nnm_layout(which, &count, &size);
    return f && k >= 0 && k < count ? f + k : NULL;
}

/* Field k of struct `which`: its name, its type ("i64", "u64", "f64", "ptr", "state_w",
 * "state_b", or a struct's word), its offset; NULL or −1 past the last. */
const char *nnm_field_name(const char *which, int64_t k) {
    const nnm_field *f = nnm_field_at(which, k);
    return f ? f->name : NULL;
}

const char *nnm_field_type(const char *which, int64_t k) {
    const nnm_field *f = nnm_field_at(which, k);
    return f ? f->type : NULL;
}

int64_t nnm_field_offset(const char *which, int64_t k) {
    const nnm_field *f = nnm_field_at(which, k);
    return f ? (int64_t)f->offset : -1;
}

int64_t nnm_struct_size(const char *which) {
    int64_t count, size;
    nnm_layout(which, &count, &size);
    return size;
}

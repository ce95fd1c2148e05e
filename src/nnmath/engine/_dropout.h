/* Dropout for one precision REAL, included twice by _ckernels.c: the inverted-dropout masks
 * of nnmath.network's dropout_masks, drawn from the counter-based generator nnm_draw. */

#ifndef NNM_DROPOUT_DECLARED
#define NNM_DROPOUT_DECLARED
/* How many 64-bit draws the dropout kernel makes per pass (2 units each; NNM(drop_block)).
 * It reads their halves as 32-bit words, low half first: a little-endian layout. */
#define NNM_DROP_WORDS 64
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "NNM(drop_block) reads a draw's halves in little-endian order"
#endif

/* The 64-bit draw number `word` of the stream `key` (splitmix64's output function applied
 * to key + (word + 1) γ): uniform bits, the same on every thread and in NumPy. */
static inline uint64_t nnm_draw(uint64_t key, uint64_t word) {
    uint64_t z = key + (word + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
#endif

/* Inverted dropout of `units` consecutive units whose draws are the consecutive words from
 * `word` on (units 2w and 2w + 1 take the low and the high half of draw w): mask = 1/(1 − p)
 * where the unit is kept (see _ckernels.c), else 0; next_input = a ⊙ mask. The draws are
 * made in passes of NNM_DROP_WORDS, a plain loop that vectorises, then read as 32-bit halves.
 */
NNM_INLINE void NNM(drop_block)(uint64_t key, uint64_t word, uint32_t thresh, REAL scale,
                                   const REAL *restrict a, REAL *restrict mask,
                                   REAL *restrict next_input, int64_t units) {
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
            mask[u0 + u] = keep;
            next_input[u0 + u] = a[u0 + u] * keep;
        }
    }
}

/* Inverted dropout of layer i's output a (n units) for the m rows at positions j0, j0 + 1,
 * ... of the epoch, into `mask` and the next layer's input `next_input`. Row j's draws are the
 * ⌈n/2⌉ words from j·drop_words + drop_offset[i]; when they are all the words of a row
 * (the one dropping layer) and n is even, the m rows' draws and units are both consecutive
 * and the block is one run (the book's 30 units are 15 draws a row: too short a loop). */
NNM_INLINE void NNM(dropout)(const nnm_epoch *e, int64_t i, int64_t j0,
                                const REAL *restrict a, REAL *restrict mask,
                                REAL *restrict next_input, int64_t m, int64_t n) {
    const uint32_t thresh = (uint32_t)e->drop_thresh[i]; /* ⌊p 2^32⌋ < 2^32 as p < 1 */
    const uint64_t key = e->drop_key, words = (uint64_t)e->drop_words;
    const uint64_t offset = (uint64_t)e->drop_offset[i];
    const REAL scale = (REAL)e->drop_scale[i];
    if (n % 2 == 0 && words == (uint64_t)(n / 2)) {
        NNM(drop_block)(key, (uint64_t)j0 * words + offset, thresh, scale, a, mask, next_input,
                        m * n);
        return;
    }
    for (int64_t r = 0; r < m; r++)
        NNM(drop_block)(key, (uint64_t)(j0 + r) * words + offset, thresh, scale, a + r * n,
                        mask + r * n, next_input + r * n, n);
}

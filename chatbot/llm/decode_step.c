/* One decode step of a Llama-architecture model with int8 weights, for x86-64 with AVX2.
 *
 * Built and loaded by chatbot/llm/native_step.py (plain C, called through ctypes: no torch
 * headers, so it compiles in about a second). The Python step in cpu_fast.py spends about a
 * third of a token outside the weight products (dispatching ~25 small tensor operations per
 * layer) and runs attention as three batched products, which two threads cannot split
 * evenly. Here a whole token is one OpenMP parallel region:
 *
 *   - int8 x int8 matrix-vector products: each activation vector is quantized once per
 *     product, symmetric per tensor to [-127, 127]; AVX2 has no signed x signed byte
 *     multiply, so the sign of x moves onto the weight (vpsignb) and |x| is the unsigned
 *     operand of vpmaddubsw. |x| <= 127 and |w| <= 128 keep each pair sum below 2^15, so the
 *     16-bit sums never saturate (unlike fbgemm's u8 path, which needs 7-bit activations);
 *   - attention over the KV cache (IEEE half precision, converted with F16C) is split into (KV head, block of positions) tasks,
 *     so both threads stream half of the cache;
 *   - RMSNorm, RoPE, SiLU and the residual adds run on one thread between barriers; they
 *     touch a few kilobytes each.
 *
 * The weights, scales and caches are the FastDecoder's own tensors (same layout, same
 * SmoothQuant-folded RMSNorm weights), passed by pointer.
 */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#define HB_ABI 2
#define BLOCK_T 128 /* positions per attention task */
#define PREFETCH_ROWS 8 /* prefetch distance in the matrix-vector product (never faults past the end) */

typedef struct {
    int n_layers, hidden, n_heads, n_kv, head_dim, inter, vocab, cap;
    float eps;
} hb_dims;

typedef struct {
    const float *norm1, *norm2;
    const int8_t *qkv, *o, *gate_up, *down;
    const float *qkv_s, *o_s, *gate_up_s, *down_s;
} hb_layer;

int hb_abi(void) { return HB_ABI; }

/* exp for 8 floats (Cephes-style range reduction + degree-5 polynomial; ~1e-7 relative). */
static inline __m256 exp256(__m256 x) {
    const __m256 hi = _mm256_set1_ps(88.3762626647949f), lo = _mm256_set1_ps(-88.3762626647949f);
    const __m256 log2e = _mm256_set1_ps(1.44269504088896341f), half = _mm256_set1_ps(0.5f);
    const __m256 c1 = _mm256_set1_ps(0.693359375f), c2 = _mm256_set1_ps(-2.12194440e-4f);
    const __m256 one = _mm256_set1_ps(1.0f);
    x = _mm256_max_ps(_mm256_min_ps(x, hi), lo);
    __m256 fx = _mm256_floor_ps(_mm256_fmadd_ps(x, log2e, half));
    x = _mm256_sub_ps(x, _mm256_mul_ps(fx, c1));
    x = _mm256_sub_ps(x, _mm256_mul_ps(fx, c2));
    __m256 z = _mm256_mul_ps(x, x);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, x, half);
    y = _mm256_fmadd_ps(y, z, _mm256_add_ps(x, one));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

static inline int32_t hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* RMSNorm of x into out (n a multiple of 8). */
static void rmsnorm(const float *x, const float *w, float eps, int n, float *out) {
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        acc = _mm256_fmadd_ps(v, v, acc);
    }
    __m256 r = _mm256_set1_ps(1.0f / sqrtf(hsum_ps(acc) / (float)n + eps));
    for (int i = 0; i < n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), r), _mm256_loadu_ps(w + i)));
}

/* Symmetric per-tensor int8 quantization of x (n a multiple of 32); returns the scale. */
static float quantize(const float *x, int n, int8_t *xq, uint8_t *ax) {
    __m256 amax = _mm256_setzero_ps();
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int i = 0; i < n; i += 8) amax = _mm256_max_ps(amax, _mm256_and_ps(_mm256_loadu_ps(x + i), absmask));
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    float mx = _mm_cvtss_f32(m);
    if (!(mx > 0.0f)) {
        memset(xq, 0, (size_t)n);
        memset(ax, 0, (size_t)n);
        return 0.0f;
    }
    __m256 inv = _mm256_set1_ps(127.0f / mx);
    for (int i = 0; i < n; i += 32) {
        __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
        __m256i b = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8), inv));
        __m256i c = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 16), inv));
        __m256i d = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 24), inv));
        /* packs interleave 128-bit lanes; the permute restores the element order */
        __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
        __m256i q = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(ab, cd), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(xq + i), q);
        _mm256_storeu_si256((__m256i *)(ax + i), _mm256_abs_epi8(q));
    }
    return mx / 127.0f;
}

/* out[r] = scale_x * ws[r] * sum_k W[r, k] * xq[k] for rows r0..r1 (K a multiple of 32). */
static void qgemv(const int8_t *W, const float *ws, int K, int r0, int r1, const int8_t *xq, const uint8_t *ax,
                  float sx, float *out) {
    const __m256i ones = _mm256_set1_epi16(1);
    int r = r0;
    for (; r + 4 <= r1; r += 4) {
        const int8_t *w0 = W + (size_t)r * K, *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
        for (int k = 0; k < K; k += 32) {
            if (!(k & 63)) { /* prefetching rows r+8..r+11 raised one thread's rate 10 -> 17-19 GB/s */
                _mm_prefetch((const char *)(w0 + PREFETCH_ROWS * K + k), _MM_HINT_T0);
                _mm_prefetch((const char *)(w1 + PREFETCH_ROWS * K + k), _MM_HINT_T0);
                _mm_prefetch((const char *)(w2 + PREFETCH_ROWS * K + k), _MM_HINT_T0);
                _mm_prefetch((const char *)(w3 + PREFETCH_ROWS * K + k), _MM_HINT_T0);
            }
            __m256i s = _mm256_loadu_si256((const __m256i *)(xq + k));
            __m256i u = _mm256_loadu_si256((const __m256i *)(ax + k));
            __m256i v0 = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)(w0 + k)), s);
            __m256i v1 = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)(w1 + k)), s);
            __m256i v2 = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)(w2 + k)), s);
            __m256i v3 = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)(w3 + k)), s);
            a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_maddubs_epi16(u, v0), ones));
            a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_maddubs_epi16(u, v1), ones));
            a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(_mm256_maddubs_epi16(u, v2), ones));
            a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(_mm256_maddubs_epi16(u, v3), ones));
        }
        out[r] = (float)hsum_epi32(a0) * sx * ws[r];
        out[r + 1] = (float)hsum_epi32(a1) * sx * ws[r + 1];
        out[r + 2] = (float)hsum_epi32(a2) * sx * ws[r + 2];
        out[r + 3] = (float)hsum_epi32(a3) * sx * ws[r + 3];
    }
    for (; r < r1; r++) {
        const int8_t *w0 = W + (size_t)r * K;
        __m256i a0 = _mm256_setzero_si256();
        for (int k = 0; k < K; k += 32) {
            __m256i s = _mm256_loadu_si256((const __m256i *)(xq + k));
            __m256i u = _mm256_loadu_si256((const __m256i *)(ax + k));
            __m256i v0 = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)(w0 + k)), s);
            a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_maddubs_epi16(u, v0), ones));
        }
        out[r] = (float)hsum_epi32(a0) * sx * ws[r];
    }
}

/* This thread's share of rows 0..n, in whole groups of 4. */
static inline void share(int n, int *r0, int *r1) {
    int nt = omp_get_num_threads(), t = omp_get_thread_num();
    int groups = (n + 3) / 4;
    int g0 = (int)((long)groups * t / nt), g1 = (int)((long)groups * (t + 1) / nt);
    *r0 = g0 * 4 < n ? g0 * 4 : n;
    *r1 = g1 * 4 < n ? g1 * 4 : n;
}

/* This thread's rows of out = W x, then a barrier; called inside the parallel region. */
static void product(const int8_t *W, const float *ws, int n, int K, const int8_t *xq, const uint8_t *ax, float sx,
                    float *out) {
    int r0, r1;
    share(n, &r0, &r1);
    qgemv(W, ws, K, r0, r1, xq, ax, sx, out);
#pragma omp barrier
}

/* HF Llama RoPE (rotate_half convention) of one head vector in place. */
static void rope(float *v, const float *cs, const float *sn, int hd) {
    int h = hd / 2;
    for (int j = 0; j < h; j++) {
        float a = v[j], b = v[j + h];
        v[j] = a * cs[j] - b * sn[j];
        v[j + h] = b * cs[j + h] + a * sn[j + h];
    }
}

/* scores[j * T + t] = scale * q_j . K[t] for the `group` query heads of one KV head, t in t0..t1.
 * Eight positions at a time: eight dot products reduced together (hadd tree) instead of a
 * horizontal sum each, which had left attention at half the products' memory rate. */
static inline __m256 ld16(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

static void qk_block(const float *q, int group, const uint16_t *kg, int hd, int t0, int t1, float scale, float *scores,
                     int T) {
    const __m256 vs = _mm256_set1_ps(scale);
    int t = t0;
    for (; t + 8 <= t1; t += 8) {
        const uint16_t *k0 = kg + (size_t)t * hd;
        _mm_prefetch((const char *)(k0 + 16 * hd), _MM_HINT_T0);
        _mm_prefetch((const char *)(k0 + 16 * hd + 32), _MM_HINT_T0);
        for (int j = 0; j < group; j++) {
            const float *qj = q + (size_t)j * hd;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
            for (int e = 0; e < hd; e += 8) {
                __m256 qv = _mm256_loadu_ps(qj + e);
                a0 = _mm256_fmadd_ps(qv, ld16(k0 + e), a0);
                a1 = _mm256_fmadd_ps(qv, ld16(k0 + hd + e), a1);
                a2 = _mm256_fmadd_ps(qv, ld16(k0 + 2 * hd + e), a2);
                a3 = _mm256_fmadd_ps(qv, ld16(k0 + 3 * hd + e), a3);
                a4 = _mm256_fmadd_ps(qv, ld16(k0 + 4 * hd + e), a4);
                a5 = _mm256_fmadd_ps(qv, ld16(k0 + 5 * hd + e), a5);
                a6 = _mm256_fmadd_ps(qv, ld16(k0 + 6 * hd + e), a6);
                a7 = _mm256_fmadd_ps(qv, ld16(k0 + 7 * hd + e), a7);
            }
            __m256 s0123 = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
            __m256 s4567 = _mm256_hadd_ps(_mm256_hadd_ps(a4, a5), _mm256_hadd_ps(a6, a7));
            __m256 sum = _mm256_add_ps(_mm256_permute2f128_ps(s0123, s4567, 0x20),
                                       _mm256_permute2f128_ps(s0123, s4567, 0x31));
            _mm256_storeu_ps(scores + (size_t)j * T + t, _mm256_mul_ps(sum, vs));
        }
    }
    for (; t < t1; t++) {
        const uint16_t *kr = kg + (size_t)t * hd;
        for (int j = 0; j < group; j++) {
            __m256 acc = _mm256_setzero_ps();
            for (int e = 0; e < hd; e += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + (size_t)j * hd + e), ld16(kr + e), acc);
            scores[(size_t)j * T + t] = hsum_ps(acc) * scale;
        }
    }
}

/* out[j] = sum_t p[j * T + t] V[t] for the group's heads over t0..t1: one pass over the block
 * per head, 64 (or 16) output values in registers. */
static void pv_block(const float *p, int group, int T, const uint16_t *vg, int hd, int t0, int t1, float *out) {
    for (int j = 0; j < group; j++) {
        const float *pj = p + (size_t)j * T;
        float *o = out + (size_t)j * hd;
        if (hd % 64 == 0) {
            for (int e = 0; e < hd; e += 64) {
                __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
                for (int t = t0; t < t1; t++) {
                    __m256 w = _mm256_broadcast_ss(pj + t);
                    const uint16_t *vr = vg + (size_t)t * hd + e;
                    a0 = _mm256_fmadd_ps(w, ld16(vr), a0);
                    a1 = _mm256_fmadd_ps(w, ld16(vr + 8), a1);
                    a2 = _mm256_fmadd_ps(w, ld16(vr + 16), a2);
                    a3 = _mm256_fmadd_ps(w, ld16(vr + 24), a3);
                    a4 = _mm256_fmadd_ps(w, ld16(vr + 32), a4);
                    a5 = _mm256_fmadd_ps(w, ld16(vr + 40), a5);
                    a6 = _mm256_fmadd_ps(w, ld16(vr + 48), a6);
                    a7 = _mm256_fmadd_ps(w, ld16(vr + 56), a7);
                }
                _mm256_storeu_ps(o + e, a0);
                _mm256_storeu_ps(o + e + 8, a1);
                _mm256_storeu_ps(o + e + 16, a2);
                _mm256_storeu_ps(o + e + 24, a3);
                _mm256_storeu_ps(o + e + 32, a4);
                _mm256_storeu_ps(o + e + 40, a5);
                _mm256_storeu_ps(o + e + 48, a6);
                _mm256_storeu_ps(o + e + 56, a7);
            }
        } else {
            for (int e = 0; e < hd; e += 16) {
                __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
                for (int t = t0; t < t1; t++) {
                    __m256 w = _mm256_broadcast_ss(pj + t);
                    const uint16_t *vr = vg + (size_t)t * hd + e;
                    a = _mm256_fmadd_ps(w, ld16(vr), a);
                    b = _mm256_fmadd_ps(w, ld16(vr + 8), b);
                }
                _mm256_storeu_ps(o + e, a);
                _mm256_storeu_ps(o + e + 8, b);
            }
        }
    }
}

/*
 * Feed one token at position `pos` (the caches hold positions 0..pos-1 and get this one).
 * logits may be NULL (no output head). Returns 0, or a negative code for an unsupported
 * shape (then nothing was written).
 */
int hb_step(const hb_dims *d, const hb_layer *layers, const float *final_norm, const int8_t *lm, const float *lm_s,
            const float *emb_row, uint16_t *kcache, uint16_t *vcache, const float *cos_row, const float *sin_row, int pos,
            float *logits, int n_threads) {
    const int H = d->hidden, nh = d->n_heads, nkv = d->n_kv, hd = d->head_dim, I = d->inter;
    const int T = pos + 1, group = nh / nkv, nqkv = (nh + 2 * nkv) * hd;
    if (H % 32 || I % 32 || hd % 16 || nh % nkv || nh * hd != H || pos < 0 || pos >= d->cap) return -1;
    const int nblocks = (T + BLOCK_T - 1) / BLOCK_T, ntasks = nkv * nblocks;
    const int maxk = I > H ? I : H;
    size_t floats = (size_t)H * 3 + nqkv + 2 * I + (size_t)nh * T + (size_t)ntasks * group * hd;
    float *buf = (float *)aligned_alloc(64, ((floats * sizeof(float) + 2 * (size_t)maxk) + 63) / 64 * 64);
    if (!buf) return -2;
    float *x = buf, *h = x + H, *att = h + H, *qkv = att + H, *gu = qkv + nqkv, *scores = gu + 2 * I;
    float *part = scores + (size_t)nh * T;
    int8_t *xq = (int8_t *)(part + (size_t)ntasks * group * hd);
    uint8_t *ax = (uint8_t *)(xq + maxk);
    const float scale = 1.0f / sqrtf((float)hd);
    float sx = 0.0f;
    memcpy(x, emb_row, sizeof(float) * H);

#pragma omp parallel num_threads(n_threads)
    {
        for (int l = 0; l < d->n_layers; l++) {
            const hb_layer *L = layers + l;
            uint16_t *kc = kcache + (size_t)l * nkv * d->cap * hd, *vc = vcache + (size_t)l * nkv * d->cap * hd;
#pragma omp single
            {
                rmsnorm(x, L->norm1, d->eps, H, h);
                sx = quantize(h, H, xq, ax);
            }
            product(L->qkv, L->qkv_s, nqkv, H, xq, ax, sx, qkv);
#pragma omp single
            {
                for (int i = 0; i < nh + nkv; i++) rope(qkv + i * hd, cos_row, sin_row, hd);
                for (int g = 0; g < nkv; g++) /* round to nearest even, as torch's float -> half */
                    for (int e = 0; e < hd; e += 8) {
                        _mm_storeu_si128((__m128i *)(kc + ((size_t)g * d->cap + pos) * hd + e),
                                         _mm256_cvtps_ph(_mm256_loadu_ps(qkv + (nh + g) * hd + e), _MM_FROUND_TO_NEAREST_INT));
                        _mm_storeu_si128((__m128i *)(vc + ((size_t)g * d->cap + pos) * hd + e),
                                         _mm256_cvtps_ph(_mm256_loadu_ps(qkv + (nh + nkv + g) * hd + e), _MM_FROUND_TO_NEAREST_INT));
                    }
            }
            /* scores[head, t] = scale * q_head . K[t] */
#pragma omp for schedule(static)
            for (int task = 0; task < ntasks; task++) {
                int g = task / nblocks, t0 = (task % nblocks) * BLOCK_T, t1 = t0 + BLOCK_T < T ? t0 + BLOCK_T : T;
                qk_block(qkv + (size_t)g * group * hd, group, kc + (size_t)g * d->cap * hd, hd, t0, t1, scale,
                         scores + (size_t)g * group * T, T);
            }
            /* softmax per query head */
#pragma omp for schedule(static)
            for (int i = 0; i < nh; i++) {
                float *s = scores + (size_t)i * T, mx = -INFINITY, sum = 0.0f;
                for (int t = 0; t < T; t++) mx = s[t] > mx ? s[t] : mx;
                __m256 vm = _mm256_set1_ps(mx), vs = _mm256_setzero_ps();
                int t = 0;
                for (; t + 8 <= T; t += 8) {
                    __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(s + t), vm));
                    _mm256_storeu_ps(s + t, e);
                    vs = _mm256_add_ps(vs, e);
                }
                sum = hsum_ps(vs);
                for (; t < T; t++) {
                    s[t] = expf(s[t] - mx);
                    sum += s[t];
                }
                float inv = 1.0f / sum;
                for (t = 0; t < T; t++) s[t] *= inv;
            }
            /* partial weighted sums of V per task */
#pragma omp for schedule(static)
            for (int task = 0; task < ntasks; task++) {
                int g = task / nblocks, t0 = (task % nblocks) * BLOCK_T, t1 = t0 + BLOCK_T < T ? t0 + BLOCK_T : T;
                pv_block(scores + (size_t)g * group * T, group, T, vc + (size_t)g * d->cap * hd, hd, t0, t1,
                         part + (size_t)task * group * hd);
            }
#pragma omp single
            {
                memset(att, 0, sizeof(float) * H);
                for (int task = 0; task < ntasks; task++) {
                    int g = task / nblocks;
                    const float *src = part + (size_t)task * group * hd;
                    float *dst = att + (size_t)g * group * hd;
                    for (int i = 0; i < group * hd; i++) dst[i] += src[i];
                }
                sx = quantize(att, H, xq, ax);
            }
            product(L->o, L->o_s, H, H, xq, ax, sx, h);
#pragma omp single
            {
                for (int i = 0; i < H; i++) x[i] += h[i];
                rmsnorm(x, L->norm2, d->eps, H, h);
                sx = quantize(h, H, xq, ax);
            }
            product(L->gate_up, L->gate_up_s, 2 * I, H, xq, ax, sx, gu);
#pragma omp single
            {
                const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
                for (int i = 0; i < I; i += 8) {
                    __m256 g = _mm256_loadu_ps(gu + i);
                    __m256 sg = _mm256_div_ps(g, _mm256_add_ps(one, exp256(_mm256_sub_ps(zero, g))));
                    _mm256_storeu_ps(gu + i, _mm256_mul_ps(sg, _mm256_loadu_ps(gu + I + i)));
                }
                sx = quantize(gu, I, xq, ax);
            }
            product(L->down, L->down_s, H, I, xq, ax, sx, h);
#pragma omp single
            {
                for (int i = 0; i < H; i++) x[i] += h[i];
            }
        }
        if (logits) {
#pragma omp single
            {
                rmsnorm(x, final_norm, d->eps, H, h);
                sx = quantize(h, H, xq, ax);
            }
            product(lm, lm_s, d->vocab, H, xq, ax, sx, logits);
        }
    }
    free(buf);
    return 0;
}

/* out = W x for an int8 matrix W [n, k] with per-row scales, x quantized as in hb_step. */
int hb_matvec(const int8_t *W, const float *ws, int n, int k, const float *x, float *out, int n_threads) {
    if (k % 32 || n < 0) return -1;
    int8_t *xq = (int8_t *)aligned_alloc(64, ((size_t)2 * k + 63) / 64 * 64);
    if (!xq) return -2;
    uint8_t *ax = (uint8_t *)(xq + k);
    float sx = quantize(x, k, xq, ax);
#pragma omp parallel num_threads(n_threads)
    product(W, ws, n, k, xq, ax, sx, out);
    free(xq);
    return 0;
}

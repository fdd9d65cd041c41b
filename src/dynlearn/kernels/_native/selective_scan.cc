// Mamba's selective scan, forward and backward, as CPU kernels called through XLA's FFI
// (issue #23 item 2). Built by hatch_build.py at install time (x86-64 only, -march=x86-64-v3),
// loaded and registered by dynlearn/kernels/_native/__init__.py, called by
// dynlearn/kernels/_selective_scan_native.py. See docs/kernels.md.
//
// Real float32 only. Shapes: u, delta (..., L, D); A (D, N) shared by the batch, or (..., D, N)
// one per batch element (what jax.vmap's "broadcast_all" gives); B, C (..., L, N); h0 (..., D, N);
// the leading dimensions ("...") are flattened into one batch of Bt sequences. D a multiple of
// W: vectorized across channels, W channels per vector, with GCC's vector extensions (W = 8 fills
// an AVX2 register; build with -march=x86-64-v3; a baseline x86-64 build needs -DSELSCAN_W=4).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

#ifndef SELSCAN_W
#define SELSCAN_W 8
#endif
constexpr int W = SELSCAN_W;
typedef float vf __attribute__((vector_size(W * 4)));
typedef int32_t vi __attribute__((vector_size(W * 4)));

static inline vf splat(float x) { return vf{} + x; }
static inline vf loadu(const float* p) { vf v; std::memcpy(&v, p, sizeof(v)); return v; }
static inline void storeu(float* p, vf v) { std::memcpy(p, &v, sizeof(v)); }

// exp(x): x = k ln2 + r with |r| <= ln2/2; e^r by a degree-5 polynomial (coefficients fitted
// here to the relative error, max 9e-8 on the interval), 2^k by building the exponent bits.
// x is clamped to [-87, 88]: below, the result is exp(-87) ~ 1.6e-38 instead of a smaller
// number or zero (no effect on a state update at float32 precision).
static inline vf vexp(vf x) {
  x = x < splat(-87.0f) ? splat(-87.0f) : x;
  x = x > splat(88.0f) ? splat(88.0f) : x;
  const vf magic = splat(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  vf t = x * splat(1.44269504088896341f) + magic;
  vf k = t - magic;
  vi ki = (vi)t - (vi)magic;
  vf r = x - k * splat(0.693145751953125f);
  r = r - k * splat(1.428606765330187e-06f);
  vf p = splat(0.008290315046906471f);
  p = p * r + splat(0.04189793020486832f);
  p = p * r + splat(0.1666763573884964f);
  p = p * r + splat(0.4999915063381195f);
  p = p * r + splat(0.9999997019767761f);
  p = p * r + splat(1.0f);
  vi bits = (ki + 127) << 23;
  return p * (vf)bits;
}

// Sizes of a call: Bt sequences of L steps, D channels, N states; A shared or one per sequence.
struct Sizes {
  int64_t Bt, L, D, N;
  bool a_batched;
};

static int64_t Count(ffi::Buffer<ffi::F32>& x) { return static_cast<int64_t>(x.element_count()); }

// Reads the sizes from u (..., L, D) and A (D, N) or (..., D, N), and checks that every input
// has the element count they imply; returns an error message, empty if the shapes fit.
static std::string GetSizes(ffi::Buffer<ffi::F32>& u, ffi::Buffer<ffi::F32>& delta,
                            ffi::Buffer<ffi::F32>& A, ffi::Buffer<ffi::F32>& Bm,
                            ffi::Buffer<ffi::F32>& Cm, ffi::Buffer<ffi::F32>& h0, Sizes& s) {
  auto ud = u.dimensions();
  auto ad = A.dimensions();
  if (ud.size() < 2 || ad.size() < 2) return "u and A need at least two dimensions";
  s.L = ud[ud.size() - 2];
  s.D = ud[ud.size() - 1];
  s.N = ad[ad.size() - 1];
  if (s.L < 1 || s.D < 1 || s.N < 1) return "empty sequence, channels or states";
  s.Bt = Count(u) / (s.L * s.D);
  s.a_batched = ad.size() > 2;
  if (s.D % W) return "channels must be a multiple of the vector width";
  if (Count(delta) != Count(u) || Count(A) != (s.a_batched ? s.Bt : 1) * s.D * s.N ||
      Count(Bm) != s.Bt * s.L * s.N || Count(Cm) != Count(Bm) || Count(h0) != s.Bt * s.D * s.N)
    return "inconsistent shapes";
  return "";
}

// A of sequence b, (D, N) row-major, into (N, D/W) vectors.
static void LoadA(const float* pA, const Sizes& s, int64_t b, std::vector<vf>& At) {
  const int64_t nb = s.D / W;
  const float* a = pA + (s.a_batched ? b * s.D * s.N : 0);
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t c = 0; c < nb; ++c)
      for (int l = 0; l < W; ++l) At[n * nb + c][l] = a[(c * W + l) * s.N + n];
}

// Forward: per batch element, time outer, channel blocks inner; the (D, N) state lives in an
// (N, D)-ordered buffer so that each (n, block) is one vector.
ffi::Error Forward(ffi::Buffer<ffi::F32> u, ffi::Buffer<ffi::F32> delta, ffi::Buffer<ffi::F32> A,
                   ffi::Buffer<ffi::F32> Bm, ffi::Buffer<ffi::F32> Cm, ffi::Buffer<ffi::F32> h0,
                   ffi::ResultBuffer<ffi::F32> y, ffi::ResultBuffer<ffi::F32> hlast) {
  Sizes s;
  std::string bad = GetSizes(u, delta, A, Bm, Cm, h0, s);
  if (!bad.empty()) return ffi::Error::InvalidArgument("selective scan forward: " + bad);
  const int64_t Bt = s.Bt, L = s.L, D = s.D, N = s.N;
  const float* pu = u.typed_data(); const float* pd = delta.typed_data();
  const float* pA = A.typed_data(); const float* pB = Bm.typed_data();
  const float* pC = Cm.typed_data(); const float* ph0 = h0.typed_data();
  float* py = y->typed_data(); float* phl = hlast->typed_data();
  const int64_t nb = D / W;
  std::vector<vf> At(N * nb), h(N * nb);
  for (int64_t b = 0; b < Bt; ++b) {
    if (b == 0 || s.a_batched) LoadA(pA, s, b, At);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < nb; ++c)
        for (int l = 0; l < W; ++l) h[n * nb + c][l] = ph0[(b * D + c * W + l) * N + n];
    for (int64_t t = 0; t < L; ++t) {
      const int64_t row = (b * L + t) * D;
      const float* Bt_ = pB + (b * L + t) * N;
      const float* Ct_ = pC + (b * L + t) * N;
      for (int64_t c = 0; c < nb; ++c) {
        vf dv = loadu(pd + row + c * W);
        vf du = dv * loadu(pu + row + c * W);
        vf acc = splat(0.0f);
        for (int64_t n = 0; n < N; ++n) {
          vf& hn = h[n * nb + c];
          hn = vexp(dv * At[n * nb + c]) * hn + du * Bt_[n];
          acc += hn * Ct_[n];
        }
        storeu(py + row + c * W, acc);
      }
    }
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < nb; ++c)
        for (int l = 0; l < W; ++l) phl[(b * D + c * W + l) * N + n] = h[n * nb + c][l];
  }
  return ffi::Error::Success();
}

// Backward: cotangents of (u, delta, A, B, C, h0) from those of (y, last state).
// Per batch element: a forward sweep keeps the state at chunk entries (every K steps); then
// chunks from the last: recompute the chunk's states and exp(delta A) into buffers (L2-sized),
// and run the adjoint recurrence mu_t = C_t gy_t + exp(delta_{t+1} A) mu_{t+1} backwards,
// accumulating every gradient in the same pass.
constexpr int64_t K = 16;
ffi::Error Backward(ffi::Buffer<ffi::F32> u, ffi::Buffer<ffi::F32> delta, ffi::Buffer<ffi::F32> A,
                    ffi::Buffer<ffi::F32> Bm, ffi::Buffer<ffi::F32> Cm, ffi::Buffer<ffi::F32> h0,
                    ffi::Buffer<ffi::F32> gy, ffi::Buffer<ffi::F32> ghl,
                    ffi::ResultBuffer<ffi::F32> gu, ffi::ResultBuffer<ffi::F32> gd,
                    ffi::ResultBuffer<ffi::F32> gA, ffi::ResultBuffer<ffi::F32> gB,
                    ffi::ResultBuffer<ffi::F32> gC, ffi::ResultBuffer<ffi::F32> gh0) {
  Sizes s;
  std::string bad = GetSizes(u, delta, A, Bm, Cm, h0, s);
  if (!bad.empty()) return ffi::Error::InvalidArgument("selective scan backward: " + bad);
  const int64_t Bt = s.Bt, L = s.L, D = s.D, N = s.N;
  const float* pu = u.typed_data(); const float* pd = delta.typed_data();
  const float* pA = A.typed_data(); const float* pB = Bm.typed_data();
  const float* pC = Cm.typed_data(); const float* ph0 = h0.typed_data();
  const float* pgy = gy.typed_data(); const float* pghl = ghl.typed_data();
  float* pgu = gu->typed_data(); float* pgd = gd->typed_data(); float* pgA = gA->typed_data();
  float* pgB = gB->typed_data(); float* pgC = gC->typed_data(); float* pgh0 = gh0->typed_data();
  const int64_t nb = D / W, S = N * nb;  // S vectors per state
  const int64_t nchunks = (L + K - 1) / K;
  std::vector<vf> At(S), h(S), mu(S), gAv(S, splat(0.0f));
  std::vector<vf> entries(nchunks * S), hs((K + 1) * S), dAs(K * S);
  std::vector<vf> gBv(N), gCv(N);
  for (int64_t b = 0; b < Bt; ++b) {
    if (b == 0 || s.a_batched) LoadA(pA, s, b, At);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < nb; ++c)
        for (int l = 0; l < W; ++l) {
          h[n * nb + c][l] = ph0[(b * D + c * W + l) * N + n];
          mu[n * nb + c][l] = pghl[(b * D + c * W + l) * N + n];
        }
    // Forward sweep: chunk-entry states only.
    for (int64_t t = 0; t < L; ++t) {
      if (t % K == 0) std::memcpy(&entries[(t / K) * S], h.data(), S * sizeof(vf));
      const int64_t row = (b * L + t) * D;
      const float* Bt_ = pB + (b * L + t) * N;
      for (int64_t c = 0; c < nb; ++c) {
        vf dv = loadu(pd + row + c * W);
        vf du = dv * loadu(pu + row + c * W);
        for (int64_t n = 0; n < N; ++n) {
          vf& hn = h[n * nb + c];
          hn = vexp(dv * At[n * nb + c]) * hn + du * Bt_[n];
        }
      }
    }
    // mu holds rho = dL/dh_t carried from later steps (starts at the last state's cotangent).
    for (int64_t ch = nchunks - 1; ch >= 0; --ch) {
      const int64_t t0 = ch * K, t1 = std::min(L, t0 + K);
      std::memcpy(&hs[0], &entries[ch * S], S * sizeof(vf));
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t row = (b * L + t) * D, k = t - t0;
        const float* Bt_ = pB + (b * L + t) * N;
        for (int64_t c = 0; c < nb; ++c) {
          vf dv = loadu(pd + row + c * W);
          vf du = dv * loadu(pu + row + c * W);
          for (int64_t n = 0; n < N; ++n) {
            const int64_t i = n * nb + c;
            vf dA = vexp(dv * At[i]);
            dAs[k * S + i] = dA;
            hs[(k + 1) * S + i] = dA * hs[k * S + i] + du * Bt_[n];
          }
        }
      }
      for (int64_t t = t1 - 1; t >= t0; --t) {
        const int64_t row = (b * L + t) * D, k = t - t0;
        const float* Bt_ = pB + (b * L + t) * N;
        const float* Ct_ = pC + (b * L + t) * N;
        for (int64_t n = 0; n < N; ++n) gBv[n] = gCv[n] = splat(0.0f);
        for (int64_t c = 0; c < nb; ++c) {
          vf dv = loadu(pd + row + c * W);
          vf uv = loadu(pu + row + c * W);
          vf gyv = loadu(pgy + row + c * W);
          vf du = dv * uv;
          vf muB = splat(0.0f), xA = splat(0.0f);
          for (int64_t n = 0; n < N; ++n) {
            const int64_t i = n * nb + c;
            vf m = mu[i] + gyv * Ct_[n];
            vf dA = dAs[k * S + i];
            vf x = m * hs[k * S + i] * dA;  // cotangent of dA's exponent / ... times h_prev
            xA += x * At[i];
            gAv[i] += x * dv;
            muB += m * Bt_[n];
            gBv[n] += m * du;
            gCv[n] += hs[(k + 1) * S + i] * gyv;
            mu[i] = dA * m;
          }
          storeu(pgd + row + c * W, xA + muB * uv);
          storeu(pgu + row + c * W, muB * dv);
        }
        float* gBt = pgB + (b * L + t) * N;
        float* gCt = pgC + (b * L + t) * N;
        for (int64_t n = 0; n < N; ++n) {
          float sb = 0, sc = 0;
          for (int l = 0; l < W; ++l) { sb += gBv[n][l]; sc += gCv[n][l]; }
          gBt[n] = sb; gCt[n] = sc;
        }
      }
    }
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < nb; ++c)
        for (int l = 0; l < W; ++l) pgh0[(b * D + c * W + l) * N + n] = mu[n * nb + c][l];
    // A's cotangent: one per sequence if A is, else summed over the batch.
    if (s.a_batched || b == Bt - 1) {
      float* ga = pgA + (s.a_batched ? b * D * N : 0);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < nb; ++c)
          for (int l = 0; l < W; ++l) ga[(c * W + l) * N + n] = gAv[n * nb + c][l];
      std::fill(gAv.begin(), gAv.end(), splat(0.0f));
    }
  }
  return ffi::Error::Success();
}

XLA_FFI_DEFINE_HANDLER_SYMBOL(SelScanForward, Forward,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(SelScanBackward, Backward,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>());


// Whether this CPU runs the instructions the library was built for (x86-64-v3: AVX2, FMA, BMI2,
// ...). Compiled for baseline x86-64, so that calling it is safe on any x86-64 CPU; the loader
// calls it before registering the handlers.
extern "C" __attribute__((target("arch=x86-64"))) int dynlearn_selscan_cpu_ok() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("f16c");
}

#ifndef DYNLEARN_JAXLIB_VERSION
#define DYNLEARN_JAXLIB_VERSION "unknown"
#endif
// The jaxlib version whose FFI headers built the library (set by hatch_build.py).
extern "C" const char* dynlearn_selscan_jaxlib_version() { return DYNLEARN_JAXLIB_VERSION; }

// Native tfjs kernels on libtorch's ATen (C N-API, no node-addon-api needed).
//
// Every entry point is synchronous: it receives tfjs' Float32Arrays, wraps them
// zero-copy with at::from_blob (NHWC data exposed to ATen as a channels_last
// NCHW tensor, tfjs filter layouts exposed through strides), runs ATen and returns
// a new JS typed array (ATen writes into it directly where an out= variant exists,
// otherwise the result is copied once). The JS side computes all shapes/padding
// (tfjs' computeConv2DInfo), so this file only checks element counts.
#define NAPI_VERSION 8
#include <node_api.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/CPUAllocator.h>
#include <torch/csrc/api/include/torch/version.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <sched.h>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <malloc.h>
#include <mutex>
#include <sstream>
#include <sys/mman.h>
#include <unistd.h>
#include <limits>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace {

struct JsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

#define NAPI_OK(call)                                             \
  do {                                                            \
    if ((call) != napi_ok) throw JsError("N-API call failed: " #call); \
  } while (0)

const auto kF32 = at::TensorOptions().dtype(at::kFloat);

struct F32 {
  float* data = nullptr;
  size_t len = 0;
  bool present = false;
};

F32 getF32(napi_env env, napi_value v, const char* what, bool optional = false) {
  F32 out;
  napi_valuetype t;
  NAPI_OK(napi_typeof(env, v, &t));
  if (t == napi_null || t == napi_undefined) {
    if (!optional) throw JsError(std::string(what) + ": Float32Array required");
    return out;
  }
  bool isTa = false;
  NAPI_OK(napi_is_typedarray(env, v, &isTa));
  if (!isTa) throw JsError(std::string(what) + ": Float32Array required");
  napi_typedarray_type type;
  void* data;
  napi_value ab;
  size_t off;
  NAPI_OK(napi_get_typedarray_info(env, v, &type, &out.len, &data, &ab, &off));
  if (type != napi_float32_array) throw JsError(std::string(what) + ": Float32Array required");
  out.data = static_cast<float*>(data);
  out.present = true;
  return out;
}

std::vector<int64_t> getInts(napi_env env, napi_value v, const char* what) {
  bool isArr = false;
  NAPI_OK(napi_is_array(env, v, &isArr));
  if (!isArr) throw JsError(std::string(what) + ": number[] required");
  uint32_t n;
  NAPI_OK(napi_get_array_length(env, v, &n));
  std::vector<int64_t> out(n);
  for (uint32_t i = 0; i < n; ++i) {
    napi_value e;
    double d;
    NAPI_OK(napi_get_element(env, v, i, &e));
    NAPI_OK(napi_get_value_double(env, e, &d));
    out[i] = static_cast<int64_t>(d);
  }
  return out;
}

double getNum(napi_env env, napi_value v) {
  double d;
  NAPI_OK(napi_get_value_double(env, v, &d));
  return d;
}

int64_t numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

void checkLen(const F32& a, const std::vector<int64_t>& shape, const char* what) {
  if (static_cast<int64_t>(a.len) != numel(shape))
    throw JsError(std::string(what) + ": length does not match shape");
}

// Caching allocator for ATen's own tensors (conv outputs before they are copied to JS, padded
// inputs, weight reorders). Each op frees them at once, and the next op asks for the same sizes:
// with glibc they shared the heap with the long-lived pooled JS buffers, and the holes they left
// grew peak RSS by 300-500 MB (MobileNetV2 training). Here blocks of >= 256 KB are mmap'd outside
// the heap and cached by exact size (bounded by TL_TORCH_CACHE_MB, default 256); smaller ones use
// malloc. Thread-safe: ATen may allocate from its OpenMP workers.
class CachingCpuAllocator final : public c10::Allocator {
 public:
  static constexpr size_t kHeader = 64;  // keeps the 64-byte alignment ATen and oneDNN expect
  static constexpr size_t kMinCached = 256 * 1024;
  static constexpr size_t kMaxPerSize = 32;

  explicit CachingCpuAllocator(size_t cap) : cap_(cap) {}

  c10::DataPtr allocate(size_t n) const override {
    if (hint.ptr && n == hint.bytes) {
      // The JS output buffer this op will return: ATen writes the result straight into it (see OutputInto).
      void* p = hint.ptr;
      hint = {};
      std::lock_guard<std::mutex> lock(lentMu_);
      lent_.insert(p);
      return {p, p, &Delete, c10::Device(c10::DeviceType::CPU)};
    }
    void* p = Alloc(n);
    return {p, p, &Delete, c10::Device(c10::DeviceType::CPU)};
  }

  // Set around one ATen call on the JS thread: the first allocation of exactly `bytes` gets `ptr`.
  struct Hint {
    void* ptr = nullptr;
    size_t bytes = 0;
  };
  static thread_local Hint hint;
  c10::DeleterFnPtr raw_deleter() const override { return &Delete; }

  static CachingCpuAllocator* instance;

 private:
  static size_t MappedSize(size_t n) { return (n + kHeader + 4095) & ~static_cast<size_t>(4095); }

  static void* Alloc(size_t n) {
    if (n == 0) return nullptr;
    char* base = nullptr;
    if (n >= kMinCached) {
      base = instance->TakeCached(n);
      if (!base) {
        void* m = mmap(nullptr, MappedSize(n), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) throw std::bad_alloc();
        base = static_cast<char*>(m);
      }
    } else {
      void* m = nullptr;
      if (posix_memalign(&m, kHeader, n + kHeader) != 0) throw std::bad_alloc();
      base = static_cast<char*>(m);
    }
    *reinterpret_cast<size_t*>(base) = n;
    return base + kHeader;
  }

  static void Delete(void* p) {
    if (!p) return;
    {
      std::lock_guard<std::mutex> lock(lentMu_);
      if (lent_.erase(p)) return;  // JS memory lent to ATen: not ours to free
    }
    char* base = static_cast<char*>(p) - kHeader;
    const size_t n = *reinterpret_cast<size_t*>(base);
    if (n < kMinCached) {
      std::free(base);
    } else if (!instance->Keep(n, base)) {
      munmap(base, MappedSize(n));
    }
  }

  char* TakeCached(size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find(n);
    if (it == free_.end() || it->second.empty()) return nullptr;
    char* b = it->second.back();
    it->second.pop_back();
    bytes_ -= n;
    return b;
  }

  bool Keep(size_t n, char* base) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& list = free_[n];
    if (bytes_ + n > cap_ || list.size() >= kMaxPerSize) return false;
    list.push_back(base);
    bytes_ += n;
    return true;
  }

  size_t cap_;
  size_t bytes_ = 0;
  std::mutex mu_;
  static std::mutex lentMu_;
  static std::unordered_set<void*> lent_;
  std::unordered_map<size_t, std::vector<char*>> free_;
};
CachingCpuAllocator* CachingCpuAllocator::instance = nullptr;
thread_local CachingCpuAllocator::Hint CachingCpuAllocator::hint;
std::mutex CachingCpuAllocator::lentMu_;
std::unordered_set<void*> CachingCpuAllocator::lent_;

// Outputs live in ordinary JS ArrayBuffers that ATen writes into. (External buffers owning
// ATen tensors would avoid a copy, but Node defers N-API finalizers to the event loop, so
// a synchronous training loop would never free them: RSS grew to GBs.)
//
// Output-buffer pool: the JS backend hands back (recycle) the ArrayBuffers of tensors tfjs has
// disposed, and outputs of the same byte size reuse them. A training step allocates the same
// activation sizes every iteration; without the pool each one was fresh memory, freed only at
// the next V8 GC: page faults, cold caches and frequent GCs (~2x the ATen time per op, measured).
// Per env (worker threads each get their own), bounded by TL_TORCH_POOL_MB (0 = off). The default,
// an eighth of physical memory between 512 MB and 2 GB, holds one whole training step of MobileNetV2
// at 224 px, batch 16 (~1.2 GB of outputs): with 512 MB most outputs missed the pool, and the fresh
// buffers' external-memory pressure forced a V8 mark-compact every ~50 ms (30 vs 53 img/s measured).
// Peak RSS was the same with either cap: the dead buffers a smaller pool drops wait for the GC anyway.
struct BufferPool {
  std::unordered_map<size_t, std::vector<napi_ref>> free;
  size_t bytes = 0;
  size_t cap = 0;
  size_t hits = 0, misses = 0, recycled = 0, dropped = 0;
  size_t direct = 0, copied = 0;  // convolution outputs computed straight into their JS buffer, or copied there
};
constexpr size_t kPoolMinBytes = 64 * 1024;  // smaller buffers are cheap to malloc and stay in cache
constexpr size_t kPoolMaxPerSize = 64;

BufferPool* poolOf(napi_env env) {
  void* data = nullptr;
  if (napi_get_instance_data(env, &data) != napi_ok) return nullptr;
  return static_cast<BufferPool*>(data);
}

// A pooled ArrayBuffer of exactly `bytes`, or nullptr.
void* takePooled(napi_env env, size_t bytes, napi_value* ab) {
  BufferPool* pool = poolOf(env);
  if (!pool || bytes < kPoolMinBytes) return nullptr;
  auto it = pool->free.find(bytes);
  while (it != pool->free.end() && !it->second.empty()) {
    napi_ref ref = it->second.back();
    it->second.pop_back();
    pool->bytes -= bytes;
    napi_value v = nullptr;
    napi_get_reference_value(env, ref, &v);
    napi_delete_reference(env, ref);
    void* data = nullptr;
    size_t len = 0;
    if (v && napi_get_arraybuffer_info(env, v, &data, &len) == napi_ok && len == bytes && data) {
      ++pool->hits;
      *ab = v;
      return data;
    }
  }
  ++pool->misses;
  return nullptr;
}

napi_value newJs(napi_env env, at::IntArrayRef shape, bool isBool, at::Tensor& dst) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  const int64_t esz = isBool ? 1 : 4;
  const size_t bytes = static_cast<size_t>(n * esz);
  napi_value ab, ta;
  void* data = takePooled(env, bytes, &ab);
  if (!data) {
    // A Node Buffer's memory is not zero-filled (every element is overwritten by the caller);
    // its ArrayBuffer is ordinary V8-owned memory, freed by GC without N-API finalizers.
    napi_value buf;
    NAPI_OK(napi_create_buffer(env, bytes, &data, &buf));
    napi_typedarray_type type;
    size_t len, off;
    void* d2;
    NAPI_OK(napi_get_typedarray_info(env, buf, &type, &len, &d2, &ab, &off));
    if (off != 0) throw JsError("newJs: unexpected Buffer offset");
  }
  NAPI_OK(napi_create_typedarray(env, isBool ? napi_uint8_array : napi_float32_array, n, ab, 0, &ta));
  static float dummy[1];
  dst = at::from_blob(n ? data : dummy, shape, at::TensorOptions().dtype(isBool ? at::kBool : at::kFloat));
  return ta;
}

// Copies `t` (any strides; float or bool) into a new row-major JS typed array.
napi_value toJs(napi_env env, const at::Tensor& t) {
  at::Tensor dst;
  napi_value out = newJs(env, t.sizes(), t.scalar_type() == at::kBool, dst);
  if (t.numel()) dst.copy_(t);
  return out;
}

// A new JS float array for an NHWC result of `nhwcShape`, with ATen asked to compute the result into it:
// `run` is called while the caching allocator lends the JS memory to the first ATen allocation of that size,
// which for a channels-last convolution is its output. If the result landed there, no copy is needed; otherwise
// (another allocation took the memory, or the allocator is off) the result is copied in as before. Saves one
// activation-sized buffer and one copy per convolution.
template <typename Run>
napi_value OutputInto(napi_env env, const std::vector<int64_t>& nhwcShape, Run&& run) {
  at::Tensor dst;
  napi_value out = newJs(env, nhwcShape, false, dst);
  const size_t bytes = static_cast<size_t>(dst.numel()) * sizeof(float);
  const bool lend = CachingCpuAllocator::instance && bytes > 0;
  if (lend) CachingCpuAllocator::hint = {dst.data_ptr(), bytes};
  at::Tensor y;
  try {
    y = run();
  } catch (...) {
    CachingCpuAllocator::hint = {};
    throw;
  }
  CachingCpuAllocator::hint = {};
  at::Tensor nhwc = y.permute({0, 2, 3, 1});
  if (BufferPool* pool = poolOf(env)) ++(y.data_ptr() == dst.data_ptr() ? pool->direct : pool->copied);
  if (y.data_ptr() == dst.data_ptr()) {
    if (!nhwc.is_contiguous()) dst.copy_(nhwc.clone());  // same memory in another layout: reorder via a temporary
    return out;
  }
  dst.copy_(nhwc);
  return out;
}

// NHWC buffer seen by ATen as logical NCHW in channels_last layout.
at::Tensor nhwcView(const F32& a, const std::vector<int64_t>& s) {
  if (s.size() != 4) throw JsError("expected a rank-4 NHWC shape");
  checkLen(a, s, "x");
  const int64_t n = s[0], h = s[1], w = s[2], c = s[3];
  return at::from_blob(a.data, {n, c, h, w}, {h * w * c, 1, w * c, c}, kF32);
}

// Logical NCHW ATen result → contiguous NHWC element order.
at::Tensor toNhwc(const at::Tensor& r) { return r.permute({0, 2, 3, 1}); }

// tfjs filter [kh,kw,in,out] → torch [out,in,kh,kw]; depthwise [kh,kw,in,mult]
// → torch groups=in weight [in*mult,1,kh,kw]. Pure stride views.
at::Tensor filterView(const F32& f, const std::vector<int64_t>& s, bool depthwise) {
  if (s.size() != 4) throw JsError("expected a rank-4 filter shape");
  checkLen(f, s, "filter");
  const int64_t kh = s[0], kw = s[1], ci = s[2], co = s[3];
  if (!depthwise) return at::from_blob(f.data, {co, ci, kh, kw}, {1, co, kw * ci * co, ci * co}, kF32);
  const int64_t oc = ci * co;
  return at::from_blob(f.data, {oc, 1, kh, kw}, {1, 1, kw * oc, oc}, kF32);
}

// Torch weight gradient back to the tfjs filter layout.
at::Tensor filterToTf(const at::Tensor& dw, const std::vector<int64_t>& s, bool depthwise) {
  if (!depthwise) return dw.permute({2, 3, 1, 0});
  const int64_t kh = s[0], kw = s[1], ci = s[2], mult = s[3];
  return dw.reshape({ci, mult, kh, kw}).permute({2, 3, 0, 1});
}

struct ConvParams {
  std::vector<int64_t> stride, dilation;
  int64_t pt, pb, pl, pr;
  bool depthwise;
  bool symmetric() const { return pt == pb && pl == pr; }
};

// opts = [strideH, strideW, dilH, dilW, padTop, padBottom, padLeft, padRight, depthwise]
ConvParams getConv(napi_env env, napi_value v) {
  auto o = getInts(env, v, "opts");
  if (o.size() != 9) throw JsError("opts: expected 9 numbers");
  ConvParams p;
  p.stride = {o[0], o[1]};
  p.dilation = {o[2], o[3]};
  p.pt = o[4];
  p.pb = o[5];
  p.pl = o[6];
  p.pr = o[7];
  p.depthwise = o[8] != 0;
  return p;
}

// Activations numbered as in the JS side: 0 linear, 1 relu, 2 relu6,
// 3 elu, 4 leakyrelu, 5 sigmoid.
void applyActivation(at::Tensor& y, int act, double alpha) {
  switch (act) {
    case 0: break;
    case 1: y.relu_(); break;
    case 2: y.clamp_(0, 6); break;
    case 3: at::elu_(y); break;
    case 4: at::leaky_relu_(y, alpha); break;
    case 5: y.sigmoid_(); break;
    default: throw JsError("unsupported fused activation");
  }
}

void getArgs(napi_env env, napi_callback_info info, size_t want, std::vector<napi_value>& argv) {
  size_t argc = want;
  argv.assign(want, nullptr);
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv.data(), nullptr, nullptr));
  if (argc < want) throw JsError("too few arguments");
}

// Thread governor. libgomp's workers spin for a while between parallel regions (OMP_WAIT_POLICY
// unset, as in stock PyTorch): MobileNetV2 steps are hundreds of short ops, and waking sleeping
// workers for each one (OMP_WAIT_POLICY=PASSIVE) made them 1.4-1.8x slower. Spinning workers on a
// core another process needs stall every barrier instead (a 96-px training step: 80 ms alone,
// 210 ms beside one busy process with 2 threads, 90 ms with 1). So about every half second a
// native call compares the machine's busy time (/proc/stat) with this process's (/proc/self/stat)
// and uses only the cores the others leave free. Off when the counts cannot be attributed
// (no /proc, or /proc/stat shows other CPUs than this process may run on, as in a container).
class ThreadGovernor {
 public:
  // maxThreads > 0; adaptive false pins the count (TL_TORCH_THREADS).
  void configure(int maxThreads, bool adaptive) {
    max_ = std::max(1, maxThreads);
    adaptive_ = adaptive && usable();
    baseline_ = false;
    apply(max_);
  }
  void tick() {
    if (!adaptive_) return;
    const auto now = std::chrono::steady_clock::now();
    if (baseline_ && now - last_ < std::chrono::milliseconds(500)) return;
    unsigned long long total = 0, idle = 0, self = 0;
    if (!readTimes(total, idle, self)) {
      adaptive_ = false;
      apply(max_);
      return;
    }
    const bool fresh = baseline_ && now - last_ < std::chrono::seconds(5);  // a long idle gap says little about now
    if (fresh && total > total_) {
      const double dTotal = double(total - total_), dBusy = dTotal - double(idle - idle_);
      const double dSelf = double(self - self_);
      others_ = std::max(0.0, (dBusy - dSelf) / dTotal * cpus_);
      const int free = static_cast<int>(std::floor(cpus_ - others_ + 0.5));
      apply(std::clamp(free, 1, max_));
    }
    total_ = total;
    idle_ = idle;
    self_ = self;
    last_ = now;
    baseline_ = true;
  }
  int current() const { return current_; }
  int max() const { return max_; }
  bool adaptive() const { return adaptive_; }
  double others() const { return others_; }

 private:
  void apply(int n) {
    if (n != current_) at::set_num_threads(n);
    current_ = n;
  }
  bool usable() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return false;
    std::ifstream f("/proc/stat");
    std::string line;
    int listed = 0;
    while (std::getline(f, line) && line.rfind("cpu", 0) == 0)
      if (line.size() > 3 && std::isdigit(static_cast<unsigned char>(line[3]))) ++listed;
    cpus_ = listed;
    unsigned long long a, b, c;
    return listed > 0 && listed == CPU_COUNT(&set) && readTimes(a, b, c);
  }
  static bool readTimes(unsigned long long& total, unsigned long long& idle, unsigned long long& self) {
    std::ifstream st("/proc/stat");
    std::string cpu;
    unsigned long long v[8] = {0};
    if (!(st >> cpu) || cpu != "cpu") return false;
    for (auto& x : v)
      if (!(st >> x)) return false;
    total = 0;
    for (auto x : v) total += x;  // user nice system idle iowait irq softirq steal
    idle = v[3] + v[4];
    std::ifstream ps("/proc/self/stat");
    std::string all((std::istreambuf_iterator<char>(ps)), std::istreambuf_iterator<char>());
    const auto close = all.rfind(')');  // the command name may hold spaces
    if (close == std::string::npos) return false;
    std::istringstream rest(all.substr(close + 2));
    std::string field;
    int found = 0;
    self = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {  // fields 14 and 15: utime, stime
      if (i == 14 || i == 15) {
        self += std::stoull(field);
        ++found;
      }
    }
    return found == 2;
  }
  int max_ = 1, current_ = 0;
  bool adaptive_ = false, baseline_ = false;
  double cpus_ = 1, others_ = 0;
  unsigned long long total_ = 0, idle_ = 0, self_ = 0;
  std::chrono::steady_clock::time_point last_;
};
ThreadGovernor governor;

template <typename F>
napi_value guarded(napi_env env, F&& f) {
  try {
    governor.tick();
    return f();
  } catch (const c10::Error& e) {
    napi_throw_error(env, "TORCH_KERNEL", e.what_without_backtrace());
  } catch (const std::exception& e) {
    napi_throw_error(env, "TORCH_KERNEL", e.what());
  }
  return nullptr;
}

// A JS array of `n` numbers (the addon's status calls).
napi_value numberArray(napi_env env, const double* vals, uint32_t n) {
  napi_value out;
  NAPI_OK(napi_create_array_with_length(env, n, &out));
  for (uint32_t i = 0; i < n; ++i) {
    napi_value x;
    NAPI_OK(napi_create_double(env, vals[i], &x));
    NAPI_OK(napi_set_element(env, out, i, x));
  }
  return out;
}

// recycle(arrayBuffer) → true when pooled. Only call it for buffers this addon returned whose
// tensors are gone and whose values nobody can read any more (the JS backend checks that).
napi_value Recycle(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    size_t argc = 1;
    napi_value v;
    NAPI_OK(napi_get_cb_info(env, info, &argc, &v, nullptr, nullptr));
    bool pooled = false;
    BufferPool* pool = poolOf(env);
    bool isAb = false;
    if (argc >= 1 && pool && napi_is_arraybuffer(env, v, &isAb) == napi_ok && isAb) {
      void* data = nullptr;
      size_t len = 0;
      NAPI_OK(napi_get_arraybuffer_info(env, v, &data, &len));
      auto& list = pool->free[len];
      if (len >= kPoolMinBytes && pool->bytes + len <= pool->cap && list.size() < kPoolMaxPerSize) {
        napi_ref ref;
        NAPI_OK(napi_create_reference(env, v, 1, &ref));
        list.push_back(ref);
        pool->bytes += len;
        ++pool->recycled;
        pooled = true;
      } else {
        ++pool->dropped;
      }
    }
    napi_value r;
    NAPI_OK(napi_get_boolean(env, pooled, &r));
    return r;
  });
}

// poolStats() → [pooledBytes, capBytes, hits, misses, recycled, dropped, direct, copied]; poolStats(true) also
// empties the pool.
napi_value PoolStats(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    size_t argc = 1;
    napi_value v = nullptr;
    NAPI_OK(napi_get_cb_info(env, info, &argc, &v, nullptr, nullptr));
    BufferPool* pool = poolOf(env);
    if (!pool) throw JsError("poolStats: no pool");
    napi_valuetype t = napi_undefined;
    if (argc >= 1) NAPI_OK(napi_typeof(env, v, &t));
    bool clear = false;
    if (t == napi_boolean) NAPI_OK(napi_get_value_bool(env, v, &clear));
    const double vals[8] = {double(pool->bytes), double(pool->cap), double(pool->hits), double(pool->misses),
                            double(pool->recycled), double(pool->dropped), double(pool->direct), double(pool->copied)};
    if (clear) {
      for (auto& [len, list] : pool->free)
        for (napi_ref r : list) napi_delete_reference(env, r);
      pool->free.clear();
      pool->bytes = 0;
    }
    return numberArray(env, vals, 8);
  });
}

// conv2d(x, xShape, filter, filterShape, opts, bias|null, act, alpha)
napi_value Conv2d(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    std::vector<napi_value> a;
    getArgs(env, info, 8, a);
    auto xs = getInts(env, a[1], "xShape"), fs = getInts(env, a[3], "filterShape");
    auto p = getConv(env, a[4]);
    at::Tensor x = nhwcView(getF32(env, a[0], "x"), xs);
    at::Tensor w = filterView(getF32(env, a[2], "filter"), fs, p.depthwise);
    F32 b = getF32(env, a[5], "bias", true);
    int act = static_cast<int>(getNum(env, a[6]));
    double alpha = getNum(env, a[7]);
    c10::optional<at::Tensor> bias;
    if (b.present) {
      if (static_cast<int64_t>(b.len) != w.size(0)) throw JsError("bias: expected one value per output channel");
      bias = at::from_blob(b.data, {w.size(0)}, kF32);
    }
    at::Tensor in = x;
    std::vector<int64_t> pad = {p.pt, p.pl};
    if (!p.symmetric()) {
      // ATen only pads symmetrically; tfjs SAME with stride 2 pads bottom/right only.
      in = at::constant_pad_nd(x, {p.pl, p.pr, p.pt, p.pb}, 0);
      pad = {0, 0};
    }
    const int64_t groups = p.depthwise ? xs[3] : 1;
    const int64_t kh = w.size(2), kw = w.size(3);
    const int64_t ho = (in.size(2) + 2 * pad[0] - p.dilation[0] * (kh - 1) - 1) / p.stride[0] + 1;
    const int64_t wo = (in.size(3) + 2 * pad[1] - p.dilation[1] * (kw - 1) - 1) / p.stride[1] + 1;
    return OutputInto(env, {xs[0], ho, wo, w.size(0)}, [&] {
      at::Tensor y = at::convolution(in, w, bias, p.stride, pad, p.dilation, false, {0, 0}, groups);
      applyActivation(y, act, alpha);
      return y;
    });
  });
}

// conv2dBackpropInput(dy, dyShape, filter, filterShape, inShape, opts)
napi_value Conv2dBackpropInput(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    std::vector<napi_value> a;
    getArgs(env, info, 6, a);
    auto ds = getInts(env, a[1], "dyShape"), fs = getInts(env, a[3], "filterShape"), is = getInts(env, a[4], "inShape");
    auto p = getConv(env, a[5]);
    at::Tensor dy = nhwcView(getF32(env, a[0], "dy"), ds);
    at::Tensor w = filterView(getF32(env, a[2], "filter"), fs, p.depthwise);
    const bool sym = p.symmetric();
    const int64_t hp = is[1] + (sym ? 0 : p.pt + p.pb), wp = is[2] + (sym ? 0 : p.pl + p.pr);
    // Only the input's sizes/layout matter for the input gradient.
    at::Tensor shapeOnly = at::empty({is[0], is[3], hp, wp}, kF32.memory_format(at::MemoryFormat::ChannelsLast));
    std::vector<int64_t> pad = sym ? std::vector<int64_t>{p.pt, p.pl} : std::vector<int64_t>{0, 0};
    const int64_t groups = p.depthwise ? is[3] : 1;
    auto r = at::convolution_backward(dy, shapeOnly, w, c10::nullopt, p.stride, pad, p.dilation, false, {0, 0}, groups,
                                      {true, false, false});
    at::Tensor dx = std::get<0>(r);
    if (!sym) dx = dx.slice(2, p.pt, p.pt + is[1]).slice(3, p.pl, p.pl + is[2]);
    return toJs(env, toNhwc(dx));
  });
}

// conv2dBackpropFilter(x, xShape, dy, dyShape, filterShape, opts)
napi_value Conv2dBackpropFilter(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    std::vector<napi_value> a;
    getArgs(env, info, 6, a);
    auto xs = getInts(env, a[1], "xShape"), ds = getInts(env, a[3], "dyShape"), fs = getInts(env, a[4], "filterShape");
    auto p = getConv(env, a[5]);
    at::Tensor x = nhwcView(getF32(env, a[0], "x"), xs);
    at::Tensor dy = nhwcView(getF32(env, a[2], "dy"), ds);
    at::Tensor in = x;
    std::vector<int64_t> pad = {p.pt, p.pl};
    if (!p.symmetric()) {
      in = at::constant_pad_nd(x, {p.pl, p.pr, p.pt, p.pb}, 0);
      pad = {0, 0};
    }
    const int64_t kh = fs[0], kw = fs[1], ci = fs[2], co = fs[3];
    at::Tensor wShape = p.depthwise ? at::empty({ci * co, 1, kh, kw}, kF32) : at::empty({co, ci, kh, kw}, kF32);
    const int64_t groups = p.depthwise ? xs[3] : 1;
    auto r = at::convolution_backward(dy, in, wShape, c10::nullopt, p.stride, pad, p.dilation, false, {0, 0}, groups,
                                      {false, true, false});
    return toJs(env, filterToTf(std::get<1>(r), fs, p.depthwise));
  });
}

// matmul(a, aShape[b,r,c], b, bShape[b,r,c], transA, transB, bias|null, act, alpha)
// Bias is broadcast along the last output dim (what tfjs' _FusedMatMul uses for dense layers).
// Products with at least this many multiply-adds go through oneDNN (see MatMul).
constexpr int64_t kOneDnnMatMulMacs = 1 << 16;

napi_value MatMul(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    std::vector<napi_value> v;
    getArgs(env, info, 9, v);
    auto as = getInts(env, v[1], "aShape"), bs = getInts(env, v[3], "bShape");
    if (as.size() != 3 || bs.size() != 3) throw JsError("matmul: rank-3 shapes expected");
    F32 af = getF32(env, v[0], "a"), bf = getF32(env, v[2], "b");
    checkLen(af, as, "a");
    checkLen(bf, bs, "b");
    bool ta = false, tb = false;
    NAPI_OK(napi_get_value_bool(env, v[4], &ta));
    NAPI_OK(napi_get_value_bool(env, v[5], &tb));
    F32 bias = getF32(env, v[6], "bias", true);
    int act = static_cast<int>(getNum(env, v[7]));
    double alpha = getNum(env, v[8]);
    at::Tensor A = at::from_blob(af.data, as, kF32), B = at::from_blob(bf.data, bs, kF32);
    if (ta) A = A.transpose(1, 2);
    if (tb) B = B.transpose(1, 2);
    const int64_t m = A.size(1), n = B.size(2), batch = std::max(as[0], bs[0]);
    if (A.size(2) != B.size(1)) throw JsError("matmul: inner dimensions differ");
    at::Tensor y;
    napi_value out = newJs(env, {batch, m, n}, false, y);
    if (as[0] == 1 && bs[0] == 1 && m >= 2 && m * n * A.size(2) >= kOneDnnMatMulMacs) {
      // Debian's libtorch calls the reference BLAS for mm (about 1 GFLOP/s here). The same product as a
      // 1x1 convolution of m "images" of k channels runs in oneDNN: 10-20x faster for dense layers.
      const int64_t k = A.size(2);
      at::Tensor x4 = A.select(0, 0).contiguous().view({m, k, 1, 1});
      at::Tensor w4 = B.select(0, 0).t().contiguous().view({n, k, 1, 1});
      c10::optional<at::Tensor> b4;
      if (bias.present) b4 = at::from_blob(bias.data, {static_cast<int64_t>(bias.len)}, kF32);
      y.select(0, 0).copy_(at::conv2d(x4, w4, b4).view({m, n}));
    } else if (as[0] == 1 && bs[0] == 1) {
      at::Tensor y2 = y.select(0, 0);
      if (bias.present) {
        at::addmm_out(y2, at::from_blob(bias.data, {static_cast<int64_t>(bias.len)}, kF32), A.select(0, 0), B.select(0, 0));
      } else if (ta && !tb) {
        // Weight gradients (xᵀ·dy): (dyᵀ·x)ᵀ is the same product in the layout the reference
        // BLAS Debian ships runs fastest (PyTorch's Linear backward computes it this way too).
        y2.copy_(at::mm(B.select(0, 0).t(), A.select(0, 0).t()).t());
      } else {
        at::mm_out(y2, A.select(0, 0), B.select(0, 0));
      }
    } else {
      at::matmul_out(y, A, B);
      if (bias.present) y.add_(at::from_blob(bias.data, {static_cast<int64_t>(bias.len)}, kF32));
    }
    applyActivation(y, act, alpha);
    return out;
  });
}

struct BnArgs {
  int64_t rows, c;
  const float *x, *mean, *var, *scale, *offset;
};

// Per-channel affine coefficients: y = x * k + m.
void bnCoefs(const BnArgs& b, double eps, std::vector<float>& k, std::vector<float>& m) {
  k.resize(b.c);
  m.resize(b.c);
  for (int64_t j = 0; j < b.c; ++j) {
    const double inv = 1.0 / std::sqrt(static_cast<double>(b.var[j]) + eps);
    const double s = b.scale ? b.scale[j] : 1.0;
    k[j] = static_cast<float>(inv * s);
    m[j] = static_cast<float>((b.offset ? b.offset[j] : 0.0) - b.mean[j] * inv * s);
  }
}

BnArgs getBn(napi_env env, const std::vector<napi_value>& a, size_t xi, size_t firstParam, F32& x) {
  x = getF32(env, a[xi], "x");
  BnArgs b{};
  b.c = static_cast<int64_t>(getNum(env, a[firstParam + 4]));
  if (b.c <= 0 || x.len % b.c != 0) throw JsError("batchNorm: channel count does not divide x");
  b.rows = static_cast<int64_t>(x.len) / b.c;
  F32 mean = getF32(env, a[firstParam], "mean"), var = getF32(env, a[firstParam + 1], "variance");
  F32 scale = getF32(env, a[firstParam + 2], "scale", true), offset = getF32(env, a[firstParam + 3], "offset", true);
  auto chk = [&](const F32& t, const char* w) {
    if (t.present && static_cast<int64_t>(t.len) != b.c) throw JsError(std::string(w) + ": expected one value per channel");
  };
  chk(mean, "mean");
  chk(var, "variance");
  chk(scale, "scale");
  chk(offset, "offset");
  b.x = x.data;
  b.mean = mean.data;
  b.var = var.data;
  b.scale = scale.present ? scale.data : nullptr;
  b.offset = offset.present ? offset.data : nullptr;
  return b;
}

// batchNorm(x, mean, variance, scale|null, offset|null, channels, eps): x is [..., C].
napi_value BatchNorm(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    std::vector<napi_value> a;
    getArgs(env, info, 7, a);
    F32 xf;
    BnArgs b = getBn(env, a, 0, 1, xf);
    double eps = getNum(env, a[6]);
    std::vector<float> k, m;
    bnCoefs(b, eps, k, m);
    at::Tensor y;
    napi_value out = newJs(env, {b.rows * b.c}, false, y);
    float* yp = y.data_ptr<float>();
    const int64_t C = b.c;
    const float* xp = b.x;
    const float *kp = k.data(), *mp = m.data();
    at::parallel_for(0, b.rows, 256, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float* xr = xp + r * C;
        float* yr = yp + r * C;
        for (int64_t j = 0; j < C; ++j) yr[j] = xr[j] * kp[j] + mp[j];
      }
    });
    return out;
  });
}

// Float32Array → float tensor, Uint8Array (tfjs bool) → bool tensor, viewed with `shape`.
at::Tensor anyView(napi_env env, napi_value v, const std::vector<int64_t>& shape, const char* what) {
  bool isTa = false;
  NAPI_OK(napi_is_typedarray(env, v, &isTa));
  if (!isTa) throw JsError(std::string(what) + ": typed array required");
  napi_typedarray_type type;
  size_t len;
  void* data;
  napi_value ab;
  size_t off;
  NAPI_OK(napi_get_typedarray_info(env, v, &type, &len, &data, &ab, &off));
  if (static_cast<int64_t>(len) != numel(shape)) throw JsError(std::string(what) + ": length does not match shape");
  if (type == napi_float32_array) return at::from_blob(data, shape, kF32);
  if (type == napi_uint8_array) return at::from_blob(data, shape, at::TensorOptions().dtype(at::kBool));
  throw JsError(std::string(what) + ": Float32Array or Uint8Array required");
}

// binary(op, a, aShape, b, bShape): numpy broadcasting, like tfjs.
napi_value Binary(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    std::vector<napi_value> v;
    getArgs(env, info, 5, v);
    const int op = static_cast<int>(getNum(env, v[0]));
    at::Tensor a = anyView(env, v[1], getInts(env, v[2], "aShape"), "a");
    at::Tensor b = anyView(env, v[3], getInts(env, v[4], "bShape"), "b");
    at::Tensor y;
    const bool boolOut = op >= 10 && op < 30;
    napi_value out = newJs(env, at::infer_size(a.sizes(), b.sizes()), boolOut, y);
    switch (op) {
      case 0: at::add_out(y, a, b); break;
      case 1: at::sub_out(y, a, b); break;
      case 2: at::mul_out(y, a, b); break;
      case 3: at::div_out(y, a, b); break;
      case 4: at::maximum_out(y, a, b); break;
      case 5: at::minimum_out(y, a, b); break;
      case 6: at::sub_out(y, a, b); y.mul_(y); break;
      case 10: at::gt_out(y, a, b); break;
      case 11: at::ge_out(y, a, b); break;
      case 12: at::lt_out(y, a, b); break;
      case 13: at::le_out(y, a, b); break;
      case 14: at::eq_out(y, a, b); break;
      case 15: at::ne_out(y, a, b); break;
      case 20: at::logical_and_out(y, a, b); break;
      case 21: at::logical_or_out(y, a, b); break;
      // Gradient helpers (see index.ts): a = dy, b = x, same shapes.
      case 30: {  // relu': dy where x > 0
        if (!a.sizes().equals(b.sizes())) throw JsError("reluGrad: dy and x differ in shape");
        const float *dp = a.data_ptr<float>(), *xp = b.data_ptr<float>();
        float* yp = y.data_ptr<float>();
        at::parallel_for(0, y.numel(), 16384, [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; ++i) {
            const float d = dp[i], v = xp[i];  // unconditional loads: vectorizes to a select
            yp[i] = v > 0.f ? d : 0.f;
          }
        });
        break;
      }
      case 31: at::mul_out(y, a, b); y.mul_(2); break;  // square': 2·x·dy
      case 32: {  // relu6': dy where 0 < x <= 6 (tfjs' Relu6 gradient mask)
        if (!a.sizes().equals(b.sizes())) throw JsError("relu6Grad: dy and x differ in shape");
        const float *dp = a.data_ptr<float>(), *xp = b.data_ptr<float>();
        float* yp = y.data_ptr<float>();
        at::parallel_for(0, y.numel(), 16384, [&](int64_t i0, int64_t i1) {
          // Unconditional loads and & (not &&) so the loop vectorizes (a select, no branches).
          for (int64_t i = i0; i < i1; ++i) {
            const float d = dp[i], v = xp[i];
            yp[i] = ((v > 0.f) & (v <= 6.f)) ? d : 0.f;
          }
        });
        break;
      }
      default: throw JsError("binary: unknown op");
    }
    return out;
  });
}

// pad(x, shape, paddings [before0, after0, before1, after1, ...], value): constant padding (PadV2)
// into a pooled output. Only the border slabs are filled; the interior is one strided copy.
napi_value Pad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    std::vector<napi_value> v;
    getArgs(env, info, 4, v);
    const std::vector<int64_t> shape = getInts(env, v[1], "shape"), pads = getInts(env, v[2], "paddings");
    at::Tensor x = anyView(env, v[0], shape, "x");
    if (x.scalar_type() != at::kFloat) throw JsError("pad: Float32Array required");
    if (pads.size() != 2 * shape.size()) throw JsError("pad: paddings must hold two values per dimension");
    std::vector<int64_t> outShape(shape.size());
    for (size_t d = 0; d < shape.size(); ++d) {
      if (pads[2 * d] < 0 || pads[2 * d + 1] < 0) throw JsError("pad: negative paddings are not supported");
      outShape[d] = pads[2 * d] + shape[d] + pads[2 * d + 1];
    }
    const double value = getNum(env, v[3]);
    at::Tensor y;
    napi_value out = newJs(env, outShape, false, y);
    if (y.numel() == 0) return out;
    at::Tensor inner = y;
    for (size_t d = 0; d < shape.size(); ++d) {
      const int64_t b = pads[2 * d], a = pads[2 * d + 1];
      if (b) y.narrow(d, 0, b).fill_(value);
      if (a) y.narrow(d, outShape[d] - a, a).fill_(value);
      inner = inner.narrow(d, b, shape[d]);
    }
    if (x.numel()) inner.copy_(x);
    return out;
  });
}

// slice(x, shape, begin, size): x[begin : begin + size] as a new pooled row-major array (Slice).
napi_value Slice(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    std::vector<napi_value> v;
    getArgs(env, info, 4, v);
    const std::vector<int64_t> shape = getInts(env, v[1], "shape"), begin = getInts(env, v[2], "begin"), size = getInts(env, v[3], "size");
    at::Tensor x = anyView(env, v[0], shape, "x");
    if (x.scalar_type() != at::kFloat) throw JsError("slice: Float32Array required");
    if (begin.size() != shape.size() || size.size() != shape.size()) throw JsError("slice: begin and size need one value per dimension");
    at::Tensor view = x;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (begin[d] < 0 || size[d] < 0 || begin[d] + size[d] > shape[d]) throw JsError("slice: out of range");
      view = view.narrow(d, begin[d], size[d]);
    }
    at::Tensor y;
    napi_value out = newJs(env, size, false, y);
    if (y.numel()) y.copy_(view);
    return out;
  });
}

// clipGrad(dy, x, lo, hi): dy where lo <= x <= hi, else 0 (tfjs ClipByValue gradient).
napi_value ClipGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    std::vector<napi_value> v;
    getArgs(env, info, 4, v);
    F32 dy = getF32(env, v[0], "dy"), x = getF32(env, v[1], "x");
    if (dy.len != x.len) throw JsError("clipGrad: dy and x differ in size");
    const float lo = static_cast<float>(getNum(env, v[2])), hi = static_cast<float>(getNum(env, v[3]));
    at::Tensor y;
    napi_value out = newJs(env, {static_cast<int64_t>(x.len)}, false, y);
    float* yp = y.data_ptr<float>();
    const float *xp = x.data, *dp = dy.data;
    at::parallel_for(0, static_cast<int64_t>(x.len), 16384, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const float d = dp[i], v = xp[i];  // unconditional loads: vectorizes to a select
        yp[i] = ((v >= lo) & (v <= hi)) ? d : 0.f;
      }
    });
    return out;
  });
}

// unary(op, x, p0, p1), float32 only.
napi_value Unary(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    std::vector<napi_value> v;
    getArgs(env, info, 4, v);
    const int op = static_cast<int>(getNum(env, v[0]));
    F32 xf = getF32(env, v[1], "x");
    const double p0 = getNum(env, v[2]), p1 = getNum(env, v[3]);
    at::Tensor x = at::from_blob(xf.data, {static_cast<int64_t>(xf.len)}, kF32);
    at::Tensor y;
    napi_value out = newJs(env, x.sizes(), false, y);
    switch (op) {
      case 0: at::clamp_min_out(y, x, 0); break;
      case 1: at::clamp_out(y, x, 0, 6); break;
      case 2: at::clamp_out(y, x, p0, p1); break;
      case 3: {  // step: x > 0 ? 1 : alpha, NaN stays NaN (tfjs semantics)
        float* yp = y.data_ptr<float>();
        const float* xp = xf.data;
        const float alpha = static_cast<float>(p0);
        at::parallel_for(0, x.numel(), 16384, [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; ++i) yp[i] = std::isnan(xp[i]) ? xp[i] : (xp[i] > 0 ? 1.f : alpha);
        });
        break;
      }
      case 4: at::mul_out(y, x, x); break;
      case 5: at::sqrt_out(y, x); break;
      case 6: at::rsqrt_out(y, x); break;
      case 7: at::exp_out(y, x); break;
      case 8: at::log_out(y, x); break;
      case 9: at::neg_out(y, x); break;
      case 10: at::abs_out(y, x); break;
      case 11: at::sigmoid_out(y, x); break;
      case 12: at::tanh_out(y, x); break;
      case 13: at::reciprocal_out(y, x); break;
      case 14: at::elu_out(y, x); break;
      case 15: at::leaky_relu_out(y, x, p0); break;
      case 16: at::floor_out(y, x); break;  // dropout masks: floor(uniform + keepProb)
      case 17: at::ceil_out(y, x); break;
      default: throw JsError("unary: unknown op");
    }
    return out;
  });
}

// reduce(op, x, shape, axes) → values in the order of the kept (non-reduced) dims.
napi_value Reduce(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    std::vector<napi_value> v;
    getArgs(env, info, 4, v);
    const int op = static_cast<int>(getNum(env, v[0]));
    auto shape = getInts(env, v[2], "shape");
    at::Tensor x = anyView(env, v[1], shape, "x");
    auto axes = getInts(env, v[3], "axes");
    if (axes.empty()) throw JsError("reduce: no axes");  // ATen would reduce everything
    std::vector<int64_t> kept;
    for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d)
      if (std::find(axes.begin(), axes.end(), d) == axes.end()) kept.push_back(shape[d]);
    at::Tensor y;
    napi_value out = newJs(env, kept, false, y);
    switch (op) {
      case 0: at::sum_out(y, x, axes); break;
      case 1: at::mean_out(y, x, axes); break;
      case 2: at::amax_out(y, x, axes); break;
      case 3: at::amin_out(y, x, axes); break;
      default: throw JsError("reduce: unknown op");
    }
    return out;
  });
}

// select(cond, t, e) with equal shapes (tfjs Select).
napi_value Select(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    std::vector<napi_value> v;
    getArgs(env, info, 4, v);
    auto shape = getInts(env, v[3], "shape");
    at::Tensor c = anyView(env, v[0], shape, "condition"), t = anyView(env, v[1], shape, "t"), e = anyView(env, v[2], shape, "e");
    return toJs(env, at::where(c, t, e));
  });
}

// broadcastScale(x, xShape, outShape, scale): x broadcast to outShape times scale (tfjs Mean gradient).
napi_value BroadcastScale(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    std::vector<napi_value> v;
    getArgs(env, info, 4, v);
    at::Tensor x = anyView(env, v[0], getInts(env, v[1], "xShape"), "x");
    auto out = getInts(env, v[2], "outShape");
    const double scale = getNum(env, v[3]);
    at::Tensor y;
    napi_value res = newJs(env, out, false, y);
    y.copy_(x.expand(out));
    y.mul_(scale);
    return res;
  });
}


// opts = [kh, kw, strideH, strideW, padTop, padBottom, padLeft, padRight]; op 0 max, 1 avg.
struct PoolParams {
  std::vector<int64_t> k, stride, pad;
  int64_t pt, pb, pl, pr;
  bool explicitPad;  // ATen pools pad symmetrically and at most k/2
};
PoolParams getPool(napi_env env, napi_value v) {
  auto o = getInts(env, v, "opts");
  if (o.size() != 8) throw JsError("pool opts: expected 8 numbers");
  PoolParams p{{o[0], o[1]}, {o[2], o[3]}, {0, 0}, o[4], o[5], o[6], o[7], false};
  p.explicitPad = !(p.pt == p.pb && p.pl == p.pr && 2 * p.pt <= o[0] && 2 * p.pl <= o[1]);
  if (!p.explicitPad) p.pad = {p.pt, p.pl};
  return p;
}

// Max pooling pads with -inf so padded cells never win (tfjs ignores them too).
at::Tensor poolInput(const at::Tensor& x, const PoolParams& p, int op) {
  if (!p.explicitPad) return x;
  if (op != 0) throw JsError("avgPool: asymmetric padding is not supported natively");
  return at::constant_pad_nd(x, {p.pl, p.pr, p.pt, p.pb}, -std::numeric_limits<double>::infinity());
}

// pool(op, x, xShape, opts) → NHWC
napi_value Pool(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    std::vector<napi_value> a;
    getArgs(env, info, 4, a);
    const int op = static_cast<int>(getNum(env, a[0]));
    auto xs = getInts(env, a[2], "xShape");
    at::Tensor x = nhwcView(getF32(env, a[1], "x"), xs);
    PoolParams p = getPool(env, a[3]);
    at::Tensor in = poolInput(x, p, op);
    at::Tensor y = op == 0 ? at::max_pool2d(in, p.k, p.stride, p.pad)
                           : at::avg_pool2d(in, p.k, p.stride, p.pad, false, /*count_include_pad=*/false);
    return toJs(env, toNhwc(y));
  });
}

// poolGrad(op, dy, dyShape, x, xShape, opts) → dx NHWC
napi_value PoolGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    std::vector<napi_value> a;
    getArgs(env, info, 6, a);
    const int op = static_cast<int>(getNum(env, a[0]));
    at::Tensor dy = nhwcView(getF32(env, a[1], "dy"), getInts(env, a[2], "dyShape"));
    auto xs = getInts(env, a[4], "xShape");
    at::Tensor x = nhwcView(getF32(env, a[3], "x"), xs);
    PoolParams p = getPool(env, a[5]);
    at::Tensor in = poolInput(x, p, op);
    at::Tensor dx;
    if (op == 0) {
      auto r = at::max_pool2d_with_indices(in, p.k, p.stride, p.pad, {1, 1}, false);
      dx = at::max_pool2d_with_indices_backward(dy, in, p.k, p.stride, p.pad, {1, 1}, false, std::get<1>(r));
    } else {
      dx = at::avg_pool2d_backward(dy, in, p.k, p.stride, p.pad, false, false, c10::nullopt);
    }
    if (p.explicitPad) dx = dx.slice(2, p.pt, p.pt + xs[1]).slice(3, p.pl, p.pl + xs[2]);
    return toJs(env, toNhwc(dx));
  });
}


// Per-channel sums over rows of an [R, C] (channels-last) layout: chunks of rows run in
// parallel with float partials, combined in double (tfjs' JS reductions accumulate in double).
template <typename F>
void channelSums(int64_t R, int64_t C, int nOut, std::vector<double>& out, F&& rowFn) {
  const int64_t nChunks = std::max<int64_t>(1, std::min<int64_t>(64, R / 64));
  std::vector<double> part(static_cast<size_t>(nChunks * C * nOut), 0.0);
  at::parallel_for(0, nChunks, 1, [&](int64_t c0, int64_t c1) {
    std::vector<float> acc(static_cast<size_t>(C * nOut));
    for (int64_t ch = c0; ch < c1; ++ch) {
      std::fill(acc.begin(), acc.end(), 0.f);
      for (int64_t r = R * ch / nChunks, r1 = R * (ch + 1) / nChunks; r < r1; ++r) rowFn(r, acc.data());
      for (int64_t k = 0; k < C * nOut; ++k) part[ch * C * nOut + k] = acc[k];
    }
  });
  out.assign(static_cast<size_t>(C * nOut), 0.0);
  for (int64_t ch = 0; ch < nChunks; ++ch)
    for (int64_t k = 0; k < C * nOut; ++k) out[k] += part[ch * C * nOut + k];
}

// batchNormTrain(x, gamma, beta, channels, eps) → [y, mean, variance]: tf.moments over all
// but the last axis + tf.batchNorm, in three passes (mean, centred variance, output).
napi_value BatchNormTrain(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    std::vector<napi_value> a;
    getArgs(env, info, 5, a);
    F32 x = getF32(env, a[0], "x"), g = getF32(env, a[1], "gamma"), b = getF32(env, a[2], "beta");
    const int64_t C = static_cast<int64_t>(getNum(env, a[3]));
    const double eps = getNum(env, a[4]);
    if (C <= 0 || x.len % C || static_cast<int64_t>(g.len) != C || static_cast<int64_t>(b.len) != C)
      throw JsError("batchNormTrain: bad channel count");
    const int64_t R = static_cast<int64_t>(x.len) / C;
    const float* xp = x.data;
    // One pass for both moments, shifted by the first row so E[d²]-E[d]² does not cancel badly.
    std::vector<float> pivot(xp, xp + C);
    const float* pv = pivot.data();
    std::vector<double> s;
    channelSums(R, C, 2, s, [&](int64_t r, float* acc) {
      const float* xr = xp + r * C;
      for (int64_t j = 0; j < C; ++j) {
        const float d = xr[j] - pv[j];
        acc[j] += d;
        acc[C + j] += d * d;
      }
    });
    std::vector<float> mean(C);
    std::vector<double> varD(C);
    for (int64_t j = 0; j < C; ++j) {
      const double md = s[j] / R;
      mean[j] = static_cast<float>(pv[j] + md);
      varD[j] = std::max(0.0, s[C + j] / R - md * md);
    }
    at::Tensor mt, vt, y;
    napi_value meanJs = newJs(env, {C}, false, mt), varJs = newJs(env, {C}, false, vt), yJs = newJs(env, {R * C}, false, y);
    float *mo = mt.data_ptr<float>(), *vo = vt.data_ptr<float>();
    std::vector<float> k(C), m(C);
    for (int64_t j = 0; j < C; ++j) {
      mo[j] = mean[j];
      vo[j] = static_cast<float>(varD[j]);
      const double inv = 1.0 / std::sqrt(static_cast<double>(vo[j]) + eps);
      k[j] = static_cast<float>(inv * g.data[j]);
      m[j] = static_cast<float>(b.data[j] - (pv[j] + s[j] / R) * inv * g.data[j]);
    }
    float* yp = y.data_ptr<float>();
    const float *kp = k.data(), *mm = m.data();
    at::parallel_for(0, R, 256, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t j = 0; j < C; ++j) yp[r * C + j] = xp[r * C + j] * kp[j] + mm[j];
    });
    napi_value out;
    NAPI_OK(napi_create_array_with_length(env, 3, &out));
    NAPI_OK(napi_set_element(env, out, 0, yJs));
    NAPI_OK(napi_set_element(env, out, 1, meanJs));
    NAPI_OK(napi_set_element(env, out, 2, varJs));
    return out;
  });
}

// batchNormTrainGrad(x, dy, mean, variance, gamma, dMean|null, dVariance|null, channels, eps)
// → [dx, dGamma, dBeta], the total derivative through the batch statistics.
napi_value BatchNormTrainGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    std::vector<napi_value> a;
    getArgs(env, info, 9, a);
    F32 x = getF32(env, a[0], "x"), dy = getF32(env, a[1], "dy"), mean = getF32(env, a[2], "mean"),
        var = getF32(env, a[3], "variance"), g = getF32(env, a[4], "gamma");
    F32 dm = getF32(env, a[5], "dMean", true), dv = getF32(env, a[6], "dVariance", true);
    const int64_t C = static_cast<int64_t>(getNum(env, a[7]));
    const double eps = getNum(env, a[8]);
    if (C <= 0 || x.len % C || dy.len != x.len) throw JsError("batchNormTrainGrad: bad shapes");
    for (const F32* t : {&mean, &var, &g}) if (static_cast<int64_t>(t->len) != C) throw JsError("batchNormTrainGrad: bad channel count");
    const int64_t R = static_cast<int64_t>(x.len) / C;
    const float *xp = x.data, *dp = dy.data, *mp = mean.data;
    std::vector<double> s;
    channelSums(R, C, 2, s, [&](int64_t r, float* acc) {
      const float *xr = xp + r * C, *dr = dp + r * C;
      for (int64_t j = 0; j < C; ++j) {
        acc[j] += dr[j];
        acc[C + j] += dr[j] * (xr[j] - mp[j]);
      }
    });
    at::Tensor dxT, dgT, dbT;
    napi_value dxJs = newJs(env, {R * C}, false, dxT), dgJs = newJs(env, {C}, false, dgT), dbJs = newJs(env, {C}, false, dbT);
    // dx = A·dy + B·(x - mean) + D per channel.
    std::vector<float> A(C), B(C), D(C);
    float *dg = dgT.data_ptr<float>(), *db = dbT.data_ptr<float>();
    for (int64_t j = 0; j < C; ++j) {
      const double inv = 1.0 / std::sqrt(static_cast<double>(var.data[j]) + eps);
      const double sdy = s[j], sdyx = s[C + j];
      db[j] = static_cast<float>(sdy);
      dg[j] = static_cast<float>(sdyx * inv);
      A[j] = static_cast<float>(g.data[j] * inv);
      B[j] = static_cast<float>(-g.data[j] * inv * inv * inv * sdyx / R + (dv.present ? 2.0 * dv.data[j] / R : 0.0));
      D[j] = static_cast<float>(-g.data[j] * inv * sdy / R + (dm.present ? dm.data[j] / static_cast<double>(R) : 0.0));
    }
    float* dxp = dxT.data_ptr<float>();
    const float *Ap = A.data(), *Bp = B.data(), *Dp = D.data();
    at::parallel_for(0, R, 256, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float *xr = xp + r * C, *dr = dp + r * C;
        float* o = dxp + r * C;
        for (int64_t j = 0; j < C; ++j) o[j] = Ap[j] * dr[j] + Bp[j] * (xr[j] - mp[j]) + Dp[j];
      }
    });
    napi_value out;
    NAPI_OK(napi_create_array_with_length(env, 3, &out));
    NAPI_OK(napi_set_element(env, out, 0, dxJs));
    NAPI_OK(napi_set_element(env, out, 1, dgJs));
    NAPI_OK(napi_set_element(env, out, 2, dbJs));
    return out;
  });
}

napi_value SetNumThreads(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    std::vector<napi_value> a;
    getArgs(env, info, 1, a);
    int n = static_cast<int>(getNum(env, a[0]));
    bool adaptive = false;
    size_t argc = 2;
    napi_value av[2];
    NAPI_OK(napi_get_cb_info(env, info, &argc, av, nullptr, nullptr));
    if (argc >= 2) NAPI_OK(napi_get_value_bool(env, av[1], &adaptive));
    if (n > 0) governor.configure(n, adaptive);
    napi_value r;
    NAPI_OK(napi_create_int32(env, at::get_num_threads(), &r));
    return r;
  });
}

// threadStatus() → [threads now, most threads, adaptive 0|1, other processes' load in cores (last window)].
napi_value ThreadStatus(napi_env env, napi_callback_info /*info*/) {
  return guarded(env, [&] {
    const double vals[4] = {double(governor.current()), double(governor.max()), governor.adaptive() ? 1.0 : 0.0, governor.others()};
    return numberArray(env, vals, 4);
  });
}

napi_value Info(napi_env env, napi_callback_info /*info*/) {
  return guarded(env, [&] {
    std::string s = std::string("libtorch ") + TORCH_VERSION + " (ATen, " + std::to_string(governor.max()) +
                    (governor.adaptive() ? " threads, fewer while other processes load the CPU" : " threads") +
                    (at::hasMKLDNN() ? ", oneDNN" : "") + ")";
    napi_value r;
    NAPI_OK(napi_create_string_utf8(env, s.c_str(), s.size(), &r));
    return r;
  });
}

napi_value Init(napi_env env, napi_value exports) {
  // Activations of a 224px batch are 10-40 MB: above glibc's (max 32 MB) dynamic mmap threshold
  // every such tensor and JS output buffer was a fresh mmap, i.e. ~60-80k page faults per
  // MobileNet batch. A 64 MB threshold serves them from the heap so freed blocks are reused; the
  // trim threshold stays default (raising it too cost ~10% peak RSS). TL_TORCH_MALLOPT=0 opts
  // out; TL_TORCH_MMAP_MB / TL_TORCH_TRIM_MB tune it.
  const char* mo = std::getenv("TL_TORCH_MALLOPT");
  if (!mo || std::string(mo) != "0") {
    const char* mm = std::getenv("TL_TORCH_MMAP_MB");
    const char* tr = std::getenv("TL_TORCH_TRIM_MB");
    mallopt(M_MMAP_THRESHOLD, (mm ? std::atoi(mm) : 64) << 20);
    if (tr) mallopt(M_TRIM_THRESHOLD, std::atoi(tr) << 20);
  }
  // Installed once per process (ATen is process-wide); TL_TORCH_CACHE_MB=0 keeps ATen's allocator.
  const char* cm = std::getenv("TL_TORCH_CACHE_MB");
  const int cacheMb = cm ? std::atoi(cm) : 256;
  if (cacheMb > 0 && !CachingCpuAllocator::instance) {
    CachingCpuAllocator::instance = new CachingCpuAllocator(static_cast<size_t>(cacheMb) << 20);  // lives as long as ATen
    c10::SetCPUAllocator(CachingCpuAllocator::instance, /*priority=*/1);
  }
  auto* pool = new BufferPool();
  const char* pm = std::getenv("TL_TORCH_POOL_MB");
  const long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGESIZE);
  const size_t physMb = pages > 0 && pageSize > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(pageSize) >> 20 : 4096;
  const size_t defaultMb = std::min<size_t>(2048, std::max<size_t>(512, physMb / 8));
  pool->cap = (pm ? static_cast<size_t>(std::max(0, std::atoi(pm))) : defaultMb) << 20;
  if (napi_set_instance_data(
          env, pool,
          [](napi_env, void* data, void*) { delete static_cast<BufferPool*>(data); },  // refs die with the env
          nullptr) != napi_ok) {
    delete pool;
    return nullptr;
  }
  struct Fn {
    const char* name;
    napi_callback cb;
  } fns[] = {{"conv2d", Conv2d},
             {"conv2dBackpropInput", Conv2dBackpropInput},
             {"conv2dBackpropFilter", Conv2dBackpropFilter},
             {"matmul", MatMul},
             {"batchNorm", BatchNorm},
             {"binary", Binary},
             {"batchNormTrain", BatchNormTrain},
             {"batchNormTrainGrad", BatchNormTrainGrad},
             {"pool", Pool},
             {"poolGrad", PoolGrad},
             {"unary", Unary},
             {"reduce", Reduce},
             {"select", Select},
             {"clipGrad", ClipGrad},
             {"pad", Pad},
             {"slice", Slice},
             {"broadcastScale", BroadcastScale},
             {"recycle", Recycle},
             {"poolStats", PoolStats},
             {"setNumThreads", SetNumThreads},
             {"threadStatus", ThreadStatus},
             {"info", Info}};
  for (const auto& f : fns) {
    napi_value fn;
    if (napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.cb, nullptr, &fn) != napi_ok) return nullptr;
    if (napi_set_named_property(env, exports, f.name, fn) != napi_ok) return nullptr;
  }
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)

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

// The addon is one translation unit assembled from one file per concern (src/*.inc, in dependency
// order), compiled together by build.sh: everything keeps internal linkage (the anonymous namespace
// below), so the compiler still inlines across concerns and no header has to declare the shared pieces.
namespace {

#include "src/marshal.inc"
#include "src/allocator.inc"
#include "src/pool.inc"
#include "src/layout.inc"
#include "src/governor.inc"
#include "src/loops.inc"
#include "src/conv.inc"
#include "src/dense.inc"
#include "src/elementwise.inc"
#include "src/status.inc"

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

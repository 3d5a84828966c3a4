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
  tuneMalloc();
  // Installed once per process (ATen is process-wide); TL_TORCH_CACHE_MB=0 keeps ATen's allocator.
  const char* cm = std::getenv("TL_TORCH_CACHE_MB");
  installCachingAllocator(cm ? static_cast<size_t>(std::max(0, std::atoi(cm))) : 256);
  auto* pool = new BufferPool();
  const char* pm = std::getenv("TL_TORCH_POOL_MB");
  pool->cap = (pm ? static_cast<size_t>(std::max(0, std::atoi(pm))) : eighthOfMemoryMb()) << 20;
  if (napi_set_instance_data(
          env, pool,
          [](napi_env, void* data, void*) { delete static_cast<BufferPool*>(data); },  // refs die with the env
          nullptr) != napi_ok) {
    delete pool;
    return nullptr;
  }
  const NamedFn fns[] = {{"conv2d", Conv2d},
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
  return exportFunctions(env, exports, fns) ? exports : nullptr;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)

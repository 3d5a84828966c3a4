// The device-resident tfjs backend's addon (C N-API, no node-addon-api): tensors live in ATen, on the CPU or a CUDA
// device chosen once by `init`, and JS holds small integer handles into a table of at::Tensors. Kernels take and
// return handles; values cross into JS only through `toArray` (tfjs' dataSync/data) and out of it through `fromArray`
// (tensor creation), the way tfjs-node wraps libtensorflow.
//
// Layout: every stored tensor is contiguous in tfjs' logical shape (row-major; images NHWC). Convolutions, pooling and
// batch norm see NHWC data as channels-last NCHW views (a permute, no copy), and their channels-last results permute
// back to contiguous NHWC, so the hot path has no layout copies. The JS side computes shapes and padding with tfjs' own
// helpers; this file checks what it must and throws a JS error naming the problem otherwise.
#define NAPI_VERSION 8
#include <node_api.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/CPUAllocator.h>
#include <torch/csrc/api/include/torch/version.h>

#include <dlfcn.h>
#include <malloc.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#ifndef RESIDENT_TORCH_CUDA
#define RESIDENT_TORCH_CUDA ""
#endif

// One translation unit: the shared parts of torch_kernels.cc (argument marshalling, the caching allocator, convolution
// options and fused activations, the thread governor with `guarded`, the batch-norm and gradient-mask loops) and the
// resident parts, all with internal linkage.
namespace {

#include "src/marshal.inc"
#include "src/allocator.inc"
#include "src/layout.inc"
#include "src/governor.inc"
#include "src/loops.inc"
#include "resident/handles.inc"
#include "resident/elementwise.inc"
#include "resident/shape.inc"
#include "resident/reduce.inc"
#include "resident/nn.inc"
#include "resident/status.inc"

napi_value Init(napi_env env, napi_value exports) {
  tuneMalloc();
  // Every tensor of this backend is ATen's, so its CPU tensors all come from the caching allocator: a training step frees
  // and reallocates the same activation sizes, which fresh mmaps would page-fault in again (110k faults per MobileNetV2
  // step at 224 px). Cap: TL_TORCH_CACHE_MB, else an eighth of physical memory between 512 MB and 2 GB (the "torch"
  // backend's JS buffer pool holds the same step). If torch_kernels.node loads too it installs its own; blocks keep
  // the deleter of the allocator that made them, so both can coexist.
  const char* cm = std::getenv("TL_TORCH_CACHE_MB");
  installCachingAllocator(cm ? static_cast<size_t>(std::max(0, std::atoi(cm))) : eighthOfMemoryMb());
  const NamedFn fns[] = {{"init", InitDevice},         {"info", Info},
             {"fromArray", FromArray},     {"toArray", ToArray},
             {"dispose", Dispose},         {"liveHandles", LiveHandles},
             {"opNames", OpNames},         {"unary", Unary},
             {"binary", Binary},           {"cast", Cast},
             {"where", Where},             {"addN", AddN},
             {"reshape", Reshape},         {"transpose", Transpose},
             {"slice", Slice},             {"stridedSlice", StridedSlice},
             {"concat", Concat},           {"stack", Stack},
             {"unstack", Unstack},         {"split", Split},
             {"tile", Tile},               {"pad", Pad},
             {"flip", Flip},               {"gather", Gather},
             {"fill", Fill},               {"range", Range},
             {"oneHot", OneHot},           {"broadcastTo", BroadcastTo},
             {"reduce", Reduce},           {"argMinMax", ArgMinMax},
             {"softmax", Softmax},         {"topK", TopK},
             {"cumulative", Cumulative},   {"conv2d", Conv2d},
             {"conv2dBackpropInput", Conv2dBackpropInput},
             {"conv2dBackpropFilter", Conv2dBackpropFilter},
             {"pool", Pool},               {"poolGrad", PoolGrad},
             {"matmul", MatMul},           {"batchNorm", BatchNorm},
             {"batchNormTrain", BatchNormTrain},
             {"batchNormTrainGrad", BatchNormTrainGrad},
             {"setNumThreads", SetNumThreads},
             {"threadStatus", ThreadStatus},
             {"setTf32", SetTf32}};
  return exportFunctions(env, exports, fns) ? exports : nullptr;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)

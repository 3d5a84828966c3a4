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
#include <torch/csrc/api/include/torch/version.h>

#include <dlfcn.h>
#include <sched.h>
#include <unistd.h>
#include <malloc.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#ifndef TL_TORCH_CUDA
#define TL_TORCH_CUDA ""
#endif

// One translation unit: the shared parts of torch_kernels.cc (argument marshalling, convolution options and fused
// activations, the thread governor with `guarded`) and the resident parts, all with internal linkage.
namespace {

#include "src/marshal.inc"
#include "src/layout.inc"
#include "src/governor.inc"
#include "resident/handles.inc"
#include "resident/elementwise.inc"
#include "resident/shape.inc"
#include "resident/reduce.inc"
#include "resident/nn.inc"
#include "resident/status.inc"

napi_value Init(napi_env env, napi_value exports) {
  // As in torch_kernels.cc: activations of 10-40 MB come from the heap (reused) rather than fresh mmaps.
  const char* mo = std::getenv("TL_TORCH_MALLOPT");
  if (!mo || std::string(mo) != "0") {
    const char* mm = std::getenv("TL_TORCH_MMAP_MB");
    mallopt(M_MMAP_THRESHOLD, (mm ? std::atoi(mm) : 64) << 20);
  }
  struct Fn {
    const char* name;
    napi_callback cb;
  } fns[] = {{"init", InitDevice},         {"info", Info},
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
  for (const auto& f : fns) {
    napi_value fn;
    if (napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.cb, nullptr, &fn) != napi_ok) return nullptr;
    if (napi_set_named_property(env, exports, f.name, fn) != napi_ok) return nullptr;
  }
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)

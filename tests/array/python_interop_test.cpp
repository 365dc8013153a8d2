// Python interop: arrays made in C++ are read and written by numpy, both the
// way Python users attach today (multiprocessing.shared_memory + a known
// shape and dtype) and through python/shmkit_array.py (which reads the
// trailer). Every test runs the real interpreter the build was configured
// with; it must have numpy, and a missing numpy is a failure, not a skip.

#include <shmkit/array/dynamic_array.hpp>
#include <shmkit/array/layout.hpp>
#include <shmkit/array/shared_array.hpp>
#include <shmkit/core/error.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace {

using shmkit::SharedArray;
using shmkit::testing::CommandResult;
using shmkit::testing::ScopedName;
using shmkit::testing::TempDir;

// shmkit_array.py reads the seqlock counter for snapshot(); layout.hpp pins
// every other offset it reads.
static_assert(offsetof(shmkit::ArrayTrailer, sequence) == 320,
              "python/shmkit_array.py reads the seqlock counter at trailer offset 320");

// ---------------------------------------------------------------------------
// Values: element i (flat, C order) of an array starts as initial<T>(i); the
// Python side checks that and writes written<T>(i). The same formulas are in
// kPythonPatterns below.

template <class T>
struct Pattern;
template <>
struct Pattern<float> {
  static float initial(std::size_t i) { return static_cast<float>(i) * 0.5F - 3.0F; }
  static float written(std::size_t i) { return static_cast<float>(i) * -1.25F; }
};
template <>
struct Pattern<std::int64_t> {
  static std::int64_t initial(std::size_t i) { return static_cast<std::int64_t>(i) * 1'000'000'000'000 - 7; }
  static std::int64_t written(std::size_t i) { return (std::int64_t{1} << 40) - 3 * static_cast<std::int64_t>(i); }
};
template <>
struct Pattern<std::uint8_t> {
  static std::uint8_t initial(std::size_t i) { return static_cast<std::uint8_t>((i * 7) % 256); }
  static std::uint8_t written(std::size_t i) { return static_cast<std::uint8_t>((i * 3 + 1) % 256); }
};
template <>
struct Pattern<bool> {
  static bool initial(std::size_t i) { return i % 3 == 0; }
  static bool written(std::size_t i) { return i % 2 == 1; }
};
template <>
struct Pattern<std::complex<double>> {
  static std::complex<double> initial(std::size_t i) { return {static_cast<double>(i), -0.5 * static_cast<double>(i)}; }
  static std::complex<double> written(std::size_t i) { return {-static_cast<double>(i), 2.0 * static_cast<double>(i)}; }
};

constexpr const char* kPythonPatterns = R"PY(
import sys
import numpy as np

def initial(dtype, i):
    return {
        "<f4": lambda: i * 0.5 - 3,
        "<i8": lambda: i.astype("<i8") * 10**12 - 7,
        "|u1": lambda: (i * 7) % 256,
        "|b1": lambda: i % 3 == 0,
        "<c16": lambda: i - 0.5j * i,
    }[dtype.str]().astype(dtype)

def written(dtype, i):
    return {
        "<f4": lambda: i * -1.25,
        "<i8": lambda: 2**40 - 3 * i.astype("<i8"),
        "|u1": lambda: (i * 3 + 1) % 256,
        "|b1": lambda: i % 2 == 1,
        "<c16": lambda: -i + 2j * i,
    }[dtype.str]().astype(dtype)

def check_and_write(a):
    i = np.arange(a.size)
    expected = initial(a.dtype, i).reshape(a.shape)
    if not np.array_equal(a, expected):
        bad = np.argwhere(a != expected)[:5]
        print(f"MISMATCH at {bad.tolist()}: got {a[tuple(bad[0])]!r}, expected {expected[tuple(bad[0])]!r}")
        sys.exit(2)
    a[...] = written(a.dtype, i).reshape(a.shape)
)PY";

// Attaches exactly as Python users do today: shape and dtype known in advance.
constexpr const char* kRawScript = R"PY(
from multiprocessing import resource_tracker, shared_memory

name, dtype = sys.argv[1], np.dtype(sys.argv[2])
shape = tuple(int(n) for n in sys.argv[3].split(",") if n)
shm = shared_memory.SharedMemory(name)
resource_tracker.unregister(shm._name, "shared_memory")  # attaching must not unlink
a = np.ndarray(shape, dtype, buffer=shm.buf)  # offset 0
check_and_write(a)
del a
shm.close()
print("raw ok")
)PY";

// Attaches through python/shmkit_array.py, knowing only the name.
constexpr const char* kModuleScript = R"PY(
sys.path.insert(0, sys.argv[2])
import shmkit_array

with shmkit_array.attach(sys.argv[1]) as shared:
    print(f"dtype={shared.dtype.str} shape={shared.shape}")
    a = shared.array
    if not np.array_equal(shared.snapshot(), a):
        print("snapshot differs from the array")
        sys.exit(3)
    check_and_write(a)
    del a
print("module ok")
)PY";

// Attaches without unregistering: Python's resource tracker then unlinks the
// segment at exit. Proves the survival check below can see that failure.
constexpr const char* kTrackedScript = R"PY(
from multiprocessing import shared_memory
shm = shared_memory.SharedMemory(sys.argv[1])
shm.close()
print("tracked attach done")
)PY";

// Takes snapshots while a C++ thread rewrites the whole array under its lock;
// every snapshot must hold one value throughout. It goes on until it has seen
// the writer make progress (bounded, so a loaded machine only makes it slower).
constexpr const char* kSnapshotScript = R"PY(
import time
sys.path.insert(0, sys.argv[3])
import shmkit_array

with shmkit_array.attach(sys.argv[1]) as data, shmkit_array.attach(sys.argv[2]) as stop:
    seen, taken = set(), 0
    deadline = time.monotonic() + 120
    while len(seen) < 20 or taken < 200:
        if time.monotonic() > deadline:
            print(f"the writer made too little progress: {len(seen)} values in {taken} snapshots")
            sys.exit(5)
        copy = data.snapshot(timeout=60.0)
        taken += 1
        if not (copy == copy.flat[0]).all():
            print(f"TORN snapshot: values {np.unique(copy)[:8].tolist()}")
            sys.exit(4)
        seen.add(int(copy.flat[0]))
    stop.array[0] = 1
    print(f"snapshots consistent: {taken} taken, {len(seen)} distinct")
)PY";

std::string quote(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) {
    quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return quoted + "'";
}

std::string shape_arg(const std::vector<std::size_t>& shape) {
  std::string text;
  for (const std::size_t extent : shape) {
    text += (text.empty() ? "" : ",") + std::to_string(extent);
  }
  return text;
}

std::string python_tuple(const std::vector<std::size_t>& shape) {
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    text += (i ? ", " : "") + std::to_string(shape[i]);
  }
  return text + (shape.size() == 1 ? ",)" : ")");
}

std::string module_dir() {
  return shmkit::testing::source_dir() + "/python";
}

bool segment_exists(const std::string& name) {
  struct stat st {};
  return ::stat(("/dev/shm/" + name).c_str(), &st) == 0;
}

// Writes `body` (after the shared pattern code) to a script in `dir`;
// returns its path.
std::string write_script(const TempDir& dir, const std::string& file, const std::string& body) {
  const std::filesystem::path path = dir / file;
  std::ofstream(path) << kPythonPatterns << body;
  return path.string();
}

CommandResult run_python(const std::string& script, const std::vector<std::string>& args) {
  std::string command = quote(shmkit::testing::python()) + " " + quote(script);
  for (const auto& arg : args) {
    command += " " + quote(arg);
  }
  return shmkit::testing::run_command(command);
}

// A segment shmkit did not make: `size` bytes of `fill`.
void make_foreign_segment(const std::string& name, std::size_t size, unsigned char fill) {
  const int fd = ::shm_open(("/" + name).c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
  const std::vector<unsigned char> bytes(size, fill);
  ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(size));
  ::close(fd);
}

// Overwrites bytes of a segment's trailer (offset from the trailer start).
void patch_trailer(const std::string& name, std::size_t offset, const void* bytes, std::size_t count) {
  const int fd = ::shm_open(("/" + name).c_str(), O_RDWR, 0);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  const auto at = static_cast<off_t>(static_cast<std::size_t>(st.st_size) - shmkit::kTrailerBytes + offset);
  ASSERT_EQ(::pwrite(fd, bytes, count, at), static_cast<ssize_t>(count));
  ::close(fd);
}

std::optional<std::string> numpy_problem() {
  static const std::optional<std::string> problem = []() -> std::optional<std::string> {
    const CommandResult result = shmkit::testing::run_command(quote(shmkit::testing::python()) + " -c 'import numpy'");
    if (result.exit_code == 0) {
      return std::nullopt;
    }
    return "'" + shmkit::testing::python() + " -c \"import numpy\"' failed (exit " + std::to_string(result.exit_code) +
           "): " + result.output +
           "The Python interop tests need numpy: install python3-numpy (apt-get install python3-numpy), "
           "or configure with -Dpython=<an interpreter that has numpy>.";
  }();
  return problem;
}

class PythonInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const auto problem = numpy_problem()) {
      FAIL() << *problem;
    }
  }

  // C++ fills, Python checks and writes, C++ reads back; the segment survives.
  template <class T>
  void round_trip(const std::vector<std::size_t>& shape, bool through_module) {
    const ScopedName name;
    auto array = SharedArray<T>::create(name, std::span(shape));
    for (std::size_t i = 0; i < array.size(); ++i) {
      array[i] = Pattern<T>::initial(i);
    }
    const std::string dtype(shmkit::dtype_string(array.dtype()));

    CommandResult result;
    if (through_module) {
      result = run_python(write_script(dir_, "module.py", kModuleScript), {name.str(), module_dir()});
      ASSERT_EQ(result.exit_code, 0) << result.output;
      EXPECT_NE(result.output.find("dtype=" + dtype + " shape=" + python_tuple(shape)), std::string::npos)
          << result.output;
      EXPECT_NE(result.output.find("module ok"), std::string::npos) << result.output;
    } else {
      result = run_python(write_script(dir_, "raw.py", kRawScript), {name.str(), dtype, shape_arg(shape)});
      ASSERT_EQ(result.exit_code, 0) << result.output;
      EXPECT_NE(result.output.find("raw ok"), std::string::npos) << result.output;
    }
    // Python's resource tracker must have left a clean exit: no warning about
    // leaked segments (it would also have unlinked ours).
    EXPECT_EQ(result.output.find("resource_tracker"), std::string::npos) << result.output;

    std::size_t wrong = 0;
    for (std::size_t i = 0; i < array.size(); ++i) {
      if (!(array[i] == Pattern<T>::written(i)) && wrong++ < 5) {
        ADD_FAILURE() << "element " << i << " was not written by Python";
      }
    }
    EXPECT_EQ(wrong, 0U);

    // The name outlives the Python process, and a fresh open sees its writes.
    ASSERT_TRUE(segment_exists(name.str())) << "Python unlinked /dev/shm/" << name.str() << " at exit";
    auto reopened = SharedArray<T>::open(name, std::span(shape));
    EXPECT_TRUE(reopened[0] == Pattern<T>::written(0));
  }

  // shmkit_array.py must refuse `name` with a message holding `key_words`,
  // and must leave the segment in place.
  void expect_refused(const std::string& name, const std::vector<std::string>& key_words) {
    const CommandResult result = run_python(module_dir() + "/shmkit_array.py", {name});
    EXPECT_EQ(result.exit_code, 1) << result.output;
    for (const auto& word : key_words) {
      EXPECT_NE(result.output.find(word), std::string::npos) << "missing '" << word << "' in: " << result.output;
    }
    EXPECT_EQ(result.output.find("Traceback"), std::string::npos) << result.output;
    EXPECT_TRUE(segment_exists(name)) << "a refused segment must not be removed";
  }

  TempDir dir_;
};

TEST_F(PythonInteropTest, InterpreterHasNumpy) {
  const CommandResult result =
      shmkit::testing::run_command(quote(shmkit::testing::python()) + " -c 'import numpy; print(numpy.__version__)'");
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

// (a) multiprocessing.shared_memory + numpy at offset 0, shape and dtype known.

TEST_F(PythonInteropTest, RawNumpyFloat32TwoD) {
  round_trip<float>({3, 4}, false);
}
TEST_F(PythonInteropTest, RawNumpyInt64OneD) {
  round_trip<std::int64_t>({5}, false);
}
TEST_F(PythonInteropTest, RawNumpyUint8ThreeD) {
  round_trip<std::uint8_t>({2, 3, 4}, false);
}
TEST_F(PythonInteropTest, RawNumpyBoolTwoD) {
  round_trip<bool>({4, 4}, false);
}
TEST_F(PythonInteropTest, RawNumpyComplex128ThreeDSpanningPages) {
  round_trip<std::complex<double>>({3, 50, 41}, false);  // 98,400 bytes: not a whole number of pages
}

// (b) python/shmkit_array.py: dtype and shape come from the trailer.

TEST_F(PythonInteropTest, ModuleFloat32TwoD) {
  round_trip<float>({3, 4}, true);
}
TEST_F(PythonInteropTest, ModuleInt64OneD) {
  round_trip<std::int64_t>({5}, true);
}
TEST_F(PythonInteropTest, ModuleUint8ThreeD) {
  round_trip<std::uint8_t>({2, 3, 4}, true);
}
TEST_F(PythonInteropTest, ModuleBoolTwoD) {
  round_trip<bool>({4, 4}, true);
}
TEST_F(PythonInteropTest, ModuleComplex128ThreeDSpanningPages) {
  round_trip<std::complex<double>>({3, 50, 41}, true);
}

TEST_F(PythonInteropTest, ModuleCommandLinePrintsDtypeShapeAndValues) {
  const ScopedName name;
  auto array = SharedArray<std::int32_t>::create(name, {2, 3});
  for (std::size_t i = 0; i < array.size(); ++i) {
    array[i] = static_cast<std::int32_t>(10 * i + 1);
  }
  const CommandResult result = run_python(module_dir() + "/shmkit_array.py", {name.str()});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("<i4"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("(2, 3)"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("pid " + std::to_string(::getpid())), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("[[ 1 11 21]\n [31 41 51]]"), std::string::npos) << result.output;
  EXPECT_TRUE(segment_exists(name.str()));
}

// numpy holds the mapping by reference, not by buffer export: a view must
// keep it mapped after its handle is dropped or closed (else: SIGSEGV).
TEST_F(PythonInteropTest, ModuleViewsOutliveTheirHandle) {
  const ScopedName name;
  auto array = SharedArray<double>::create(name, {2, 3}, {.fill = 1.0});
  const CommandResult result = run_python(write_script(dir_, "views.py", R"PY(
sys.path.insert(0, sys.argv[2])
import gc
import shmkit_array
view = shmkit_array.attach(sys.argv[1]).array  # the handle is garbage at once
closed = shmkit_array.attach(sys.argv[1])
row = closed.array[1]
closed.close()
gc.collect()
view[0, 0] = 42.0
row[2] = 43.0
print(f"views ok, sum {view.sum()}")
)PY"),
                                          {name.str(), module_dir()});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("views ok, sum 89.0"), std::string::npos) << result.output;
  EXPECT_EQ(array[0], 42.0);
  EXPECT_EQ(array[5], 43.0);
}

// (c) the resource tracker must not unlink what Python only attached to.

TEST_F(PythonInteropTest, SegmentSurvivesPythonExit) {
  const ScopedName name;
  auto array = SharedArray<double>::create(name, {16}, {.fill = 2.5});
  const CommandResult result = run_python(write_script(dir_, "module.py", R"PY(
sys.path.insert(0, sys.argv[2])
import shmkit_array
shared = shmkit_array.attach(sys.argv[1])   # never closed: exit cleans up
shared.array[3] = 7.0
)PY"),
                                          {name.str(), module_dir()});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  ASSERT_TRUE(segment_exists(name.str())) << result.output;
  auto reopened = SharedArray<double>::open(name);
  EXPECT_EQ(reopened[3], 7.0);
  EXPECT_EQ(reopened[4], 2.5);
}

TEST_F(PythonInteropTest, TrackedAttachWouldUnlinkSoTheSurvivalCheckHasTeeth) {
  const ScopedName name;
  auto array = SharedArray<double>::create(name, {16});
  const CommandResult result = run_python(write_script(dir_, "tracked.py", kTrackedScript), {name.str()});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  // Python 3.8-3.12 unlink a merely attached segment at exit; if a newer
  // Python stops doing that, this control has nothing left to prove.
  const CommandResult version = shmkit::testing::run_command(
      quote(shmkit::testing::python()) + " -c 'import sys; print(int(sys.version_info < (3, 13)))'");
  if (version.output.starts_with("1")) {
    EXPECT_FALSE(segment_exists(name.str())) << result.output;
  }
}

// (d) refusals: clear errors, no traceback, the segment left alone.

TEST_F(PythonInteropTest, ModuleRefusesForeignSegment) {
  const ScopedName name;
  make_foreign_segment(name.str(), 8192, 0xAB);
  expect_refused(name.str(), {"not a shmkit segment", name.str()});
}

TEST_F(PythonInteropTest, ModuleRefusesSegmentShorterThanTrailer) {
  const ScopedName name;
  make_foreign_segment(name.str(), 100, 0);
  expect_refused(name.str(), {"100 bytes", "too short", "not created by shmkit"});
}

TEST_F(PythonInteropTest, ModuleRefusesEmptySegment) {
  const ScopedName name;
  make_foreign_segment(name.str(), 0, 0);
  expect_refused(name.str(), {"empty"});
}

TEST_F(PythonInteropTest, ModuleRefusesMissingSegment) {
  const ScopedName name;
  const CommandResult result = run_python(module_dir() + "/shmkit_array.py", {name.str()});
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("no such segment"), std::string::npos) << result.output;
}

TEST_F(PythonInteropTest, ModuleRefusesBadName) {
  const CommandResult result = run_python(module_dir() + "/shmkit_array.py", {"bad/name"});
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("character '/'"), std::string::npos) << result.output;
}

TEST_F(PythonInteropTest, ModuleRefusesOtherLayoutVersion) {
  const ScopedName name;
  auto array = SharedArray<float>::create(name, {4});
  const std::uint32_t version = 99;
  patch_trailer(name.str(), offsetof(shmkit::SegmentTag, layout_version), &version, sizeof version);
  expect_refused(name.str(), {"layout version 99", "reads version 1"});
  EXPECT_THROW((void)SharedArray<float>::open(name), shmkit::LayoutError);  // C++ agrees
}

TEST_F(PythonInteropTest, ModuleRefusesOtherSegmentKind) {
  const ScopedName name;
  auto array = SharedArray<float>::create(name, {4});
  const auto kind = static_cast<std::uint32_t>(shmkit::SegmentKind::logger);
  patch_trailer(name.str(), offsetof(shmkit::SegmentTag, kind), &kind, sizeof kind);
  expect_refused(name.str(), {"logger segment, not an array"});
}

TEST_F(PythonInteropTest, ModuleRefusesUnknownDtype) {
  const ScopedName name;
  auto array = SharedArray<float>::create(name, {4});
  const char dtype[8] = "<f3";
  patch_trailer(name.str(), offsetof(shmkit::ArrayTrailer, dtype), dtype, sizeof dtype);
  expect_refused(name.str(), {"unknown dtype '<f3'"});
}

TEST_F(PythonInteropTest, ModuleRefusesShapeThatDoesNotFit) {
  const ScopedName name;
  auto array = SharedArray<float>::create(name, {4});
  const std::uint64_t huge = std::uint64_t{1} << 40;
  const std::uint64_t data_bytes = huge * 4;
  patch_trailer(name.str(), offsetof(shmkit::ArrayTrailer, shape), &huge, sizeof huge);
  patch_trailer(name.str(), offsetof(shmkit::ArrayTrailer, data_bytes), &data_bytes, sizeof data_bytes);
  expect_refused(name.str(), {"does not fit"});
  EXPECT_THROW((void)shmkit::DynamicArray::open(name), shmkit::LayoutError);  // C++ agrees
}

// snapshot() from Python honours the seqlock of C++ lock holders.

TEST_F(PythonInteropTest, ModuleSnapshotIsNeverTornByALockedCppWriter) {
  const ScopedName data_name("data");
  const ScopedName stop_name("stop");
  auto data = SharedArray<std::int64_t>::create(data_name, {64, 128});
  auto stop = SharedArray<std::uint8_t>::create(stop_name, {1});
  std::atomic<bool> give_up{false};

  std::thread writer([&] {
    std::int64_t value = 0;
    while (stop.atomic(0).load(std::memory_order_relaxed) == 0 && !give_up.load()) {
      {
        const shmkit::ArrayLock lock = data.lock();
        ++value;
        // Back to front: a copy running front to back crosses this write
        // whenever the two overlap, so an unchecked copy would come out torn.
        for (std::size_t i = data.size(); i-- > 0;) {
          data[i] = value;
        }
      }
      // Leave the lock free for a while so a reader's copy can fit between
      // two write sections; this paces the load, it synchronises nothing.
      const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
      while (std::chrono::steady_clock::now() < until) {
      }
    }
  });
  const CommandResult result =
      run_python(write_script(dir_, "snapshot.py", kSnapshotScript), {data_name.str(), stop_name.str(), module_dir()});
  give_up = true;
  writer.join();
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("snapshots consistent"), std::string::npos) << result.output;
}

}  // namespace

// Creates a shared array, writes it, reopens it by name and reads it back.
//
// Run:  build/examples/array_quickstart
#include <shmkit/array/shared_array.hpp>

#include <iostream>

int main() {
  auto frames =
      shmkit::SharedArray<float>::create("quickstart-frames", {2, 3}, {.fill = 0.5F, .unlink_on_close = true});
  frames.write({1, 2}, 42.0F, shmkit::Locking::locked);
  const auto again = shmkit::SharedArray<float>::open("quickstart-frames");
  std::cout << "frames[1, 2] = " << again.view()(1, 2) << '\n';
  return 0;
}

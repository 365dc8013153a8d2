// Precompiled header of the test programs: the headers nearly every test
// parses (GoogleTest, the shmkit API, xtensor), about 2 s of compiler time
// per test file without it. Test files still include what they use; this
// header only makes that cheap.

#include <gtest/gtest.h>

#include <shmkit/shmkit.hpp>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xview.hpp>

#include "test_support.hpp"

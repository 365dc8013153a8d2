#pragma once
/// @file
/// Umbrella header: every public shmkit header.

#include <shmkit/array/array_core.hpp>
#include <shmkit/array/dtype.hpp>
#include <shmkit/array/dynamic_array.hpp>
#include <shmkit/array/layout.hpp>
#include <shmkit/array/options.hpp>
#include <shmkit/array/shared_array.hpp>
#include <shmkit/core/error.hpp>
#include <shmkit/core/name.hpp>
#include <shmkit/core/process.hpp>
#include <shmkit/core/robust_mutex.hpp>
#include <shmkit/core/segment.hpp>
#include <shmkit/core/segment_scan.hpp>
#include <shmkit/store/object_id.hpp>
#include <shmkit/store/store_client.hpp>
#include <shmkit/store/store_options.hpp>
#include <shmkit/store/store_server.hpp>

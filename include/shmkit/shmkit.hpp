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
#include <shmkit/logger/archive_reader.hpp>
#include <shmkit/logger/assemble.hpp>
#include <shmkit/logger/data_logger.hpp>
#include <shmkit/logger/layout.hpp>
#include <shmkit/logger/log_package.hpp>
#include <shmkit/logger/log_writer.hpp>
#include <shmkit/logger/npy.hpp>
#include <shmkit/logger/npz_writer.hpp>
#include <shmkit/logger/options.hpp>
#include <shmkit/logger/record_file.hpp>

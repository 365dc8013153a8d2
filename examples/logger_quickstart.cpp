// A logger in this process, a producer in a forked child: the child logs an
// onset entry and 1,000 messages through its shared-memory ring, the parent
// stops the logger (drain + fsync), assembles 1_log.npz and reads it back.
//
// Run:  build/examples/logger_quickstart [OUTPUT_DIR]      (default: /tmp)
// Then: /usr/bin/python3 -c "import numpy as np;
// print(len(np.load('OUTPUT_DIR/quickstart-PID_data_log/1_log.npz').files))"
//       build/src/cli/shmkit log cat OUTPUT_DIR/quickstart-PID_data_log/1_log.npz --limit 5
#include <shmkit/logger/archive_reader.hpp>
#include <shmkit/logger/assemble.hpp>
#include <shmkit/logger/data_logger.hpp>
#include <shmkit/logger/log_writer.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  const std::string output = argc > 1 ? argv[1] : "/tmp";
  const std::string instance = "quickstart-" + std::to_string(::getpid());

  shmkit::DataLogger logger(output, instance);  // creates /dev/shm/shmkit-log.<instance>
  // Fork before start(): the child then copies a process without threads.
  const pid_t child = ::fork();
  if (child == 0) {
    auto writer = shmkit::LogWriter::connect(instance);
    writer.write_onset(1);  // time 0, payload = UTC epoch in µs
    for (int i = 0; i < 1000; ++i) {
      const std::string message = "sample " + std::to_string(i);
      writer.log_now(1, std::as_bytes(std::span(message)));  // time = µs since the onset
    }
    ::_exit(0);
  }
  logger.start();
  int status = 0;
  ::waitpid(child, &status, 0);
  const shmkit::LoggerStats stats = logger.stop();  // drains every ring, fsyncs the record files
  std::cout << "saved " << stats.entries_saved << " entries, dropped " << stats.dropped << '\n';

  const auto report = shmkit::assemble_log_archives(logger.log_directory());
  std::cout << "assembled " << report.entries << " entries into " << report.sources.at(0).archive.string() << '\n';

  const shmkit::LogArchiveReader reader(report.sources.at(0).archive);
  std::cout << "onset " << reader.onset_us().value_or(0) << " us since the epoch, " << reader.message_count()
            << " messages\n";
  int shown = 0;
  reader.for_each_message([&](const shmkit::LogMessage& m) {
    if (shown++ < 3) {
      std::cout << "  " << m.timestamp_us << ": "
                << std::string(reinterpret_cast<const char*>(m.payload.data()), m.payload.size()) << '\n';
    }
  });
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

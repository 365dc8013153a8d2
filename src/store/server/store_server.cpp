#include <shmkit/store/store_server.hpp>

#include <utility>

#include "store/server/event_loop.hpp"

namespace shmkit {

StoreServer StoreServer::start(StoreOptions options) {
  return StoreServer(std::make_unique<detail::EventLoop>(std::move(options)));
}

StoreServer::StoreServer(std::unique_ptr<detail::EventLoop> loop) noexcept : loop_(std::move(loop)) {}
StoreServer::StoreServer(StoreServer&&) noexcept = default;
StoreServer& StoreServer::operator=(StoreServer&&) noexcept = default;
StoreServer::~StoreServer() = default;

void StoreServer::stop() noexcept {
  if (loop_) {
    loop_->stop();
  }
}

const std::string& StoreServer::socket_path() const noexcept {
  return loop_->socket_path();
}

StoreStats StoreServer::stats() const noexcept {
  return loop_->stats();
}

}  // namespace shmkit

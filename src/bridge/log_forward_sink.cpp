#include "bridge/log_forward_sink.hpp"

#include <sys/uio.h>

#include <charconv>
#include <cstdio>
#include <iostream>
#include <random>
#include <string_view>

#include "bridge/log_keys.hpp"
#include "bridge/sigpipe_guard.hpp"

namespace shmkit::detail {

namespace {

using Clock = std::chrono::steady_clock;

template <class T>
bool parse(std::string_view text, T& value) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

// Appends one bulk string of the Redis protocol.
void append_bulk(std::string& out, std::string_view arg) {
  out += '$';
  out += std::to_string(arg.size());
  out += "\r\n";
  out += arg;
  out += "\r\n";
}

// Appends one command in the Redis protocol (RESP).
void append_command(std::string& out, const std::vector<std::string_view>& args) {
  out += '*';
  out += std::to_string(args.size());
  out += "\r\n";
  for (const std::string_view arg : args) {
    append_bulk(out, arg);
  }
}

}  // namespace

RedisLogSink::RedisLogSink(const LogForwarderOptions& options, RedisEndpoint endpoint, std::string origin,
                           LogForwardCounters& counters)
    : options_(options),
      endpoint_(std::move(endpoint)),
      origin_(std::move(origin)),
      stream_(log_stream_key(options.prefix, origin_)),
      state_key_(log_forward_state_key(options.prefix, origin_)),
      counters_(counters),
      backoff_(options.min_backoff, options.max_backoff) {}

void RedisLogSink::log(const std::string& line) const {
  const std::string text = "log forward " + origin_ + ": " + line;
  if (options_.log) {
    options_.log(text);
  } else {
    std::cerr << "shmkit " << text << std::endl;
  }
}

void RedisLogSink::disconnect(const std::string& why) {
  redis_.reset();
  counters_.connected.store(false);
  counters_.redis_errors.fetch_add(1);
  next_attempt_ = Clock::now() + backoff_.next();
  if (!paused_) {
    paused_ = true;
    paused_since_ = Clock::now();
    log(why + "; forwarding paused, the entries stay in the rings (the writers' full policy applies), retrying");
  }
}

void RedisLogSink::load_state() {
  committed_.clear();
  sequences_.fill(0);
  // The epoch names this incarnation of the state: if Redis loses the hash
  // (no persistence), sequence numbers restart under a new epoch, which
  // tells the collector they are new rather than duplicates.
  std::random_device random;
  char fresh[17];
  std::snprintf(fresh, sizeof fresh, "%08x%08x", random(), random());
  const OwnedReply created = redis_->command({"HSETNX", state_key_, "epoch", fresh});
  if (created.get().is_error()) {
    throw RedisError("HSETNX " + state_key_ + ": " + std::string(created.get().text()));
  }
  epoch_.clear();
  const OwnedReply all = redis_->command({"HGETALL", state_key_});
  const RedisReply r = all.get();
  if (r.is_error()) {
    throw RedisError("HGETALL " + state_key_ + ": " + std::string(r.text()));
  }
  for (std::size_t i = 0; i + 1 < r.size(); i += 2) {
    const std::string_view field = r[i].text();
    const std::string_view value = r[i + 1].text();
    if (field == "epoch") {
      epoch_ = std::string(value);
    } else if (field.starts_with('n')) {
      unsigned source = 0;
      std::uint64_t sequence = 0;
      if (parse(field.substr(1), source) && source < 256 && parse(value, sequence)) {
        sequences_[source] = sequence;
      }
    } else if (field.starts_with('r')) {
      std::uint32_t slot = 0;
      const auto c1 = value.find(':');
      const auto c2 = value.find(':', c1 == std::string_view::npos ? c1 : c1 + 1);
      Last last;
      if (parse(field.substr(1), slot) && c2 != std::string_view::npos && parse(value.substr(0, c1), last.segment_ns) &&
          parse(value.substr(c1 + 1, c2 - c1 - 1), last.generation) && parse(value.substr(c2 + 1), last.position)) {
        committed_[slot] = last;
      }
    }
  }
  if (epoch_.empty()) {
    throw RedisError("the forward state " + state_key_ + " has no epoch");
  }
}

void RedisLogSink::put_back_state() {
  std::vector<std::string_view> hset{"HSET", state_key_};
  std::vector<std::string_view> hdel{"HDEL", state_key_};
  for (const auto& [field, value] : put_back_) {
    if (value.empty()) {
      hdel.push_back(field);
    } else {
      hset.push_back(field);
      hset.push_back(value);
    }
  }
  for (const auto* command : {&hset, &hdel}) {
    if (command->size() > 2) {
      const OwnedReply r = redis_->command(*command);
      if (r.get().is_error()) {
        throw RedisError("cannot set the forward state " + state_key_ + " back: " + std::string(r.get().text()));
      }
    }
  }
  put_back_.clear();
}

void RedisLogSink::connect() {
  redis_.emplace(RedisClient::connect(endpoint_, options_.password, options_.redis_timeout));
  if (!put_back_.empty()) {
    put_back_state();
  }
  load_state();
  const OwnedReply added = redis_->command({"SADD", log_origins_key(options_.prefix), origin_});
  if (added.get().is_error()) {
    throw RedisError("SADD: " + std::string(added.get().text()));
  }
  counters_.connects.fetch_add(1);
  counters_.connected.store(true);
  backoff_.reset();
  if (paused_) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - paused_since_).count();
    log("connected to Redis at '" + endpoint_.url + "' after " + std::to_string(ms) + " ms; forwarding resumed");
  } else {
    log("connected to Redis at '" + endpoint_.url + "', appending to stream '" + stream_ + "'");
  }
  paused_ = false;
}

bool RedisLogSink::ready() {
  if (redis_) {
    return true;
  }
  if (Clock::now() < next_attempt_) {
    return false;
  }
  try {
    const SigpipeBlockedOnThisThread sigpipe_blocked;
    connect();
    return true;
  } catch (const std::exception& e) {
    disconnect(std::string("cannot reach Redis: ") + e.what());
    return false;
  }
}

void RedisLogSink::write(const LogSinkEntry& entry) {
  Pending p{};
  p.ring = entry.ring;
  p.source = entry.source_id;
  p.time = entry.acquisition_time;
  p.record.offset = arena_.size();
  p.record.size = kLogEntryHeaderBytes + entry.size();
  arena_.append(kLogEntryHeaderBytes, '\0');
  arena_.append(reinterpret_cast<const char*>(entry.first.data()), entry.first.size());
  arena_.append(reinterpret_cast<const char*>(entry.second.data()), entry.second.size());
  batch_.push_back(p);
}

void RedisLogSink::commit() {
  if (batch_.empty()) {
    return;
  }
  if (!redis_) {
    throw LogSinkUnavailable("log forward " + origin_ + ": Redis is not connected");
  }
  // Which entries Redis lacks, and their sequence numbers.
  std::map<std::uint32_t, Last> last = committed_;
  std::array<std::uint64_t, 256> sequences = sequences_;
  std::array<bool, 256> touched{};
  std::vector<Field> sends;  // the stream messages: runs of entries in the arena
  std::uint64_t sent = 0;
  std::uint64_t skipped = 0;
  std::uint64_t bytes = 0;
  for (const Pending& p : batch_) {
    const auto it = last.find(p.ring.slot);
    if (it != last.end() && it->second.segment_ns == p.ring.segment_created_ns &&
        it->second.generation == p.ring.generation && p.ring.position <= it->second.position) {
      ++skipped;  // handed over again after a crash or a failed commit: already in the stream
      continue;
    }
    last[p.ring.slot] = Last{p.ring.segment_created_ns, p.ring.generation, p.ring.position};
    touched[p.source] = true;
    encode_log_entry_header(arena_.data() + p.record.offset,
                            static_cast<std::uint32_t>(p.record.size - kLogEntryHeaderBytes), p.source,
                            ++sequences[p.source], p.time);
    // Entries adjacent in the arena share a message up to kLogPackBytes.
    if (!sends.empty() && sends.back().offset + sends.back().size == p.record.offset &&
        sends.back().size < kLogPackBytes) {
      sends.back().size += p.record.size;
    } else {
      sends.push_back(p.record);
    }
    bytes += p.record.size - kLogEntryHeaderBytes;
    ++sent;
  }
  if (sends.empty()) {
    counters_.resent_skipped.fetch_add(skipped, std::memory_order_relaxed);
    abandon();
    return;
  }
  // The state fields this batch changes: the last entry of each writer
  // slot it moved, the sequence number of each source it numbered.
  const auto slot_moved = [this](std::uint32_t slot, const Last& l) {
    const auto before = committed_.find(slot);
    return before == committed_.end() || before->second.position != l.position ||
           before->second.generation != l.generation || before->second.segment_ns != l.segment_ns;
  };
  std::vector<std::string> state;  // field, value pairs of the forward state hash
  for (const auto& [slot, l] : last) {
    if (slot_moved(slot, l)) {
      state.push_back("r" + std::to_string(slot));
      state.push_back(state_value(l));
    }
  }
  for (unsigned source = 0; source < 256; ++source) {
    if (touched[source]) {
      state.push_back("n" + std::to_string(source));
      state.push_back(std::to_string(sequences[source]));
    }
  }
  // The transaction in the protocol's own form: the framing in one
  // buffer, the messages' bytes gathered from the arena where write() put
  // them, so a payload is copied once between the ring and the socket.
  std::string framing;
  std::vector<std::size_t> cuts;  // framing offsets after each message's header
  append_command(framing, {"MULTI"});
  for (const Field& record : sends) {
    framing += "*7\r\n";
    for (const std::string_view arg : {std::string_view("XADD"), std::string_view(stream_), std::string_view("*"),
                                       std::string_view("g"), std::string_view(epoch_), std::string_view("e")}) {
      append_bulk(framing, arg);
    }
    framing += "$" + std::to_string(record.size) + "\r\n";
    cuts.push_back(framing.size());
    framing += "\r\n";
  }
  std::vector<std::string_view> hset{"HSET", state_key_};
  for (const std::string& s : state) {
    hset.push_back(s);
  }
  append_command(framing, hset);
  append_command(framing, {"EXEC"});
  std::vector<iovec> parts;
  parts.reserve(2 * sends.size() + 1);
  std::size_t from = 0;
  for (std::size_t i = 0; i < sends.size(); ++i) {
    parts.push_back(iovec{framing.data() + from, cuts[i] - from});
    parts.push_back(iovec{arena_.data() + sends[i].offset, sends[i].size});
    from = cuts[i];
  }
  parts.push_back(iovec{framing.data() + from, framing.size() - from});
  try {
    const SigpipeBlockedOnThisThread sigpipe_blocked;
    redis_->send_raw(parts);
    std::string queue_error;
    const std::size_t queued = sends.size() + 2;  // MULTI, the XADDs, HSET
    for (std::size_t i = 0; i < queued; ++i) {
      const OwnedReply r = redis_->reply();
      if (r.get().is_error() && queue_error.empty()) {
        queue_error = std::string(r.get().text());
      }
    }
    const OwnedReply exec = redis_->reply();
    if (!queue_error.empty() || !exec.get().is_array()) {
      // Redis refused the transaction as a whole (out of memory, a
      // malformed command): nothing was added; tried again after a pause.
      throw RedisError("Redis refused the transaction: " +
                       (queue_error.empty() ? std::string(exec.get().text()) : queue_error));
    }
    for (std::size_t i = 0; i < exec.get().size(); ++i) {
      if (exec.get()[i].is_error()) {
        // A command failed inside EXEC (the stream key holds another
        // type): the others ran, the state hash among them. Set it back
        // to what the stream really holds before anything else happens.
        const std::string why(exec.get()[i].text());
        for (const auto& [slot, l] : last) {
          if (slot_moved(slot, l)) {
            const auto before = committed_.find(slot);
            put_back_.emplace_back("r" + std::to_string(slot),
                                   before == committed_.end() ? std::string() : state_value(before->second));
          }
        }
        for (unsigned source = 0; source < 256; ++source) {
          if (touched[source]) {
            put_back_.emplace_back("n" + std::to_string(source), std::to_string(sequences_[source]));
          }
        }
        put_back_state();
        throw RedisError("Redis ran the transaction but refused a command in it (" + why + ") on stream '" + stream_ +
                         "'; nothing of it counts as forwarded");
      }
    }
  } catch (const RedisError& e) {
    abandon();
    disconnect(e.what());  // the state is read again at reconnection: EXEC may have run
    throw LogSinkUnavailable(e.what());
  }
  committed_ = std::move(last);
  sequences_ = sequences;
  counters_.forwarded.fetch_add(sent, std::memory_order_relaxed);
  counters_.forwarded_bytes.fetch_add(bytes, std::memory_order_relaxed);
  counters_.resent_skipped.fetch_add(skipped, std::memory_order_relaxed);
  counters_.transactions.fetch_add(1, std::memory_order_relaxed);
  abandon();
}

void RedisLogSink::abandon() noexcept {
  batch_.clear();
  arena_.clear();
  if (arena_.capacity() > (std::size_t{256} << 20)) {
    arena_.shrink_to_fit();
  }
}

}  // namespace shmkit::detail

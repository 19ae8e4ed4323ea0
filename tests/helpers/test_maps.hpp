// Test doubles of the Map interface (include/bpfvm/map.hpp): small, obviously correct maps
// with Linux's return values, so the helpers and engines are tested without the maps layer.
#pragma once

#include <bpfvm/map.hpp>
#include <bpfvm/program.hpp>

#include "support/map_spec.hpp"

#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bpfvm::helper_test {

using test::map_spec;

// BPF_MAP_TYPE_ARRAY: u32 keys, zeroed values, no delete.
class ArrayMap : public Map {
 public:
  explicit ArrayMap(std::uint32_t value_size, std::uint32_t max_entries, std::uint32_t flags = 0)
      : Map(map_spec(MapType::array, 4, value_size, max_entries, flags)),
        data_(static_cast<std::size_t>(value_size) * max_entries) {}
  void* lookup(const void* key) override {
    std::uint32_t index;
    std::memcpy(&index, key, 4);
    if (index >= spec().max_entries) return nullptr;
    return data_.data() + static_cast<std::size_t>(index) * spec().value_size;
  }
  int update(const void* key, const void* value, std::uint64_t flags) override {
    if (flags == map_update::noexist) return -EEXIST;
    void* slot = lookup(key);
    if (slot == nullptr) return -E2BIG;
    std::memcpy(slot, value, spec().value_size);
    return 0;
  }
  int erase(const void*) override { return -EINVAL; }
  int get_next_key(const void* key, void* next) override {
    std::uint32_t index = 0;
    if (key != nullptr) {
      std::memcpy(&index, key, 4);
      index = index >= spec().max_entries ? 0 : index + 1;
    }
    if (index >= spec().max_entries) return -ENOENT;
    std::memcpy(next, &index, 4);
    return 0;
  }
  long for_each(const std::function<long(const void*, void*)>& visit) override {
    long count = 0;
    for (std::uint32_t i = 0; i < spec().max_entries; ++i) {
      ++count;
      if (visit(&i, data_.data() + static_cast<std::size_t>(i) * spec().value_size) != 0) break;
    }
    return count;
  }
  void* direct_value() override { return data_.data(); }
  std::uint8_t* data() { return data_.data(); }

 private:
  std::vector<std::uint8_t> data_;
};

// BPF_MAP_TYPE_HASH: any key size, BPF_NOEXIST / BPF_EXIST, -E2BIG when full.
class HashMap : public Map {
 public:
  HashMap(std::uint32_t key_size, std::uint32_t value_size, std::uint32_t max_entries)
      : Map(map_spec(MapType::hash, key_size, value_size, max_entries)) {}
  void* lookup(const void* key) override {
    auto it = entries_.find(as_key(key));
    return it == entries_.end() ? nullptr : it->second.get();
  }
  int update(const void* key, const void* value, std::uint64_t flags) override {
    if (flags > map_update::exist) return -EINVAL;
    auto k = as_key(key);
    auto it = entries_.find(k);
    if (it != entries_.end()) {
      if (flags == map_update::noexist) return -EEXIST;
      std::memcpy(it->second.get(), value, spec().value_size);
      return 0;
    }
    if (flags == map_update::exist) return -ENOENT;
    if (entries_.size() >= spec().max_entries) return -E2BIG;
    auto storage = std::make_unique<std::uint8_t[]>(spec().value_size);
    std::memcpy(storage.get(), value, spec().value_size);
    entries_.emplace(std::move(k), std::move(storage));
    return 0;
  }
  int erase(const void* key) override { return entries_.erase(as_key(key)) != 0 ? 0 : -ENOENT; }
  int get_next_key(const void*, void*) override { return -ENOENT; }
  long for_each(const std::function<long(const void*, void*)>& visit) override {
    long count = 0;
    for (auto& [key, value] : entries_) {
      ++count;
      if (visit(key.data(), value.get()) != 0) break;
    }
    return count;
  }
  std::size_t size() const { return entries_.size(); }

 private:
  std::string as_key(const void* key) const {
    return std::string(static_cast<const char*>(key), spec().key_size);
  }
  std::map<std::string, std::unique_ptr<std::uint8_t[]>> entries_;
};

// BPF_MAP_TYPE_QUEUE (FIFO) or BPF_MAP_TYPE_STACK (LIFO).
class QueueMap : public Map {
 public:
  QueueMap(MapType type, std::uint32_t value_size, std::uint32_t max_entries)
      : Map(map_spec(type, 0, value_size, max_entries)) {}
  void* lookup(const void*) override { return nullptr; }
  int update(const void*, const void*, std::uint64_t) override { return -EINVAL; }
  int erase(const void*) override { return -EINVAL; }
  int get_next_key(const void*, void*) override { return -EINVAL; }
  int push(const void* value, std::uint64_t flags) override {
    if (items_.size() >= spec().max_entries) {
      if (flags != map_update::exist) return -E2BIG;
      items_.pop_front();  // BPF_EXIST: make room by dropping the oldest
    }
    auto* p = static_cast<const std::uint8_t*>(value);
    items_.emplace_back(p, p + spec().value_size);
    return 0;
  }
  int pop(void* value) override {
    if (int r = peek(value); r != 0) return r;
    if (type() == MapType::queue)
      items_.pop_front();
    else
      items_.pop_back();
    return 0;
  }
  int peek(void* value) override {
    if (items_.empty()) return -ENOENT;
    const auto& item = type() == MapType::queue ? items_.front() : items_.back();
    std::memcpy(value, item.data(), item.size());
    return 0;
  }

 private:
  std::deque<std::vector<std::uint8_t>> items_;
};

// BPF_MAP_TYPE_PROG_ARRAY.
class ProgArray : public ProgramArrayMap {
 public:
  explicit ProgArray(std::uint32_t max_entries)
      : ProgramArrayMap(map_spec(MapType::prog_array, 4, 4, max_entries)), programs_(max_entries) {}
  void* lookup(const void*) override { return nullptr; }
  int update(const void*, const void*, std::uint64_t) override { return -EINVAL; }
  int erase(const void*) override { return -EINVAL; }
  int get_next_key(const void*, void*) override { return -ENOENT; }
  int set(std::uint32_t index, std::shared_ptr<const Program> program) override {
    if (index >= programs_.size()) return -E2BIG;
    programs_[index] = std::move(program);
    return 0;
  }
  const Program* get(std::uint32_t index) const override {
    return index < programs_.size() ? programs_[index].get() : nullptr;
  }

 private:
  std::vector<std::shared_ptr<const Program>> programs_;
};

// BPF_MAP_TYPE_ARRAY_OF_MAPS: lookup returns the inner Map* itself.
class ArrayOfMaps : public MapOfMaps {
 public:
  explicit ArrayOfMaps(std::uint32_t max_entries)
      : MapOfMaps(map_spec(MapType::array_of_maps, 4, 4, max_entries)), inner_(max_entries) {}
  void* lookup(const void* key) override {
    std::uint32_t index;
    std::memcpy(&index, key, 4);
    return index < inner_.size() ? inner_[index].get() : nullptr;
  }
  int update(const void*, const void*, std::uint64_t) override { return -EINVAL; }
  int erase(const void*) override { return -EINVAL; }
  int get_next_key(const void*, void*) override { return -ENOENT; }
  int set(const void* key, std::shared_ptr<Map> inner) override {
    std::uint32_t index;
    std::memcpy(&index, key, 4);
    if (index >= inner_.size()) return -E2BIG;
    inner_[index] = std::move(inner);
    return 0;
  }

 private:
  std::vector<std::shared_ptr<Map>> inner_;
};

// BPF_MAP_TYPE_RINGBUF, simplified: records are separate buffers; the capacity counts
// bytes of records not yet consumed (8-byte header each, as Linux).
class RingBuf : public RingBufferMap {
 public:
  explicit RingBuf(std::uint32_t size) : RingBufferMap(map_spec(MapType::ringbuf, 0, 0, size)) {}
  void* lookup(const void*) override { return nullptr; }
  int update(const void*, const void*, std::uint64_t) override { return -EINVAL; }
  int erase(const void*) override { return -EINVAL; }
  int get_next_key(const void*, void*) override { return -EINVAL; }
  void* reserve(std::uint64_t size, std::uint64_t flags) override {
    if (flags != 0 || used_ + 8 + size > spec().max_entries) return nullptr;
    used_ += 8 + size;
    records_.push_back({std::vector<std::uint8_t>(size), State::busy});
    return records_.back().data.data();
  }
  void submit(void* record, std::uint64_t) override { find(record).state = State::submitted; }
  void discard(void* record, std::uint64_t) override { find(record).state = State::discarded; }
  int output(const void* data, std::uint64_t size, std::uint64_t flags) override {
    void* record = reserve(size, flags);
    if (record == nullptr) return -EAGAIN;
    std::memcpy(record, data, size);
    submit(record, 0);
    return 0;
  }
  std::uint64_t query(std::uint64_t flags) const override {
    switch (flags) {
      case 0: return used_;
      case 1: return spec().max_entries;
      default: return 0;
    }
  }
  long consume(const std::function<int(const void*, std::size_t)>& sample) override {
    long n = 0;
    while (!records_.empty() && records_.front().state != State::busy) {
      Record record = std::move(records_.front());
      records_.pop_front();
      used_ -= 8 + record.data.size();
      if (record.state == State::submitted) {
        ++n;
        if (sample(record.data.data(), record.data.size()) != 0) break;
      }
    }
    return n;
  }
  std::size_t busy() const {
    std::size_t n = 0;
    for (const Record& r : records_) n += r.state == State::busy;
    return n;
  }
  std::size_t discarded() const {
    std::size_t n = 0;
    for (const Record& r : records_) n += r.state == State::discarded;
    return n;
  }

 private:
  enum class State { busy, submitted, discarded };
  struct Record {
    std::vector<std::uint8_t> data;
    State state;
  };
  Record& find(void* record) {
    for (Record& r : records_)
      if (r.data.data() == record) return r;
    std::abort();
  }
  std::deque<Record> records_;
  std::uint64_t used_ = 0;
};

}  // namespace bpfvm::helper_test

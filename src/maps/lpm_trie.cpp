// BPF_MAP_TYPE_LPM_TRIE (kernel/bpf/lpm_trie.c): longest-prefix match over keys that are
// struct bpf_lpm_trie_key_u8 { __u32 prefixlen; __u8 data[]; }, prefixlen in host order, data
// in network order (most significant bit first).
//
// The same path-compressed binary trie as Linux: each node holds a prefix; "intermediate"
// nodes exist only to join two subtrees and carry no value. Readers walk child pointers
// without locks under an epoch pin; writers hold one map-wide lock (Linux: trie->lock) and
// publish new nodes by swinging one pointer, retiring the nodes they unlink.
//
// get_next_key follows Linux's post-order: more specific prefixes before their covering
// prefix, the 0 branch before the 1 branch; a missing key starts over from the first.
#include "maps/epoch.hpp"
#include "maps/map_common.hpp"

#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

namespace bpfvm::maps {
namespace {

struct LpmNode {
  std::atomic<LpmNode*> child[2] = {nullptr, nullptr};
  std::uint32_t prefixlen = 0;
  std::atomic<bool> intermediate{false};
  // followed by the key data (data_size bytes, padded to 8) and the value
};

constexpr std::size_t kLpmHeader = round_up8(sizeof(LpmNode));

void free_lpm_node(void* node) {
  static_cast<LpmNode*>(node)->~LpmNode();
  std::free(node);
}

class LpmTrie final : public Map {
 public:
  explicit LpmTrie(const MapSpec& spec)
      : Map(spec),
        data_size_(spec.key_size - 4),
        max_prefixlen_(static_cast<std::uint32_t>(data_size_ * 8)),
        value_offset_(kLpmHeader + round_up8(data_size_)),
        node_size_(value_offset_ + round_up8(spec.value_size)) {}

  ~LpmTrie() override { destroy(root_.load(std::memory_order_relaxed)); }

  // trie_lookup_elem: the deepest non-intermediate node whose prefix matches the key's first
  // min(node prefixlen, key prefixlen) bits.
  void* lookup(const void* key) override {
    epoch::Guard guard;
    LpmNode* found = match(key);
    return found ? value_of(found) : nullptr;
  }

  int host_lookup(const void* key, void* value) override {
    BPFVM_HOST_READ();
    epoch::Guard guard;
    LpmNode* found = match(key);
    if (found == nullptr) return -ENOENT;
    std::memcpy(value, value_of(found), spec().value_size);
    return 0;
  }

  // trie_update_elem.
  int update(const void* key, const void* value, std::uint64_t flags) override {
    if (flags > map_update::exist) return -EINVAL;
    const std::uint32_t prefixlen = prefixlen_of(key);
    if (prefixlen > max_prefixlen_) return -EINVAL;
    const auto* data = data_of(key);
    epoch::Guard guard;
    std::lock_guard lock(mutex_);

    std::atomic<LpmNode*>* slot = &root_;
    LpmNode* node = nullptr;
    std::uint32_t matchlen = 0;
    while ((node = slot->load(std::memory_order_relaxed)) != nullptr) {
      matchlen = match_len(node, prefixlen, data);
      if (node->prefixlen != matchlen || node->prefixlen == prefixlen ||
          node->prefixlen == max_prefixlen_) {
        break;
      }
      slot = &node->child[bit(data, node->prefixlen)];
    }

    if (node == nullptr) {
      int rc = check_add(flags);
      if (rc != 0) return rc;
      slot->store(new_node(prefixlen, data, value), std::memory_order_release);
      return 0;
    }
    if (node->prefixlen == matchlen) {  // the same prefix: replace the node
      if (!node->intermediate.load(std::memory_order_relaxed)) {
        if (flags == map_update::noexist) return -EEXIST;
      } else {
        int rc = check_add(flags);
        if (rc != 0) return rc;
      }
      LpmNode* replacement = new_node(prefixlen, data, value);
      for (int i = 0; i < 2; ++i) {
        replacement->child[i].store(node->child[i].load(std::memory_order_relaxed),
                                    std::memory_order_relaxed);
      }
      slot->store(replacement, std::memory_order_release);
      epoch::retire(node, free_lpm_node);
      return 0;
    }
    int rc = check_add(flags);
    if (rc != 0) return rc;
    LpmNode* fresh = new_node(prefixlen, data, value);
    if (matchlen == prefixlen) {  // the new prefix covers `node`: insert it above
      fresh->child[bit(data_of_node(node), matchlen)].store(node, std::memory_order_relaxed);
      slot->store(fresh, std::memory_order_release);
      return 0;
    }
    // They diverge at bit `matchlen`: join them under an intermediate node.
    LpmNode* joint = new_node(matchlen, data_of_node(node), nullptr);
    joint->intermediate.store(true, std::memory_order_relaxed);
    const unsigned fresh_side = bit(data, matchlen);
    joint->child[fresh_side].store(fresh, std::memory_order_relaxed);
    joint->child[1 - fresh_side].store(node, std::memory_order_relaxed);
    slot->store(joint, std::memory_order_release);
    return 0;
  }

  // trie_delete_elem: exact prefix only.
  int erase(const void* key) override {
    const std::uint32_t prefixlen = prefixlen_of(key);
    if (prefixlen > max_prefixlen_) return -EINVAL;
    const auto* data = data_of(key);
    epoch::Guard guard;
    std::lock_guard lock(mutex_);

    std::atomic<LpmNode*>* trim = &root_;
    std::atomic<LpmNode*>* trim2 = trim;
    LpmNode* parent = nullptr;
    LpmNode* node = nullptr;
    std::uint32_t matchlen = 0;
    while ((node = trim->load(std::memory_order_relaxed)) != nullptr) {
      matchlen = match_len(node, prefixlen, data);
      if (node->prefixlen != matchlen || node->prefixlen == prefixlen) break;
      parent = node;
      trim2 = trim;
      trim = &node->child[bit(data, node->prefixlen)];
    }
    if (node == nullptr || node->prefixlen != prefixlen || node->prefixlen != matchlen ||
        node->intermediate.load(std::memory_order_relaxed)) {
      return -ENOENT;
    }
    --entries_;
    LpmNode* left = node->child[0].load(std::memory_order_relaxed);
    LpmNode* right = node->child[1].load(std::memory_order_relaxed);
    if (left != nullptr && right != nullptr) {
      // Still needed to join its children: it becomes intermediate (readers holding its value
      // keep a valid pointer; the node lives on).
      node->intermediate.store(true, std::memory_order_release);
      return 0;
    }
    if (parent != nullptr && parent->intermediate.load(std::memory_order_relaxed) &&
        left == nullptr && right == nullptr) {
      // A leaf under an intermediate node: the sibling takes the parent's place.
      LpmNode* sibling = parent->child[0].load(std::memory_order_relaxed) == node
                             ? parent->child[1].load(std::memory_order_relaxed)
                             : parent->child[0].load(std::memory_order_relaxed);
      trim2->store(sibling, std::memory_order_release);
      epoch::retire(parent, free_lpm_node);
      epoch::retire(node, free_lpm_node);
      return 0;
    }
    trim->store(left != nullptr ? left : right, std::memory_order_release);
    epoch::retire(node, free_lpm_node);
    return 0;
  }

  // trie_get_next_key: post-order successor of the exact node for `key`, else the first.
  int get_next_key(const void* key, void* next_key) override {
    BPFVM_HOST_READ();
    epoch::Guard guard;
    std::lock_guard lock(mutex_);  // a stable shape; walks are host operations
    LpmNode* search_root = root_.load(std::memory_order_relaxed);
    if (search_root == nullptr) return -ENOENT;
    if (key != nullptr && prefixlen_of(key) <= max_prefixlen_) {
      const std::uint32_t prefixlen = prefixlen_of(key);
      const auto* data = data_of(key);
      std::vector<LpmNode*> stack;
      LpmNode* node = search_root;
      std::uint32_t matchlen = 0;
      while (node != nullptr) {
        stack.push_back(node);
        matchlen = match_len(node, prefixlen, data);
        if (node->prefixlen != matchlen || node->prefixlen == prefixlen) break;
        node = node->child[bit(data, node->prefixlen)].load(std::memory_order_relaxed);
      }
      if (node != nullptr && node->prefixlen == matchlen &&
          !node->intermediate.load(std::memory_order_relaxed)) {
        for (;;) {
          LpmNode* current = stack.back();
          stack.pop_back();
          if (stack.empty()) return -ENOENT;
          LpmNode* up = stack.back();
          if (up->child[0].load(std::memory_order_relaxed) == current) {
            LpmNode* right = up->child[1].load(std::memory_order_relaxed);
            if (right != nullptr) {
              search_root = right;
              break;
            }
          }
          if (!up->intermediate.load(std::memory_order_relaxed)) {
            copy_key(up, next_key);
            return 0;
          }
        }
      }
    }
    // The leftmost non-intermediate node in post-order (intermediate nodes always have two
    // children, so this ends on a real node).
    LpmNode* next = nullptr;
    for (LpmNode* node = search_root; node != nullptr;) {
      if (node->intermediate.load(std::memory_order_relaxed)) {
        node = node->child[0].load(std::memory_order_relaxed);
      } else {
        next = node;
        node = node->child[0].load(std::memory_order_relaxed);
        if (node == nullptr) node = next->child[1].load(std::memory_order_relaxed);
      }
    }
    copy_key(next, next_key);
    return 0;
  }

 private:
  static std::uint32_t prefixlen_of(const void* key) {
    std::uint32_t prefixlen;
    std::memcpy(&prefixlen, key, 4);
    return prefixlen;
  }
  static const unsigned char* data_of(const void* key) {
    return static_cast<const unsigned char*>(key) + 4;
  }
  static unsigned char* data_of_node(LpmNode* n) {
    return reinterpret_cast<unsigned char*>(n) + kLpmHeader;
  }
  unsigned char* value_of(LpmNode* n) const {
    return reinterpret_cast<unsigned char*>(n) + value_offset_;
  }
  static unsigned bit(const unsigned char* data, std::uint32_t index) {
    return (data[index / 8] >> (7 - index % 8)) & 1;
  }

  // longest_prefix_match: matching leading bits, at most min(node's, key's) prefix length.
  std::uint32_t match_len(LpmNode* node, std::uint32_t prefixlen, const unsigned char* data) const {
    const std::uint32_t limit = std::min(node->prefixlen, prefixlen);
    const unsigned char* mine = data_of_node(node);
    std::uint32_t matched = 0;
    for (std::size_t i = 0; i < data_size_ && matched < limit; ++i) {
      unsigned diff = mine[i] ^ data[i];
      if (diff == 0) {
        matched += 8;
        continue;
      }
      matched += static_cast<std::uint32_t>(__builtin_clz(diff) - 24);
      break;
    }
    return std::min(matched, limit);
  }

  LpmNode* match(const void* key) const {
    const std::uint32_t prefixlen = prefixlen_of(key);
    if (prefixlen > max_prefixlen_) return nullptr;  // trie_lookup_elem
    const auto* data = data_of(key);
    LpmNode* found = nullptr;
    for (LpmNode* node = root_.load(std::memory_order_acquire); node != nullptr;) {
      const std::uint32_t matchlen = match_len(node, prefixlen, data);
      if (matchlen == max_prefixlen_) {
        found = node;
        break;
      }
      if (matchlen < node->prefixlen) break;
      if (!node->intermediate.load(std::memory_order_acquire)) found = node;
      node = node->child[bit(data, node->prefixlen)].load(std::memory_order_acquire);
    }
    return found;
  }

  // trie_check_add_elem: a new element needs BPF_EXIST unset and room.
  int check_add(std::uint64_t flags) {
    if (flags == map_update::exist) return -ENOENT;
    if (entries_ == spec().max_entries) return -ENOSPC;
    ++entries_;
    return 0;
  }

  LpmNode* new_node(std::uint32_t prefixlen, const unsigned char* data, const void* value) {
    void* memory = std::malloc(node_size_);
    if (memory == nullptr) throw std::bad_alloc();
    auto* n = new (memory) LpmNode;
    n->prefixlen = prefixlen;
    std::memcpy(data_of_node(n), data, data_size_);
    if (value != nullptr) {
      std::memcpy(value_of(n), value, spec().value_size);
    } else {
      std::memset(value_of(n), 0, round_up8(spec().value_size));
    }
    return n;
  }

  void copy_key(LpmNode* n, void* out) const {
    std::memcpy(out, &n->prefixlen, 4);
    std::memcpy(static_cast<unsigned char*>(out) + 4, data_of_node(n), data_size_);
  }

  void destroy(LpmNode* n) {
    if (n == nullptr) return;
    destroy(n->child[0].load(std::memory_order_relaxed));
    destroy(n->child[1].load(std::memory_order_relaxed));
    free_lpm_node(n);
  }

  const std::size_t data_size_;
  const std::uint32_t max_prefixlen_;
  const std::size_t value_offset_;
  const std::size_t node_size_;
  std::atomic<LpmNode*> root_{nullptr};
  std::mutex mutex_;
  std::uint32_t entries_ = 0;  // guarded by mutex_
};

}  // namespace

Result<std::shared_ptr<Map>> make_lpm_trie(const MapSpec& spec) {
  return std::shared_ptr<Map>(std::make_shared<LpmTrie>(spec));
}

}  // namespace bpfvm::maps

// Page reference counting, free list, and the LRU prefix cache.
#include "runtime/kv_pages.h"

#include <algorithm>
#include <cassert>

namespace muse {

PageAllocator::PageAllocator(int64_t n_pages, int64_t page_size)
    : page_size_(page_size),
      ref_(size_t(n_pages), 0),
      fill_(size_t(n_pages), 0),
      lru_pos_(size_t(n_pages)),
      in_lru_(size_t(n_pages), 0),
      hash_of_(size_t(n_pages), 0),
      published_(size_t(n_pages), 0) {
  free_.reserve(size_t(n_pages));
  // Low page ids first: a lone sequence then fills the cache front to back.
  for (int64_t p = n_pages - 1; p >= 0; --p) free_.push_back(int32_t(p));
}

int32_t PageAllocator::allocate() {
  int32_t page = -1;
  if (!free_.empty()) {
    page = free_.back();
    free_.pop_back();
  } else if (!lru_.empty()) {
    page = lru_.front();
    lru_.pop_front();
    in_lru_[size_t(page)] = 0;
    unpublish(page);
  } else {
    return -1;
  }
  ref_[size_t(page)] = 1;
  fill_[size_t(page)] = 0;
  return page;
}

void PageAllocator::retain(int32_t page) {
  const size_t p = size_t(page);
  if (ref_[p] == 0 && in_lru_[p]) {
    lru_.erase(lru_pos_[p]);
    in_lru_[p] = 0;
  }
  ++ref_[p];
}

void PageAllocator::release(int32_t page) {
  const size_t p = size_t(page);
  assert(ref_[p] > 0);
  if (--ref_[p] > 0) return;
  if (published_[p]) {
    lru_pos_[p] = lru_.insert(lru_.end(), page);
    in_lru_[p] = 1;
  } else {
    free_.push_back(page);
  }
}

int64_t PageAllocator::referenced_rows() const {
  int64_t rows = 0;
  for (size_t p = 0; p < ref_.size(); ++p)
    if (ref_[p] > 0) rows += fill_[p];
  return rows;
}

uint64_t PageAllocator::hash_page(uint64_t parent, std::span<const int32_t> tokens) {
  // FNV-1a over the parent hash and the token ids, then a splitmix64 finalizer.
  uint64_t h = 0xcbf29ce484222325ull ^ parent;
  auto mix = [&h](uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xFF;
      h *= 0x100000001b3ull;
    }
  };
  mix(parent);
  for (int32_t t : tokens) mix(uint64_t(uint32_t(t)));
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

int32_t PageAllocator::lookup(uint64_t parent, std::span<const int32_t> tokens) {
  const auto it = by_hash_.find(hash_page(parent, tokens));
  if (it == by_hash_.end()) return -1;
  const Entry& e = it->second;
  if (e.parent != parent ||
      !std::equal(e.tokens.begin(), e.tokens.end(), tokens.begin(), tokens.end()))
    return -1;
  retain(e.page);
  return e.page;
}

void PageAllocator::publish(int32_t page, uint64_t parent, std::span<const int32_t> tokens) {
  const size_t p = size_t(page);
  if (published_[p] || ref_[p] == 0) return;
  const uint64_t h = hash_page(parent, tokens);
  if (by_hash_.count(h) != 0) return;
  by_hash_.emplace(h, Entry{page, parent, std::vector<int32_t>(tokens.begin(), tokens.end())});
  hash_of_[p] = h;
  published_[p] = 1;
}

void PageAllocator::unpublish(int32_t page) {
  const size_t p = size_t(page);
  if (!published_[p]) return;
  by_hash_.erase(hash_of_[p]);
  published_[p] = 0;
}

void PageAllocator::clear_cache() {
  while (!lru_.empty()) {
    const int32_t page = lru_.front();
    lru_.pop_front();
    in_lru_[size_t(page)] = 0;
    unpublish(page);
    free_.push_back(page);
  }
}

bool PageAllocator::check_invariants() const {
  std::vector<int> seen(ref_.size(), 0);
  for (int32_t p : free_) {
    if (ref_[size_t(p)] != 0 || published_[size_t(p)] || in_lru_[size_t(p)]) return false;
    ++seen[size_t(p)];
  }
  for (int32_t p : lru_) {
    if (ref_[size_t(p)] != 0 || !published_[size_t(p)] || !in_lru_[size_t(p)]) return false;
    ++seen[size_t(p)];
  }
  size_t n_published = 0;
  for (size_t p = 0; p < ref_.size(); ++p) {
    if (ref_[p] < 0 || fill_[p] < 0 || fill_[p] > page_size_) return false;
    if (ref_[p] > 0) ++seen[p];
    if (seen[p] != 1) return false;  // exactly one of free, evictable, referenced
    if (published_[p]) {
      ++n_published;
      const auto it = by_hash_.find(hash_of_[p]);
      if (it == by_hash_.end() || it->second.page != int32_t(p)) return false;
    }
  }
  return n_published == by_hash_.size();
}

}  // namespace muse

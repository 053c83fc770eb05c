// Ownership of the KV cache's pages (ARCHITECTURE.md section 4): reference counts, a free
// list, and the prefix cache. model/kv_cache.h stores the rows; this decides which sequence
// may write which page.
//
// * A page with references belongs to the sequences whose page tables hold it. Forking a
//   sequence retains every page (O(pages), no copy); a sequence that must write into a
//   page with other references copies it first (copy-on-write, done by the engine).
// * A full page can be published under the hash of (parent hash, its tokens): the chain of
//   hashes names the whole prefix, so a later sequence whose prompt starts with the same
//   tokens takes the pages instead of recomputing them. Tokens and parent hash are kept and
//   compared, so a lookup only fails to hit on a 64-bit collision of the parent chain.
// * A published page whose last reference goes stays cached but evictable; allocation
//   takes never-used or released pages first, then evicts the least recently released
//   cached page. The page count is the memory budget.
#pragma once

#include <cstdint>
#include <list>
#include <span>
#include <unordered_map>
#include <vector>

namespace muse {

class PageAllocator {
 public:
  PageAllocator(int64_t n_pages, int64_t page_size);

  int64_t n_pages() const { return int64_t(ref_.size()); }
  int64_t page_size() const { return page_size_; }

  // A page with one reference and no rows (fill 0), or -1 when every page is referenced.
  int32_t allocate();
  void retain(int32_t page);
  // Drops a reference; at zero the page becomes free (or evictable, if published).
  void release(int32_t page);
  int32_t refs(int32_t page) const { return ref_[size_t(page)]; }

  // Rows written in a page: the engine raises it as it writes, copies set it.
  int32_t fill(int32_t page) const { return fill_[size_t(page)]; }
  void set_fill(int32_t page, int32_t rows) { fill_[size_t(page)] = rows; }

  // Pages an allocation can still get (free + evictable cached).
  int64_t n_available() const { return int64_t(free_.size() + lru_.size()); }
  int64_t n_referenced() const { return n_pages() - n_available(); }
  int64_t n_cached() const { return int64_t(by_hash_.size()); }  // published, any refs
  int64_t n_evictable() const { return int64_t(lru_.size()); }
  // Rows held by referenced pages (each shared page counted once).
  int64_t referenced_rows() const;

  // Prefix cache. hash_page chains `parent` (0 for the first page) with a page's tokens.
  static uint64_t hash_page(uint64_t parent, std::span<const int32_t> tokens);
  // The published page for (parent, tokens), retained for the caller, or -1.
  int32_t lookup(uint64_t parent, std::span<const int32_t> tokens);
  // Publishes a full, referenced page. A page already published, or a prefix another page
  // already holds, is left as it is.
  void publish(int32_t page, uint64_t parent, std::span<const int32_t> tokens);
  // Forgets every unreferenced cached page (they become free).
  void clear_cache();

  // Consistency of every count (tests): refs >= 0, free/evictable/referenced partition the
  // pages, every published page is in the index.
  bool check_invariants() const;

 private:
  struct Entry {
    int32_t page;
    uint64_t parent;
    std::vector<int32_t> tokens;
  };
  void unpublish(int32_t page);

  int64_t page_size_;
  std::vector<int32_t> ref_, fill_;
  std::vector<int32_t> free_;  // stack of free pages
  std::list<int32_t> lru_;     // evictable cached pages, least recently released first
  std::vector<std::list<int32_t>::iterator> lru_pos_;
  std::vector<uint8_t> in_lru_;
  std::vector<uint64_t> hash_of_;  // published pages: their hash
  std::vector<uint8_t> published_;
  std::unordered_map<uint64_t, Entry> by_hash_;
};

}  // namespace muse

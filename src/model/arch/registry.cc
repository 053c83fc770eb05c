// The architecture registry: adding an architecture is its file plus one line here.
#include <array>

#include "model/arch/arch.h"

namespace muse {

extern const ArchSpec kArchLlama;
extern const ArchSpec kArchQwen2;
extern const ArchSpec kArchQwen3;
extern const ArchSpec kArchQwen2Moe;
extern const ArchSpec kArchQwen3Moe;
extern const ArchSpec kArchDeepseek2;
extern const ArchSpec kArchMuse;

namespace {
const std::array<const ArchSpec*, 7> kRegistry = {
    &kArchLlama,    &kArchQwen2,     &kArchQwen3, &kArchQwen2Moe,
    &kArchQwen3Moe, &kArchDeepseek2, &kArchMuse,
};
}  // namespace

const ArchSpec* find_arch(std::string_view name) {
  for (const ArchSpec* a : kRegistry)
    if (a->name == name) return a;
  return nullptr;
}

std::vector<std::string_view> arch_names() {
  std::vector<std::string_view> out;
  for (const ArchSpec* a : kRegistry) out.push_back(a->name);
  return out;
}

}  // namespace muse

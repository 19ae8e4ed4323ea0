#include "loader/map_table.hpp"

#include <fmt/format.h>

namespace bpfvm::loader {

std::string section_label(const ElfSection& section) {
  return fmt::format("section '{}'", section.name);
}

std::optional<std::size_t> MapTable::definition_at(std::size_t section,
                                                   std::uint64_t offset) const {
  for (std::size_t i = 0; i < maps.size(); ++i)
    if (maps[i].origin != MapOrigin::global_data && locations[i].section == section &&
        locations[i].offset == offset)
      return i;
  return std::nullopt;
}

std::optional<std::size_t> MapTable::global_data_of(std::size_t section) const {
  for (std::size_t i = 0; i < maps.size(); ++i)
    if (maps[i].origin == MapOrigin::global_data && locations[i].section == section) return i;
  return std::nullopt;
}

bool MapTable::has_definitions_in(std::size_t section) const {
  for (std::size_t i = 0; i < maps.size(); ++i)
    if (maps[i].origin != MapOrigin::global_data && locations[i].section == section) return true;
  return false;
}

}  // namespace bpfvm::loader

// ReadAuditLines: a page of the audit log for GET /v1/audit, lines exactly as
// stored so the reader can verify chain and MACs offline.
#include "keystore/internal/audit_entry.hpp"
#include "keystore/internal/audit_lines.hpp"
#include "keystore/internal/audit_log.hpp"
#include "keystore/internal/service_keystore.hpp"

namespace sovereign::keystore_internal {

Result<std::vector<std::string>> ReadAuditLines(const std::filesystem::path& path, std::uint64_t after,
                                                std::uint64_t up_to, std::size_t limit) {
  std::vector<std::string> out;
  if (limit == 0 || after >= up_to) return out;
  auto reader = AuditLineReader::Open(path);
  if (!reader.ok()) return reader.status();
  // Lines are numbered 1, 2, … in order in an intact log; the seq member is
  // still read from each line so a damaged log yields what it says, and
  // `sovereign audit verify` is what judges it. The seq is peeked, not
  // parsed, so skipping to a late page costs a scan, not a parse per line.
  // The page stops before the
  // line that would take it past kMaxAuditPageBytes (it always holds at
  // least one line: no line is longer than kMaxAuditLineBytes), so one read
  // costs the service a bounded amount of memory.
  std::size_t bytes = 0;
  std::string line;
  while (out.size() < limit) {
    auto next = reader->Read(line);
    if (!next.ok()) return next.status();
    // An incomplete last line (no '\n') is not an entry yet; an over-long
    // one is never written by the keystore and ends what can be served.
    if (*next != AuditLineReader::Next::kLine) break;
    const auto seq = PeekSeq(line);
    if (!seq) continue;
    const std::uint64_t n = *seq;
    if (n > up_to) break;
    if (n <= after) continue;
    if (!out.empty() && bytes + line.size() > kMaxAuditPageBytes) break;
    bytes += line.size();
    out.push_back(line);
  }
  return out;
}

}  // namespace sovereign::keystore_internal

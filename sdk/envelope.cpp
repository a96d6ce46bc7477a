#include "sovereign/envelope.hpp"

#include <algorithm>
#include <string>

#include "sdk/internal/base64url.hpp"
#include "sdk/internal/header_view.hpp"
#include "sdk/internal/openssl_util.hpp"

namespace sovereign {

namespace {

constexpr std::uint32_t kMaxVarint = 0xffffffffu;

void PutVarint(std::uint32_t v, std::vector<std::uint8_t>& out) {
  while (v >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));
}

// GetVarint reads a minimal LEB128 encoding of a value in 1..2^32-1.
bool GetVarint(std::span<const std::uint8_t> in, std::size_t& pos, std::uint32_t& value) {
  std::uint64_t v = 0;
  for (unsigned shift = 0; shift < 35; shift += 7) {
    if (pos >= in.size()) return false;
    const std::uint8_t byte = in[pos++];
    v |= std::uint64_t{byte & 0x7fu} << shift;
    if ((byte & 0x80) == 0) {
      // A final zero byte after the first is a non-minimal encoding.
      if (byte == 0 && shift != 0) return false;
      if (v == 0 || v > kMaxVarint) return false;
      value = static_cast<std::uint32_t>(v);
      return true;
    }
  }
  return false;
}

bool IsEnvelopeMode(Mode mode) { return mode == Mode::kRandom || mode == Mode::kDeterministic; }

}  // namespace

namespace internal {

bool ParseHeaderView(std::span<const std::uint8_t> envelope, HeaderView& out) {
  if (envelope.size() < 3 || envelope[0] != kEnvelopeFormatV1) return false;
  const bool has_subject = (envelope[1] & kSubjectModeFlag) != 0;
  out.mode = static_cast<Mode>(envelope[1] & 0x7f);
  if (!IsEnvelopeMode(out.mode)) return false;
  const std::size_t region_size = envelope[2];
  std::size_t pos = 3;
  if (envelope.size() - pos < region_size) return false;
  out.region = {reinterpret_cast<const char*>(envelope.data() + pos), region_size};
  pos += region_size;
  if (!ValidateRegion(out.region).ok()) return false;
  if (!GetVarint(envelope, pos, out.key_id) || !GetVarint(envelope, pos, out.key_version) ||
      !GetVarint(envelope, pos, out.label_id)) {
    return false;
  }
  out.subject = nullptr;
  if (has_subject) {
    if (envelope.size() - pos < kSubjectTagSize) return false;
    out.subject = envelope.data() + pos;
    pos += kSubjectTagSize;
  }
  const std::size_t min_body = out.mode == Mode::kRandom ? kGcmNonceSize + kTagSize : kTagSize;
  if (envelope.size() - pos < min_body) return false;
  out.size = pos;
  return true;
}

}  // namespace internal

Status ValidateRegion(std::string_view region) {
  bool ok = !region.empty() && region.size() <= kMaxRegionLength && region[0] >= 'a' && region[0] <= 'z';
  for (char c : region) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  if (!ok) {
    return Status(ErrorCode::kInvalidArgument,
                  "region must be 1-16 characters of a-z, 0-9 and '-', starting with a letter");
  }
  return OkStatus();
}

Status ValidateJsonPointer(std::string_view pointer) {
  if (pointer.empty()) return OkStatus();
  if (pointer.front() != '/') {
    return Status(ErrorCode::kInvalidArgument, "path must be a JSON Pointer starting with '/' (RFC 6901)");
  }
  for (std::size_t i = pointer.find('~'); i != std::string_view::npos; i = pointer.find('~', i + 1)) {
    if (i + 1 == pointer.size() || (pointer[i + 1] != '0' && pointer[i + 1] != '1')) {
      return Status(ErrorCode::kInvalidArgument, "path has a '~' not followed by 0 or 1 (RFC 6901)");
    }
  }
  return OkStatus();
}

Status ValidateContext(const FieldContext& context) {
  if (context.path.size() > kMaxContextFieldSize ||
      (context.record_id && context.record_id->size() > kMaxContextFieldSize)) {
    return Status(ErrorCode::kInvalidArgument, "path and record id must be at most 64 KiB each");
  }
  return ValidateJsonPointer(context.path);
}

Status EncodeEnvelopeHeader(const EnvelopeHeader& header, std::vector<std::uint8_t>& out) {
  if (!IsEnvelopeMode(header.mode)) return Status(ErrorCode::kInvalidArgument, "mode has no envelope");
  SOVEREIGN_RETURN_IF_ERROR(ValidateRegion(header.region));
  if (header.key_id == 0 || header.key_version == 0 || header.label_id == 0) {
    return Status(ErrorCode::kInvalidArgument, "key id, key version and label id must be non-zero");
  }
  out.push_back(kEnvelopeFormatV1);
  out.push_back(static_cast<std::uint8_t>(static_cast<std::uint8_t>(header.mode) |
                                          (header.subject ? kSubjectModeFlag : 0)));
  out.push_back(static_cast<std::uint8_t>(header.region.size()));
  out.insert(out.end(), header.region.begin(), header.region.end());
  PutVarint(header.key_id, out);
  PutVarint(header.key_version, out);
  PutVarint(header.label_id, out);
  if (header.subject) out.insert(out.end(), header.subject->begin(), header.subject->end());
  return OkStatus();
}

Result<std::pair<EnvelopeHeader, std::size_t>> ParseEnvelopeHeader(std::span<const std::uint8_t> envelope) {
  internal::HeaderView view;
  if (!internal::ParseHeaderView(envelope, view)) return internal::InvalidCiphertext();
  EnvelopeHeader header{view.mode, std::string(view.region), view.key_id, view.key_version, view.label_id, {}};
  if (view.subject != nullptr) {
    SubjectTag tag;
    std::copy_n(view.subject, kSubjectTagSize, tag.begin());
    header.subject = tag;
  }
  return std::pair<EnvelopeHeader, std::size_t>(std::move(header), view.size);
}

bool IsTextCiphertext(std::string_view text) noexcept { return text.starts_with(kTextPrefix); }

std::string ToText(std::span<const std::uint8_t> envelope) {
  std::string out(kTextPrefix.size() + internal::Base64UrlEncodedSize(envelope.size()), '\0');
  std::copy(kTextPrefix.begin(), kTextPrefix.end(), out.begin());
  internal::Base64UrlEncodeTo(envelope, out.data() + kTextPrefix.size());
  return out;
}

Result<std::vector<std::uint8_t>> FromText(std::string_view text) {
  std::vector<std::uint8_t> out;
  if (!IsTextCiphertext(text) || !internal::Base64UrlDecode(text.substr(kTextPrefix.size()), out)) {
    return internal::InvalidCiphertext();
  }
  return out;
}

}  // namespace sovereign

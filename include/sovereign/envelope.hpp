// Field envelope, wire format v1 (specified byte by byte in docs/format.md).
//
// A field ciphertext is self-describing: the header names the format version,
// mode, region, key id, key version and label id, so a reader knows which
// single field key can open it. The whole header and the field's context
// (JSON Pointer path, optional record id) are authenticated as associated data.
//
// Binary form:  header || body
// Text form:    "sov1:" || base64url(binary form), unpadded, decoded strictly:
//               one ciphertext has exactly one text form.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sovereign/export.hpp"
#include "sovereign/mode.hpp"
#include "sovereign/status.hpp"

namespace sovereign {

inline constexpr std::uint8_t kEnvelopeFormatV1 = 0x01;
inline constexpr std::string_view kTextPrefix = "sov1:";
inline constexpr std::size_t kMaxRegionLength = 16;
inline constexpr std::size_t kGcmNonceSize = 12;
inline constexpr std::size_t kTagSize = 16;
// Envelopes of per-subject keys carry a subject tag: a keyed hash that names
// the subject key without revealing the subject (docs/format.md, section 2).
inline constexpr std::size_t kSubjectTagSize = 16;
// kSubjectModeFlag is set in the mode byte of an envelope with a subject tag.
inline constexpr std::uint8_t kSubjectModeFlag = 0x80;
// Largest field plaintext accepted (16 MiB): fields are values, not files.
inline constexpr std::size_t kMaxPlaintextSize = std::size_t{16} << 20;
// Largest path or record id in a FieldContext (64 KiB each).
inline constexpr std::size_t kMaxContextFieldSize = std::size_t{64} << 10;

// FieldContext is what a ciphertext is bound to besides its key: the field's
// JSON Pointer (RFC 6901) and, when the caller names one, the record id.
// A ciphertext moved to another path or record fails to decrypt.
struct FieldContext {
  std::string path;
  std::optional<std::string> record_id;
};

using SubjectTag = std::array<std::uint8_t, kSubjectTagSize>;

// EnvelopeHeader is the parsed, validated header of a v1 envelope. `subject`
// is set when the field is encrypted under a per-subject key: the envelope's
// mode byte then has kSubjectModeFlag set and the tag follows the label id.
struct EnvelopeHeader {
  Mode mode = Mode::kRandom;
  std::string region;
  std::uint32_t key_id = 0;
  std::uint32_t key_version = 0;
  std::uint32_t label_id = 0;
  std::optional<SubjectTag> subject = std::nullopt;
};

// ValidateRegion accepts 1..16 characters of [a-z0-9-], starting with a letter.
SOVEREIGN_EXPORT Status ValidateRegion(std::string_view region);

// ValidateJsonPointer accepts "" or a JSON Pointer whose "~" escapes are valid.
SOVEREIGN_EXPORT Status ValidateJsonPointer(std::string_view pointer);

// ValidateContext checks the path (ValidateJsonPointer) and that the path and
// record id are at most kMaxContextFieldSize bytes.
SOVEREIGN_EXPORT Status ValidateContext(const FieldContext& context);

// ParseEnvelopeHeader parses the header at the start of a binary envelope and
// returns it with the number of header bytes. Any malformation (unknown format
// version or mode, non-minimal integers, bad region, a body shorter than its
// mode's minimum of 28 or 16 bytes) is kInvalidCiphertext.
SOVEREIGN_EXPORT Result<std::pair<EnvelopeHeader, std::size_t>> ParseEnvelopeHeader(
    std::span<const std::uint8_t> envelope);

// EncodeEnvelopeHeader appends the canonical encoding of `header` to `out`.
// `header` must be valid (region, non-zero ids, envelope mode).
SOVEREIGN_EXPORT Status EncodeEnvelopeHeader(const EnvelopeHeader& header, std::vector<std::uint8_t>& out);

// IsTextCiphertext reports whether `text` starts with the v1 text prefix.
// A cheap recognition test, not a validation.
SOVEREIGN_EXPORT bool IsTextCiphertext(std::string_view text) noexcept;

// ToText returns the text form of a binary envelope.
SOVEREIGN_EXPORT std::string ToText(std::span<const std::uint8_t> envelope);

// FromText strictly decodes a text-form envelope: exact prefix, base64url
// alphabet, no padding, no whitespace, zero trailing bits. Else kInvalidCiphertext.
SOVEREIGN_EXPORT Result<std::vector<std::uint8_t>> FromText(std::string_view text);

}  // namespace sovereign

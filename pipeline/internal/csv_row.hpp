// ApplyRow: the CSV form of protect / unprotect / rewrap, shared by the row
// API and the CSV stream transform.
#pragma once

#include <string>
#include <vector>

#include "pipeline/internal/field_codec.hpp"
#include "pipeline/internal/transform.hpp"
#include "sovereign/policy.hpp"

namespace sovereign::pipeline {

// ApplyRow transforms the policy cells of `row` (all or nothing) and marks
// in `changed` the cells it replaced.
Status ApplyRow(FieldCodec& codec, const FieldPolicy& policy, const CsvHeader& header, Operation op,
                OnDenied on_denied, std::vector<std::string>& row, std::vector<bool>& changed, RecordStats& stats);

}  // namespace sovereign::pipeline

#include "sovereign/key_source.hpp"

namespace sovereign {

KeySource::~KeySource() = default;

}  // namespace sovereign

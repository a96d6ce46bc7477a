// SOVEREIGN_EXPORT marks the symbols that form the public ABI of libsovereign.
// Everything else is built with hidden visibility.
#pragma once

#if defined(_WIN32)
#define SOVEREIGN_EXPORT
#else
#define SOVEREIGN_EXPORT [[gnu::visibility("default")]]
#endif

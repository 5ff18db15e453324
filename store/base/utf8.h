// UTF-8 as RFC 3629 defines it, for the places that show or send text from
// outside (file names, command output) and must not pass on what is not.
#pragma once

#include <cstddef>
#include <string_view>

namespace coffer {

// The length of the well-formed UTF-8 sequence at text[i] (1 for ASCII), or
// 0 if none starts there: a stray continuation byte, a cut sequence, an
// overlong form, a surrogate or a code point above U+10FFFF.
size_t Utf8SequenceLength(std::string_view text, size_t i);

}  // namespace coffer

#ifndef TICKSTREAM_CZLIB_SHIM_H
#define TICKSTREAM_CZLIB_SHIM_H
// zlib for permessage-deflate (RFC 7692). deflateInit2 and inflateInit2 are macros that pass
// the library version and struct size; Swift does not import macros, so these wrap them.
#include <zlib.h>

/// Raw deflate (no zlib header), as RFC 7692 requires: negative window bits.
static inline int ts_deflate_init_raw(z_streamp stream, int level, int window_bits, int memory_level) {
    return deflateInit2(stream, level, Z_DEFLATED, -window_bits, memory_level, Z_DEFAULT_STRATEGY);
}
static inline int ts_inflate_init_raw(z_streamp stream, int window_bits) {
    return inflateInit2(stream, -window_bits);
}
#endif

#ifndef TICKSTREAM_COPENSSL_SHIM_H
#define TICKSTREAM_COPENSSL_SHIM_H
// libcrypto for SHA-1 (the WebSocket accept key); libssl joins when TLS arrives.
#include <openssl/sha.h>
#endif

#ifndef TICKSTREAM_COPENSSL_SHIM_H
#define TICKSTREAM_COPENSSL_SHIM_H
// libcrypto for SHA-1 (the WebSocket accept key) and token signatures, libssl for TLS. Swift does not import
// OpenSSL's function-like macros, so the few we need are wrapped here as inline functions.
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ecdsa.h>
#include <openssl/crypto.h>
#include <time.h>

static inline int ts_ssl_ctx_set_min_tls12(SSL_CTX *ctx) { return (int)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION); }
static inline long ts_ssl_ctx_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
static inline long ts_ssl_set_mode(SSL *ssl, long mode) { return SSL_set_mode(ssl, mode); }
static inline int ts_ssl_set_sni(SSL *ssl, const char *name) { return (int)SSL_set_tlsext_host_name(ssl, name); }

/// Server cipher preference, no renegotiation, no compression, no TLS 1.0/1.1 tickets of old.
static inline uint64_t ts_ssl_server_options(void) {
    return SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION
         | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_SSLv3;
}
static inline uint64_t ts_ssl_client_options(void) {
    return SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_SSLv3;
}

static inline void ts_bio_set_retry_read(BIO *bio) { BIO_set_retry_read(bio); }
static inline void ts_bio_clear_retry_flags(BIO *bio) { BIO_clear_retry_flags(bio); }

/// The reason code of an error from OpenSSL's queue (ERR_GET_REASON is a macro).
static inline int ts_err_reason(unsigned long error) { return ERR_GET_REASON(error); }

/// The certificate's notAfter as Unix seconds, or -1.
static inline long long ts_x509_not_after_unix(const X509 *cert) {
    const ASN1_TIME *t = X509_get0_notAfter(cert);
    struct tm tm;
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) return -1;
    return (long long)timegm(&tm);
}
/// The certificate's notBefore as Unix seconds, or -1.
static inline long long ts_x509_not_before_unix(const X509 *cert) {
    const ASN1_TIME *t = X509_get0_notBefore(cert);
    struct tm tm;
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) return -1;
    return (long long)timegm(&tm);
}
#endif

/* The federation's signing keys (Ed25519, libsodium): the CA's signing key
 * (ca/signing.key), and per site a signing key with the CA's endorsement of
 * it (sites/NAME/signing.key, signing.crt) plus the CA's public signing key
 * (sites/NAME/ca_signing.pub) that every site pins. Sites sign their secure
 * aggregation messages with it, and check each other's endorsements, so the
 * coordinator that relays them can neither forge nor swap them (see
 * privacy/secagg_peer.h, which verifies what gf_pki_signing_endorse makes).
 * Files hold lowercase hex and a newline. */
#include "net/pki.h"
#include "net/pki_internal.h"
#include "core/fsutil.h"

#include <errno.h>
#include <unistd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENDORSE_LABEL "gf-site-signing-key-v1"   /* signed with its NUL */

gf_status gf_pki_signing_endorse(const uint8_t ca_sk[GF_PKI_SIGN_SK_BYTES], const char *name,
                                 const uint8_t pk[GF_PKI_SIGN_PK_BYTES], uint8_t out[GF_PKI_ENDORSE_BYTES])
{
    if (!ca_sk || !name || !pk || !out) return gf_errorf(GF_ERR_ARG, "endorse: NULL argument");
    size_t len = strlen(name);
    if (len == 0 || len > GF_PKI_NAME_MAX) return gf_errorf(GF_ERR_ARG, "endorse: bad site name length %zu", len);
    if (sodium_init() < 0) return gf_errorf(GF_ERR_ARG, "libsodium initialisation failed");
    uint8_t msg[sizeof ENDORSE_LABEL + GF_PKI_NAME_MAX + GF_PKI_SIGN_PK_BYTES];   /* label\0 || name64 || pk */
    memcpy(msg, ENDORSE_LABEL, sizeof ENDORSE_LABEL);
    memset(out, 0, GF_PKI_ENDORSE_BYTES);
    memcpy(out, name, len);
    memcpy(out + GF_PKI_NAME_MAX, pk, GF_PKI_SIGN_PK_BYTES);
    memcpy(msg + sizeof ENDORSE_LABEL, out, GF_PKI_NAME_MAX + GF_PKI_SIGN_PK_BYTES);
    crypto_sign_detached(out + GF_PKI_NAME_MAX + GF_PKI_SIGN_PK_BYTES, NULL, msg, sizeof msg, ca_sk);
    return GF_OK;
}

static gf_status write_hex(const char *dir, const char *file, const uint8_t *b, size_t len, mode_t mode)
{
    char path[4096], *hex = malloc(2 * len + 2);
    if (!hex) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path) {
        free(hex);
        return gf_errorf(GF_ERR_ARG, "path too long: %s/%s", dir, file);
    }
    sodium_bin2hex(hex, 2 * len + 1, b, len);
    hex[2 * len] = '\n';
    gf_fs_part part = { hex, 2 * len + 1 };
    gf_status st = gf_fs_write_atomic(path, &part, 1, mode);
    sodium_memzero(hex, 2 * len + 2);
    free(hex);
    return st;
}

/* Reads exactly len bytes of hex (a trailing newline allowed) from dir/file. */
static gf_status read_hex(const char *dir, const char *file, uint8_t *b, size_t len)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
        return gf_errorf(GF_ERR_ARG, "path too long: %s/%s", dir, file);
    gnutls_datum_t d;
    gf_status st = pki_read_file_id(path, &d, NULL);
    if (st) return st;
    size_t got = 0, hl = d.size;
    while (hl > 0 && (d.data[hl - 1] == '\n' || d.data[hl - 1] == '\r')) hl--;
    if (hl != 2 * len || sodium_hex2bin(b, len, (const char *)d.data, hl, NULL, &got, NULL) || got != len)
        st = gf_errorf(GF_ERR_FORMAT, "%s: expected %zu bytes in hex", path, len);
    sodium_memzero(d.data, d.size);
    free(d.data);
    return st;
}

gf_status pki_signing_ca_make(const char *root)
{
    if (sodium_init() < 0) return gf_errorf(GF_ERR_ARG, "libsodium initialisation failed");
    uint8_t pk[GF_PKI_SIGN_PK_BYTES], sk[GF_PKI_SIGN_SK_BYTES];
    crypto_sign_keypair(pk, sk);
    gf_status st = write_hex(root, GF_PKI_CA_SIGN_KEY, sk, sizeof sk, 0600);
    sodium_memzero(sk, sizeof sk);
    return st;
}

gf_status pki_signing_ca_load(const char *root, uint8_t sk[GF_PKI_SIGN_SK_BYTES])
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, GF_PKI_CA_SIGN_KEY);
    if (access(path, F_OK) != 0 && errno == ENOENT) {   /* provisioned before signing keys existed */
        gf_status st = pki_signing_ca_make(root);
        if (st) return st;
    }
    return read_hex(root, GF_PKI_CA_SIGN_KEY, sk, GF_PKI_SIGN_SK_BYTES);
}

gf_status pki_signing_kit_write(const char *kit, const char *name, const uint8_t ca_sk[GF_PKI_SIGN_SK_BYTES])
{
    if (sodium_init() < 0) return gf_errorf(GF_ERR_ARG, "libsodium initialisation failed");
    uint8_t pk[GF_PKI_SIGN_PK_BYTES], sk[GF_PKI_SIGN_SK_BYTES], e[GF_PKI_ENDORSE_BYTES], ca_pk[GF_PKI_SIGN_PK_BYTES];
    crypto_sign_keypair(pk, sk);
    crypto_sign_ed25519_sk_to_pk(ca_pk, ca_sk);
    gf_status st = gf_pki_signing_endorse(ca_sk, name, pk, e);
    if (!st) st = write_hex(kit, GF_PKI_SITE_SIGN_KEY, sk, sizeof sk, 0600);
    if (!st) st = write_hex(kit, GF_PKI_SITE_SIGN_CRT, e, sizeof e, 0644);
    if (!st) st = write_hex(kit, GF_PKI_SITE_SIGN_CA, ca_pk, sizeof ca_pk, 0644);
    sodium_memzero(sk, sizeof sk);
    return st;
}

gf_status gf_pki_signing_load(const char *kit, uint8_t sk[GF_PKI_SIGN_SK_BYTES],
                              uint8_t endorsement[GF_PKI_ENDORSE_BYTES], uint8_t ca_pk[GF_PKI_SIGN_PK_BYTES])
{
    if (!kit || !sk || !endorsement || !ca_pk) return gf_errorf(GF_ERR_ARG, "signing keys: NULL argument");
    if (sodium_init() < 0) return gf_errorf(GF_ERR_ARG, "libsodium initialisation failed");
    gf_status st = read_hex(kit, GF_PKI_SITE_SIGN_KEY, sk, GF_PKI_SIGN_SK_BYTES);
    if (!st) st = read_hex(kit, GF_PKI_SITE_SIGN_CRT, endorsement, GF_PKI_ENDORSE_BYTES);
    if (!st) st = read_hex(kit, GF_PKI_SITE_SIGN_CA, ca_pk, GF_PKI_SIGN_PK_BYTES);
    if (st) {
        sodium_memzero(sk, GF_PKI_SIGN_SK_BYTES);
        return st;
    }
    uint8_t pk[GF_PKI_SIGN_PK_BYTES];
    crypto_sign_ed25519_sk_to_pk(pk, sk);
    if (sodium_memcmp(pk, endorsement + GF_PKI_NAME_MAX, GF_PKI_SIGN_PK_BYTES) != 0) {
        sodium_memzero(sk, GF_PKI_SIGN_SK_BYTES);
        return gf_errorf(GF_ERR_MISMATCH, "%s: %s does not endorse the key in %s", kit, GF_PKI_SITE_SIGN_CRT,
                         GF_PKI_SITE_SIGN_KEY);
    }
    return GF_OK;
}

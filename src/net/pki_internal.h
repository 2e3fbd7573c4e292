/* Helpers shared by pki.c and pki_tls.c (not part of the public API). */
#ifndef GF_NET_PKI_INTERNAL_H
#define GF_NET_PKI_INTERNAL_H

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <sys/stat.h>
#include <stdint.h>
#include "core/error.h"
#include "net/pki.h"

/* A GnuTLS error code as a status with a message naming what failed. */
gf_status pki_tls_err(int rc, const char *what);
/* Reads a whole (small) file; *id gets its stat, to notice changes later. */
gf_status pki_read_file_id(const char *path, gnutls_datum_t *out, struct stat *id);
/* Loads one PEM certificate; *pem_out (may be NULL) keeps the file's bytes. */
gf_status pki_load_crt(const char *path, gnutls_x509_crt_t *out, gnutls_datum_t *pem_out);

/* Signing keys (pki_signing.c): the CA's, made at creation (root is the
 * provisioning folder) or, for a folder provisioned before they existed,
 * on first load; a kit's signing key, endorsement and the CA's public key. */
gf_status pki_signing_ca_make(const char *root);
gf_status pki_signing_ca_load(const char *root, uint8_t sk[GF_PKI_SIGN_SK_BYTES]);
gf_status pki_signing_kit_write(const char *kit, const char *name, const uint8_t ca_sk[GF_PKI_SIGN_SK_BYTES]);

#endif

/* Helpers shared by pki.c and pki_tls.c (not part of the public API). */
#ifndef GF_NET_PKI_INTERNAL_H
#define GF_NET_PKI_INTERNAL_H

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <sys/stat.h>
#include "core/error.h"

/* A GnuTLS error code as a status with a message naming what failed. */
gf_status pki_tls_err(int rc, const char *what);
/* Reads a whole (small) file; *id gets its stat, to notice changes later. */
gf_status pki_read_file_id(const char *path, gnutls_datum_t *out, struct stat *id);
/* Loads one PEM certificate; *pem_out (may be NULL) keeps the file's bytes. */
gf_status pki_load_crt(const char *path, gnutls_x509_crt_t *out, gnutls_datum_t *pem_out);

#endif

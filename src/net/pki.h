/* TLS identities of a federation: the certificate authority, the
 * coordinator's certificate and one kit per site, made with GnuTLS (no
 * hand-written crypto), plus the small helpers the coordinator and the sites
 * use to set up TLS 1.3 sessions with mutual certificate authentication, to
 * name the verified peer and to refuse revoked sites.
 *
 * Layout under DIR (folders 0700, keys 0600, every file written atomically):
 *   ca/ca.key ca/ca.crt ca/crl.pem ca/state.json
 *   coordinator/coordinator.key coordinator/coordinator.crt
 *   coordinator/ca.crt coordinator/crl.pem
 *   sites/NAME/site.key sites/NAME/site.crt sites/NAME/ca.crt
 *   sites/NAME/coordinator.url            ("https://HOST:PORT/\n")
 *   sites/NAME/signing.key signing.crt ca_signing.pub
 *                                         the site's Ed25519 signing key, the
 *                                         CA's endorsement of it, and the CA's
 *                                         public signing key (hex; below)
 *   ca/signing.key                        the CA's Ed25519 signing key
 *   operator/{site.key,site.crt,ca.crt,coordinator.url}
 *                                         the operator's kit (CN "operator"):
 *                                         submits, lists, cancels jobs
 *
 * Keys are ECDSA P-256. The CA (basicConstraints CA:TRUE, keyCertSign +
 * cRLSign) is valid 10 years, leaf certificates 2 years; validity starts one
 * hour in the past to absorb clock skew between machines. Serial numbers are
 * sequential per CA, recorded in ca/state.json and never reused, not even for a
 * revoked name. A site's identity is its certificate's common name; site
 * names are 1..64 characters of [a-z0-9-], "coordinator" and "operator"
 * are reserved. Serial numbers: CA 1, coordinator 2, the sites given to
 * gf_pki_create, then the operator, then sites added later.
 *
 * Failures leave no partial state: gf_pki_create builds everything in a
 * fresh DIR.tmp-XXXXXX and renames it to DIR at the end (DIR must not exist
 * or be an empty folder); gf_pki_add_site builds the kit in
 * sites/.NAME.tmp-XXXXXX, records the serial in state.json and renames the
 * kit into place (an error after the state write rolls the state back);
 * gf_pki_revoke writes the new CRL (ca/ and coordinator/ copies) before the
 * state, so a rerun after a crash finishes the job. Temporary folders left
 * by a killed process do not block a rerun. add-site and revoke hold an
 * exclusive lock on DIR/ca while they run. */
#ifndef GF_NET_PKI_H
#define GF_NET_PKI_H

#include <stddef.h>
#include <stdint.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include "core/error.h"

#define GF_PKI_DEFAULT_PORT 8443
#define GF_PKI_NAME_MAX     64          /* longest site name */
#define GF_PKI_COORDINATOR  "coordinator" /* the coordinator's common name */
#define GF_PKI_OPERATOR     "operator"    /* the operator kit's common name (jobs API) */

/* The only TLS version the federation speaks, and its AEADs in the order
 * of Mozilla's "modern" configuration, the server's order deciding:
 * AES-128-GCM first (128-bit security, TLS 1.3's mandatory suite; 10 AES
 * rounds to AES-256's 14, so a model transfer costs less CPU at both ends),
 * then AES-256-GCM and ChaCha20-Poly1305 for clients that offer no other. */
#define GF_PKI_PRIORITY \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:%SERVER_PRECEDENCE"

/* Paths relative to DIR (sites: relative to sites/NAME). */
#define GF_PKI_CA_KEY     "ca/ca.key"
#define GF_PKI_CA_CRT     "ca/ca.crt"
#define GF_PKI_CA_CRL     "ca/crl.pem"
#define GF_PKI_STATE      "ca/state.json"
#define GF_PKI_COORD_KEY  "coordinator/coordinator.key"
#define GF_PKI_COORD_CRT  "coordinator/coordinator.crt"
#define GF_PKI_COORD_CA   "coordinator/ca.crt"
#define GF_PKI_COORD_CRL  "coordinator/crl.pem"
#define GF_PKI_SITE_KEY   "site.key"
#define GF_PKI_SITE_CRT   "site.crt"
#define GF_PKI_SITE_CA    "ca.crt"
#define GF_PKI_SITE_URL   "coordinator.url"
#define GF_PKI_CA_SIGN_KEY   "ca/signing.key"
#define GF_PKI_SITE_SIGN_KEY "signing.key"
#define GF_PKI_SITE_SIGN_CRT "signing.crt"
#define GF_PKI_SITE_SIGN_CA  "ca_signing.pub"

/* ---- signing keys (Ed25519) ------------------------------------------------
 * Besides its TLS certificate, every site kit holds an Ed25519 signing key
 * and the CA's endorsement of it: name (64 bytes, NUL-padded) || public key
 * (32) || the CA's Ed25519 signature (64) over "gf-site-signing-key-v1\0" ||
 * name (64) || public key (32). The CA's public signing key is pinned in
 * every kit. A site presents its endorsement inside its secure-aggregation
 * advertisement; peers check it against the pinned key, so adding a site
 * changes no other kit, and the coordinator, which never holds the CA's
 * keys, cannot issue one. The operator's kit has none (it never takes part
 * in a round). */
#define GF_PKI_SIGN_PK_BYTES 32
#define GF_PKI_SIGN_SK_BYTES 64
#define GF_PKI_ENDORSE_BYTES (GF_PKI_NAME_MAX + GF_PKI_SIGN_PK_BYTES + 64)

/* The CA's endorsement of site `name`'s signing key `pk` (the encoder;
 * privacy/secagg_peer.c holds the one decoder). */
gf_status gf_pki_signing_endorse(const uint8_t ca_sk[GF_PKI_SIGN_SK_BYTES], const char *name,
                                 const uint8_t pk[GF_PKI_SIGN_PK_BYTES], uint8_t out[GF_PKI_ENDORSE_BYTES]);
/* Loads a site kit's signing key, its endorsement and the CA's public
 * signing key; GF_ERR_MISMATCH when the endorsement is of another key,
 * GF_ERR_IO when the kit has none (provisioned before signing keys). */
gf_status gf_pki_signing_load(const char *kit, uint8_t sk[GF_PKI_SIGN_SK_BYTES],
                              uint8_t endorsement[GF_PKI_ENDORSE_BYTES], uint8_t ca_pk[GF_PKI_SIGN_PK_BYTES]);

/* ---- provisioning (gf provision) ----------------------------------------- */

/* Creates the CA, the coordinator's certificate (CN "coordinator",
 * subjectAltName HOST as a DNS name or IP address, serverAuth) and one kit
 * per site (CN = NAME, clientAuth). `coordinator` is HOST, HOST:PORT,
 * [IPv6]:PORT or a bare IPv6 address; the port defaults to 8443. GF_ERR_ARG
 * when DIR already holds a CA ("already provisioned"), is a non-empty
 * folder, or a name or the address is invalid or duplicated. */
gf_status gf_pki_create(const char *dir, const char *coordinator,
                        const char *const *sites, int nsites);

/* Issues a kit for one more site. GF_ERR_ARG if NAME is invalid or was ever
 * issued (revoked names stay taken). */
gf_status gf_pki_add_site(const char *dir, const char *name);

/* Revokes a site: re-signs ca/crl.pem and coordinator/crl.pem with its
 * serial added and records it in state.json. GF_ERR_ARG if NAME was never
 * issued or is already revoked. */
gf_status gf_pki_revoke(const char *dir, const char *name);

/* GF_OK if `name` is a valid, non-reserved site name; else GF_ERR_ARG with
 * a message saying why. */
gf_status gf_pki_check_name(const char *name);

/* ---- TLS sessions (coordinator and sites) --------------------------------- */
/* Create sessions with gnutls_init(&s, GNUTLS_SERVER or GNUTLS_CLIENT |
 * GNUTLS_NO_SIGNAL): without it a peer that hangs up mid-write raises
 * SIGPIPE and kills the process. */

/* Loads a key + certificate (either may be NULL for a client without
 * identity) and the CA that peers must chain to. */
gf_status gf_pki_creds_load(const char *key_file, const char *crt_file, const char *ca_file,
                            gnutls_certificate_credentials_t *out);

/* Sets TLS 1.3 only, the credentials, and makes the handshake fail unless
 * the peer's certificate chains to the CA. With host == NULL (the
 * coordinator) a client certificate is required and must carry clientAuth;
 * otherwise (a site) the server's certificate must name `host` (DNS or IP
 * subjectAltName); `host` must outlive the session. */
gf_status gf_pki_session_setup(gnutls_session_t s, gnutls_certificate_credentials_t creds,
                               const char *host);

/* After the handshake: verifies the peer's certificate again (chain to the
 * credentials' CA, and serverAuth for CN "coordinator", clientAuth for any
 * other name) and copies its common name into name[size]. The coordinator
 * reads the site's name; a site must get "coordinator". GF_ERR_MISMATCH
 * when the peer is not verified, GF_ERR_ARG when `size` is too small. */
gf_status gf_pki_peer_name(gnutls_session_t s, char *name, size_t size);

/* When the peer certificate of a completed handshake expires (notAfter). */
gf_status gf_pki_peer_expiry(gnutls_session_t s, time_t *not_after);

/* ---- revocation ----------------------------------------------------------- */

/* A CRL file, checked against its CA's signature when loaded. Not
 * thread-safe: serialise gf_pki_crl_refresh with the checks. */
typedef struct gf_pki_crl gf_pki_crl;

/* Loads and verifies a CRL: signed by the CA, its nextUpdate not passed, and
 * a crlNumber (GF_ERR_FORMAT otherwise). floor_file (NULL: none) keeps the
 * highest crlNumber ever in force across restarts: a CRL below it is refused
 * (GF_ERR_MISMATCH: an older list copied back while the coordinator was down
 * would un-revoke sites); a higher one is recorded there (atomically), here
 * and at every refresh. */
gf_status gf_pki_crl_load(const char *crl_file, const char *ca_file, const char *floor_file, gf_pki_crl **out);

/* Re-reads the CRL file if it changed (inode, size or mtime) since it was
 * loaded: the coordinator calls this before checking a new connection, so
 * `gf provision --revoke` takes effect without a restart. A file with a
 * lower crlNumber than the list in force (an older CRL copied back, which
 * would un-revoke sites) is refused (GF_ERR_MISMATCH). On failure the
 * previous list stays in force and the error is returned. */
gf_status gf_pki_crl_refresh(gf_pki_crl *crl);

/* Which load of the list is in force: it changes whenever
 * gf_pki_crl_refresh loads a new file (a check made under another one
 * must be made again). */
uint64_t  gf_pki_crl_generation(const gf_pki_crl *crl);

/* GF_OK unless the certificate is on the list (GF_ERR_MISMATCH, naming its
 * common name and serial). */
gf_status gf_pki_crl_check_crt(const gf_pki_crl *crl, gnutls_x509_crt_t crt);

/* The same for the peer certificate of a completed handshake. */
gf_status gf_pki_crl_check(const gf_pki_crl *crl, gnutls_session_t s);

void gf_pki_crl_free(gf_pki_crl *crl);

#endif

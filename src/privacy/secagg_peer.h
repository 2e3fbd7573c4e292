/* Secure aggregation that does not trust the coordinator: a site's side of
 * a round (privacy/secagg.h's client) with every message that matters
 * signed, after Bonawitz et al. 2017 (the actively secure variant: signed
 * key advertisements and the ConsistencyCheck round), and the round's
 * graph seed drawn from all the sites' advertisements rather than by the
 * coordinator.
 *
 * Identity: each site holds an Ed25519 signing key endorsed by the
 * federation's CA (net/pki.h, "signing keys"): an endorsement is
 * name (64, NUL-padded) || public key (32) || the CA's signature (64) over
 * "gf-site-signing-key-v1\0" || name || public key. Every site pins the
 * CA's public signing key; the coordinator relays endorsements but cannot
 * make one.
 *
 * Round identity (gf_secagg_round_id): job, round, the coordinator's
 * attempt token and n, k, t, d. It is bound into every signature, so a
 * message of one round, attempt or parameter set is useless in another.
 *
 * Messages (sizes in bytes):
 *   advertisement (GF_SECAGG_ADV_BYTES): c_pk || s_pk (64) || nonce (32,
 *     fresh random) || endorsement (160) || Ed25519 signature (64) by the
 *     endorsed key over "gfsa-adv-v1\0" || round id || index (4) || the
 *     first 256 bytes. The coordinator's key table is (n, ADV), zero rows
 *     for absent sites.
 *   graph seed: BLAKE2b-256("gfsa-graph-seed-v1\0" || round id || the key
 *     table), computed by every site and by the coordinator from the same
 *     table (gf_secagg_graph_seed). No one party chooses it: it covers every
 *     site's nonce. Sites shown different tables get different seeds, and
 *     the shares they encrypt for each other then fail to authenticate.
 *   consistency signature (64): Ed25519 over "gfsa-consistency-v1\0" ||
 *     round id || graph seed || "U" || count (4) || the survivors' names
 *     sorted (64 each, NUL-padded) || "D" || count || the dropped names
 *     sorted. A survivor signs the one list it is shown.
 *   unmask request: survived (n) || dropped (n) flags || signatures (n, 64),
 *     zero rows for sites that did not sign.
 *
 * A peer aborts (and stays aborted, wiping its secrets) when: a row of the
 * key table has an endorsement that the pinned CA key does not verify, an
 * advertisement whose signature does not verify for its row, round and
 * attempt, two rows endorse the same name, its own row is not its own
 * advertisement; the survivor list is malformed, leaves it out, or has
 * fewer than t survivors; the unmask request's lists differ from the ones
 * it signed, a signature does not verify, or fewer than
 * gf_secagg_consistency_quorum sites signed. Every refusal names what was
 * wrong.
 *
 * Not thread-safe per object; nothing prints. */
#ifndef GF_PRIVACY_SECAGG_PEER_H
#define GF_PRIVACY_SECAGG_PEER_H

#include <stddef.h>
#include <stdint.h>
#include "core/error.h"
#include "privacy/secagg.h"

#define GF_SECAGG_NAME_BYTES    64
#define GF_SECAGG_SIGN_PK_BYTES 32
#define GF_SECAGG_SIGN_SK_BYTES 64
#define GF_SECAGG_SIG_BYTES     64
#define GF_SECAGG_NONCE_BYTES   32
#define GF_SECAGG_ENDORSE_BYTES (GF_SECAGG_NAME_BYTES + GF_SECAGG_SIGN_PK_BYTES + GF_SECAGG_SIG_BYTES)
#define GF_SECAGG_ADV_BYTES     (GF_SECAGG_KEYS_BYTES + GF_SECAGG_NONCE_BYTES + GF_SECAGG_ENDORSE_BYTES + \
                                 GF_SECAGG_SIG_BYTES)
#define GF_SECAGG_ATTEMPT_MAX   23

/* What every signature of a round is bound to. */
typedef struct {
    int64_t job, round;
    char    attempt[GF_SECAGG_ATTEMPT_MAX + 1];   /* the coordinator's token for this attempt */
    int     n, k, t;
    int64_t d;
} gf_secagg_round_id;

/* A site's signing identity: its key and the CA's endorsement of it, and
 * the CA's public signing key it pins. */
typedef struct {
    uint8_t sk[GF_SECAGG_SIGN_SK_BYTES];
    uint8_t endorsement[GF_SECAGG_ENDORSE_BYTES];
    uint8_t ca_pk[GF_SECAGG_SIGN_PK_BYTES];
} gf_secagg_identity;

/* Checks an endorsement against the CA's public signing key; on success
 * copies the site's name (NUL-terminated) and public key (either may be
 * NULL). GF_ERR_MISMATCH when the signature or the name is bad. */
gf_status gf_secagg_endorsement_check(const uint8_t ca_pk[GF_SECAGG_SIGN_PK_BYTES],
                                      const uint8_t e[GF_SECAGG_ENDORSE_BYTES],
                                      char name[GF_SECAGG_NAME_BYTES + 1], uint8_t pk[GF_SECAGG_SIGN_PK_BYTES]);

/* The graph seed of a round from its key table (n, ADV) (see above). */
gf_status gf_secagg_graph_seed(const gf_secagg_round_id *id, const uint8_t *table /* (n, ADV) */,
                               uint8_t seed[GF_SECAGG_SEED_BYTES]);

/* Signatures needed on one survivor list before any share is revealed:
 * max(t, floor(present / 2) + 1), present = sites in the key table. Two
 * different lists then share a signer, who must be a colluding site. */
int gf_secagg_consistency_quorum(int t, int present);

typedef struct gf_secagg_peer gf_secagg_peer;

/* A site's side of round `id` as participant `index`; makes its X25519 keys
 * and its nonce. The identity is copied (and wiped on free). */
gf_status gf_secagg_peer_new(const gf_secagg_round_id *id, int index, const gf_secagg_identity *me,
                             gf_secagg_peer **out);
void      gf_secagg_peer_free(gf_secagg_peer *p);   /* wipes; NULL is fine */

/* Phase 1: this site's signed advertisement. */
gf_status gf_secagg_peer_advertise(gf_secagg_peer *p, uint8_t adv[GF_SECAGG_ADV_BYTES]);

/* Phase 2: verifies the whole key table (see the aborts above), draws the
 * graph from it, then encrypts the shares as gf_secagg_client_share. */
gf_status gf_secagg_peer_share(gf_secagg_peer *p, const uint8_t *table /* (n, ADV) */,
                               uint8_t *cts /* (k, GF_SECAGG_CT_BYTES) */, unsigned char *sent /* (k) */);

/* Phase 3: as gf_secagg_client_mask. */
gf_status gf_secagg_peer_mask(gf_secagg_peer *p, const uint32_t *x /* (d) */, const uint8_t *inbox,
                              const unsigned char *received /* (k) */, uint32_t *y /* (d) */);

/* Before sharing: the fewest survivors this site accepts (under
 * client-level DP, the number its noise is calibrated to,
 * gf_ddg_min_survivors): a survivor list with fewer is refused, unsigned,
 * and nothing is revealed. Default t. */
gf_status gf_secagg_peer_require_survivors(gf_secagg_peer *p, int m);

/* Consistency round: signs the survivor and dropped lists it is shown
 * (once; a second, different list is refused; fewer survivors than t or
 * the required minimum are refused). */
gf_status gf_secagg_peer_sign_survivors(gf_secagg_peer *p, const unsigned char *survived /* (n) */,
                                        const unsigned char *dropped /* (n) */, uint8_t sig[GF_SECAGG_SIG_BYTES]);

/* Phase 4: checks the request against the signed lists and the quorum of
 * valid signatures, then answers as gf_secagg_client_unmask. */
gf_status gf_secagg_peer_unmask(gf_secagg_peer *p, const unsigned char *survived /* (n) */,
                                const unsigned char *dropped /* (n) */, const uint8_t *sigs /* (n, 64) */,
                                uint8_t *resp /* (k, GF_SECAGG_UNMASK_ROW_BYTES) */);

/* The round's parameters with the drawn graph seed (after phase 2), e.g. to
 * list neighbours. */
const gf_secagg_params *gf_secagg_peer_params(const gf_secagg_peer *p);

#endif

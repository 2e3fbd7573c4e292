/* The coordinator's side of one securely aggregated round: the SecAgg(+)
 * server of privacy/secagg.h behind the round's HTTP messages, the phase
 * the round is in, each phase's deadline, and who answered what. Sites are
 * the round's participants 0..n-1 (fedjob's parts order). The coordinator
 * relays and sums; the only vector it ever holds is the masked sum, and
 * after unmasking the sum of the survivors' quantised inputs.
 *
 * Phases (each opens when the previous one closes):
 *   KEYS    sites POST their signed advertisement (GF_SECAGG_ADV_BYTES,
 *           privacy/secagg_peer.h): two public keys, a nonce, the CA's
 *           endorsement of the site's signing key, the site's signature
 *   SHARES  sites GET the key table (n, ADV), relayed exactly as signed;
 *           the graph seed is then gf_secagg_graph_seed of it (the
 *           coordinator draws nothing), and sites POST their encrypted shares
 *           (k, GF_SECAGG_CT_BYTES) then their sent flags (k)
 *   MASKED  sites GET their inbox (k, CT) + (k) flags, train, and POST the
 *           masked input: (d + 1) little-endian uint32, the model's d
 *           coordinates then the weight
 *   CONSISTENCY  survivors GET the lists, survived (n) then dropped (n)
 *           flags, and POST their signature of them (64); the phase needs
 *           gf_secagg_consistency_quorum signatures
 *   UNMASK  signers GET the request, the two lists then the signatures
 *           (n, 64), zero rows for sites that did not sign, and POST their
 *           unmask rows (k, GF_SECAGG_UNMASK_ROW_BYTES)
 *   FINISHING  the unmask shares are in: gf_secround_finish removes the
 *           masks (the costly part; no message is taken meanwhile)
 *   DONE    the sum is unmasked (gf_secround_result)
 * A phase closes when every site still in the round has answered, or at its
 * deadline; a site that declines leaves the round at once (a dropout).
 *
 * Not thread-safe: the coordinator calls it under its lock (all but
 * gf_secround_finish, see there). */
#ifndef GF_FED_SECROUND_H
#define GF_FED_SECROUND_H

#include <stddef.h>
#include <stdint.h>
#include "core/error.h"
#include "privacy/dp.h"
#include "privacy/secagg.h"

typedef enum { GF_SECROUND_KEYS, GF_SECROUND_SHARES, GF_SECROUND_MASKED, GF_SECROUND_CONSIST, GF_SECROUND_UNMASK,
               GF_SECROUND_FINISHING, GF_SECROUND_DONE } gf_secround_phase;

typedef struct gf_secround gf_secround;

/* What every site of the round must use (sent in its task). */
typedef struct {
    gf_secagg_params p;      /* n, k, t, d = model d + 1; the seed is drawn from the key table */
    double clip;             /* quantisation range: gf_secagg_quantize(.., clip, n, ..); under DP noise the plan's */
    double max_weight;       /* weight = min(samples, max_weight) / max_weight; 1 under DP */
    double dp_clip;          /* DP: the L2 bound each site applies this round (0: no DP) */
    double dp_noise_std;     /* DP: std of each site's discrete Gaussian noise, in update units
                              * (gf_ddg_plan_round: z (gamma S + sqrt(d)) / (sqrt(m) gamma),
                              * m = gf_ddg_min_survivors(n, t)) */
    int    dp_count;         /* adaptive clipping: x gains a last coordinate, +1/2 when the
                              * update's norm was at most dp_clip, else -1/2 (gf_dp_count_report),
                              * plus its noise share */
    double dp_count_noise_std;   /* the count's, 2 sigma_b (gamma / 2 + 1) / (sqrt(m) gamma) */
} gf_secround_public;

/* A round of n sites over a model of d parameters (with DP, clipped at
 * dp_clip this round); the first phase's deadline is now +
 * cfg->phase_timeout_s. GF_ERR_ARG (with the reason) when n sites cannot run
 * secure aggregation with the job's k and t. The masked vector is
 * x = [w * update (d), w] plus, under adaptive clipping, the count bit. */
gf_status gf_secround_new(const gf_secagg_config *cfg, const gf_dp_config *dp, double dp_clip, int64_t job,
                          int64_t round, int n, int64_t d, double now, gf_secround **out);
void      gf_secround_free(gf_secround *r);   /* NULL is fine */

const gf_secround_public *gf_secround_public_params(const gf_secround *r);
/* This attempt of the round: 16 random hex digits that every
 * secagg message carries as ?attempt=, so a message meant for an aborted
 * attempt of the same round number can never land in the next one. */
const char *gf_secround_attempt(const gf_secround *r);
gf_secround_phase gf_secround_phase_of(const gf_secround *r);
const char *gf_secround_phase_name(gf_secround_phase ph);
double    gf_secround_deadline(const gf_secround *r);

/* Inbound messages of site i. On refusal: an error naming what is wrong and
 * *http the status to answer (400 malformed or wrong length, 409 wrong
 * phase or sent twice); nothing changed. */
gf_status gf_secround_add_keys(gf_secround *r, int i, const uint8_t *body, size_t len, int *http);
gf_status gf_secround_add_shares(gf_secround *r, int i, const uint8_t *body, size_t len, int *http);
gf_status gf_secround_add_masked(gf_secround *r, int i, const uint8_t *body, size_t len, int *http);
gf_status gf_secround_add_consistency(gf_secround *r, int i, const uint8_t *body, size_t len, int *http);
gf_status gf_secround_add_unmask(gf_secround *r, int i, const uint8_t *body, size_t len, int *http);
/* Site i leaves the round (declined, or its task failed). */
void      gf_secround_leave(gf_secround *r, int i);
/* Whether site i has sent its masked input. */
int       gf_secround_masked(const gf_secround *r, int i);

/* Outbound messages for site i: GF_OK with a malloc'd body, or GF_OK with
 * *body NULL when its phase has not opened yet (poll again), or an error
 * (*http as above) when it never will for this site. */
gf_status gf_secround_key_table(gf_secround *r, int i, uint8_t **body, size_t *len, int *http);
gf_status gf_secround_inbox(gf_secround *r, int i, uint8_t **body, size_t *len, int *http);
gf_status gf_secround_survivors(gf_secround *r, int i, uint8_t **body, size_t *len, int *http);
gf_status gf_secround_unmask_request(gf_secround *r, int i, uint8_t **body, size_t *len, int *http);

/* Moves the round on at time now: closes the current phase when every site
 * still in it answered or its deadline passed. Returns GF_OK (moved or
 * waiting; see gf_secround_phase_of), or an error whose message says why
 * the round must be aborted (fewer than t sites, too few updates for
 * min_updates, unmasking failed). Nothing about any single input is
 * revealed by an abort. */
gf_status gf_secround_advance(gf_secround *r, double now, double masked_deadline, int min_updates);

/* In FINISHING: rebuilds the needed secrets and removes every mask from the
 * sum, or fails (the round must be aborted; nothing revealed). Touches only
 * the sum, the stored shares and a flag the next gf_secround_advance reads
 * to move to DONE, so the caller may run it without the lock that guards
 * the other calls (then advance under the lock again), as long as nothing
 * frees r meanwhile: messages that arrive then are refused by phase. */
gf_status gf_secround_finish(gf_secround *r);

/* After DONE: the dequantised sum over the survivors (d) (the weighted sum
 * of their updates), the weight sum, how many were summed, and (adaptive
 * clipping; else 0) the noised sum of the sites' count reports
 * (gf_dp_count_report: +-1/2 each). */
gf_status gf_secround_result(const gf_secround *r, float *sum /* (d) */, double *weight, int *nsummed,
                             double *count);

#endif

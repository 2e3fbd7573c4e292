/* A site's part of a securely aggregated round, over the coordinator's
 * secagg routes (fed/secround.h): keys and shares before training, the
 * masked input instead of the plain update, and the unmask shares after.
 * The update is turned into x = [w * update, w] (or, under DP, the update
 * clipped to S plus this site's share of the noise, weight 1), quantised
 * and masked here: nothing in the clear leaves the site. */
#ifndef GF_FED_SITE_SECAGG_H
#define GF_FED_SITE_SECAGG_H

#include <signal.h>
#include <stdint.h>
#include "core/error.h"
#include "fed/task.h"
#include "net/https_client.h"
#include "privacy/secagg_peer.h"
#include "privacy/secagg_policy.h"

typedef struct site_secagg site_secagg;

/* Phases 1 and 2 from the task's secure-aggregation part (fed/task.h) of round
 * `round` of job `job`: checks the parameters against this site's policy
 * (a refusal says which minimum and why), then advertises signed keys,
 * fetches and verifies the key table (privacy/secagg_peer.h), sends shares,
 * fetches the inbox. d: the model's parameter count. me: this site's
 * signing identity (NULL: the kit has none, refused). *stop (may be NULL)
 * cuts the long-polls short. */
gf_status site_secagg_begin(gf_https_client *http, const gf_fed_task_secagg *sa, int64_t d, int64_t job, int64_t round,
                            const gf_secagg_policy *policy, const gf_secagg_identity *me,
                            volatile sig_atomic_t *stop, site_secagg **out);

/* Phase 3: masks update (d) weighted by samples and POSTs it to
 * update_path. record_dir (may be NULL): also writes this site's own
 * quantised input, before masking, to
 * record_dir/job-J-round-R.u32 ((d + 1) little-endian uint32) for audits. */
gf_status site_secagg_send(site_secagg *s, const float *update, int64_t samples, const char *update_path,
                           const char *record_dir, int64_t job, int64_t round);

/* The consistency round and phase 4: signs the survivor list it is shown,
 * waits for the unmask request and answers it only when enough sites
 * signed the same list. */
gf_status site_secagg_finish(site_secagg *s);

void site_secagg_free(site_secagg *s);   /* wipes the secrets; NULL is fine */

#endif

/* A malicious coordinator against the sites' own protocol code
 * (privacy/secagg_peer.h, the object gf site runs; its minimums in
 * privacy/secagg_policy.h and site_secagg_begin). The test is the
 * coordinator: it relays the sites' messages through privacy/secagg.h's
 * server, honestly first (the sum equals the plain sum of the inputs),
 * then cheating:
 *  - swapped keys: its own X25519 keys under a site's endorsement, a site
 *    endorsed by a key other than the CA's, an advertisement of another
 *    attempt, one site in two rows: every site refuses before sharing;
 *  - different survivor lists shown to different sites: no list reaches the
 *    quorum, so no site reveals a share; a request with another list than
 *    the one signed, or signatures copied onto another list: refused;
 *  - the graph seed: it is the hash of the key table (a nonce changed breaks
 *    a signature); a coordinator that routes with a graph of its choosing,
 *    or shows one site another table, gets ciphertexts that do not
 *    authenticate: the sites abort before masking;
 *  - parameters below a site's minimums (t = 1, noise 0 or too small, a zero
 *    or NaN clip, too few sites): refused, naming the parameter. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <sodium.h>
#include "check.h"
#include "net/pki.h"
#include "privacy/secagg.h"
#include "privacy/secagg_peer.h"
#include "privacy/secagg_policy.h"
#include "privacy/ddg.h"
#include "fed/site_secagg.h"

#define N 6
#define D 300

static uint8_t ca_pk[32], ca_sk[64];
static gf_secagg_identity ident[N];

static void make_identity(gf_secagg_identity *id, const char *name, const uint8_t *signer_sk, const uint8_t *pinned)
{
    uint8_t pk[32];
    crypto_sign_keypair(pk, id->sk);
    CHECK(gf_pki_signing_endorse(signer_sk, name, pk, id->endorsement) == GF_OK);
    memcpy(id->ca_pk, pinned, 32);
}

typedef struct {
    gf_secagg_round_id id;
    gf_secagg_peer    *peer[N];
    uint8_t            table[N * GF_SECAGG_ADV_BYTES];
    uint32_t           x[N][D];
} game;

static void game_new(game *g, const char *attempt)
{
    memset(g, 0, sizeof *g);
    g->id = (gf_secagg_round_id){ .job = 7, .round = 3, .n = N, .k = N - 1, .t = 4, .d = D };
    snprintf(g->id.attempt, sizeof g->id.attempt, "%s", attempt);
    for (int i = 0; i < N; i++) {
        CHECK_MSG(gf_secagg_peer_new(&g->id, i, &ident[i], &g->peer[i]) == GF_OK, "%s", gf_last_error());
        CHECK(gf_secagg_peer_advertise(g->peer[i], g->table + (size_t)i * GF_SECAGG_ADV_BYTES) == GF_OK);
        for (int c = 0; c < D; c++) g->x[i][c] = (uint32_t)(1000 * i + 7 * c + 1);
    }
}

static void game_free(game *g)
{
    for (int i = 0; i < N; i++) gf_secagg_peer_free(g->peer[i]);
}

/* Every site's share step on table tab; returns how many refused, and
 * checks each refusal's message holds `words` (the site whose own row was
 * tampered with says so instead) and that at least N - 1 of them do. */
static int share_all(game *g, const uint8_t *tab, uint8_t cts[N][(N - 1) * GF_SECAGG_CT_BYTES],
                     unsigned char sent[N][N - 1], const char *words)
{
    int refused = 0, said = 0;
    for (int i = 0; i < N; i++) {
        gf_status st = gf_secagg_peer_share(g->peer[i], tab, cts[i], sent[i]);
        if (st) {
            refused++;
            said += words && strstr(gf_last_error(), words) != NULL;
            CHECK_MSG(!words || strstr(gf_last_error(), words) || strstr(gf_last_error(), "not this site's advertisement"),
                      "site %d: %s (want \"%s\")", i, gf_last_error(), words);
        }
    }
    CHECK_MSG(!words || !refused || said >= N - 1, "%d sites named the reason \"%s\"", said, words);
    return refused;
}

/* The honest coordinator's server for the game's table. */
static gf_secagg_server *server_for(game *g, const uint8_t *seed_override)
{
    gf_secagg_params p = { .n = N, .k = N - 1, .t = 4, .d = D };
    uint8_t seed[32];
    CHECK(gf_secagg_graph_seed(&g->id, g->table, seed) == GF_OK);
    gf_secagg_server *s = NULL;
    CHECK(gf_secagg_server_new(&p, &s) == GF_OK);
    CHECK(gf_secagg_server_set_seed(s, seed_override ? seed_override : seed) == GF_OK);
    for (int i = 0; i < N; i++) CHECK(gf_secagg_server_add_keys(s, i, g->table + (size_t)i * GF_SECAGG_ADV_BYTES) == GF_OK);
    uint8_t keys[N * 64];
    CHECK(gf_secagg_server_keys(s, keys) == GF_OK);
    return s;
}

/* Shares through the server, then masks; returns how many sites aborted. */
static int mask_all(game *g, gf_secagg_server *s, uint8_t cts[N][(N - 1) * GF_SECAGG_CT_BYTES],
                    unsigned char sent[N][N - 1], uint32_t y[N][D])
{
    for (int i = 0; i < N; i++) CHECK(gf_secagg_server_add_shares(s, i, cts[i], sent[i]) == GF_OK);
    int aborted = 0;
    for (int i = 0; i < N; i++) {
        uint8_t inbox[(N - 1) * GF_SECAGG_CT_BYTES];
        unsigned char rec[N - 1];
        CHECK(gf_secagg_server_inbox(s, i, inbox, rec) == GF_OK);
        if (gf_secagg_peer_mask(g->peer[i], g->x[i], inbox, rec, y[i])) aborted++;
        else CHECK(gf_secagg_server_add_masked(s, i, y[i]) == GF_OK);
    }
    return aborted;
}

static void honest(void)
{
    game g;
    game_new(&g, "00aa");
    uint8_t cts[N][(N - 1) * GF_SECAGG_CT_BYTES];
    unsigned char sent[N][N - 1];
    uint32_t y[N][D];
    CHECK(share_all(&g, g.table, cts, sent, NULL) == 0);
    uint8_t seed[32];
    CHECK(gf_secagg_graph_seed(&g.id, g.table, seed) == GF_OK);
    CHECK(!memcmp(gf_secagg_peer_params(g.peer[0])->seed, seed, 32));
    gf_secagg_server *s = server_for(&g, NULL);
    CHECK(mask_all(&g, s, cts, sent, y) == 0);
    unsigned char su[N], dr[N];
    CHECK(gf_secagg_server_unmask_request(s, su, dr) == GF_OK);
    uint8_t sigs[N * 64];
    for (int i = 0; i < N; i++) CHECK(gf_secagg_peer_sign_survivors(g.peer[i], su, dr, sigs + 64 * i) == GF_OK);
    for (int i = 0; i < N; i++) {
        uint8_t resp[(N - 1) * GF_SECAGG_UNMASK_ROW_BYTES];
        CHECK_MSG(gf_secagg_peer_unmask(g.peer[i], su, dr, sigs, resp) == GF_OK, "%s", gf_last_error());
        CHECK(gf_secagg_server_add_unmask(s, i, resp) == GF_OK);
    }
    uint32_t z[D];
    int m = 0;
    CHECK(gf_secagg_server_finish(s, z, &m) == GF_OK && m == N);
    int bad = 0;
    for (int c = 0; c < D; c++) {
        uint32_t want = 0;
        for (int i = 0; i < N; i++) want += g.x[i][c];
        bad += z[c] != want;
    }
    CHECK_MSG(bad == 0, "honest round: %d of %d coordinates differ from the plain sum", bad, D);
    gf_secagg_server_free(s);
    game_free(&g);
}

static void swapped_keys(void)
{
    uint8_t cts[N][(N - 1) * GF_SECAGG_CT_BYTES];
    unsigned char sent[N][N - 1];
    game g;
    /* the coordinator's own X25519 keys in site 2's row, under site 2's endorsement and signature */
    game_new(&g, "01");
    uint8_t *row = g.table + 2 * GF_SECAGG_ADV_BYTES, sk[32];
    crypto_box_keypair(row, sk);
    crypto_box_keypair(row + 32, sk);
    CHECK_MSG(share_all(&g, g.table, cts, sent, "not signed by site \"s2\"") == N, "swapped keys accepted");
    game_free(&g);
    /* a site "s9" endorsed by a key that is not the pinned CA's */
    uint8_t fake_pk[32], fake_sk[64];
    crypto_sign_keypair(fake_pk, fake_sk);
    gf_secagg_identity fake;
    make_identity(&fake, "s9", fake_sk, fake_pk);
    game_new(&g, "02");
    gf_secagg_peer *f = NULL;
    CHECK(gf_secagg_peer_new(&g.id, 4, &fake, &f) == GF_OK);   /* its own pin is its own key: it runs */
    CHECK(gf_secagg_peer_advertise(f, g.table + 4 * GF_SECAGG_ADV_BYTES) == GF_OK);
    gf_secagg_peer_free(f);
    CHECK_MSG(share_all(&g, g.table, cts, sent, "not signed by this federation's CA") == N, "foreign endorsement");
    game_free(&g);
    /* site 1's advertisement from another attempt of the round */
    game h;
    game_new(&h, "03");
    game_new(&g, "04");
    memcpy(g.table + GF_SECAGG_ADV_BYTES, h.table + GF_SECAGG_ADV_BYTES, GF_SECAGG_ADV_BYTES);
    CHECK_MSG(share_all(&g, g.table, cts, sent, "for this round and attempt") == N, "replayed advertisement");
    game_free(&g);
    game_free(&h);
    /* site 1 in rows 1 and 3 (both signed by it for their row) */
    game_new(&g, "05");
    gf_secagg_peer *dup = NULL;
    CHECK(gf_secagg_peer_new(&g.id, 3, &ident[1], &dup) == GF_OK);
    CHECK(gf_secagg_peer_advertise(dup, g.table + 3 * GF_SECAGG_ADV_BYTES) == GF_OK);
    gf_secagg_peer_free(dup);
    CHECK_MSG(share_all(&g, g.table, cts, sent, "is in rows 1 and 3") == N, "a site in two rows");
    game_free(&g);
    /* a nonce changed (to draw another graph) breaks the site's signature */
    game_new(&g, "06");
    g.table[5 * GF_SECAGG_ADV_BYTES + 64] ^= 1;
    CHECK_MSG(share_all(&g, g.table, cts, sent, "not signed by site \"s5\"") == N, "a nonce changed");
    game_free(&g);
}

static void split_views(void)
{
    uint8_t cts[N][(N - 1) * GF_SECAGG_CT_BYTES];
    unsigned char sent[N][N - 1];
    uint32_t y[N][D];
    game g;
    game_new(&g, "10");
    CHECK(share_all(&g, g.table, cts, sent, NULL) == 0);
    gf_secagg_server *s = server_for(&g, NULL);
    CHECK(mask_all(&g, s, cts, sent, y) == 0);
    /* sites 0-2 see everybody survive; sites 3-5 see site 0 dropped (its
     * mask key would open from them, its self mask from the others) */
    unsigned char ua[N], da[N] = { 0 }, ub[N], db[N] = { 0 };
    for (int i = 0; i < N; i++) ua[i] = ub[i] = 1;
    ub[0] = 0;
    db[0] = 1;
    uint8_t sigs_a[N * 64] = { 0 }, sigs_b[N * 64] = { 0 };
    for (int i = 0; i < 3; i++) CHECK(gf_secagg_peer_sign_survivors(g.peer[i], ua, da, sigs_a + 64 * i) == GF_OK);
    for (int i = 3; i < N; i++) CHECK(gf_secagg_peer_sign_survivors(g.peer[i], ub, db, sigs_b + 64 * i) == GF_OK);
    /* a second list shown to a site that signed one: refused */
    gf_secagg_peer *p3 = g.peer[3];
    uint8_t extra[64];
    CHECK(gf_secagg_peer_sign_survivors(p3, ua, da, extra) != GF_OK && strstr(gf_last_error(), "second survivor list"));
    int revealed = 0;
    uint8_t resp[(N - 1) * GF_SECAGG_UNMASK_ROW_BYTES];
    for (int i = 0; i < 3; i++) {   /* 3 signatures on list A, 4 needed */
        gf_status st = gf_secagg_peer_unmask(g.peer[i], ua, da, sigs_a, resp);
        revealed += st == GF_OK;
        CHECK_MSG(st && strstr(gf_last_error(), "3 sites signed") && strstr(gf_last_error(), "4 needed"), "site %d: %s",
                  i, gf_last_error());
    }
    for (int i = 4; i < N; i++) {   /* list A with A's signatures to a site that signed B */
        gf_status st = gf_secagg_peer_unmask(g.peer[i], ua, da, sigs_a, resp);
        revealed += st == GF_OK;
        CHECK_MSG(st && strstr(gf_last_error(), "differ from the list this site signed"), "site %d: %s", i,
                  gf_last_error());
    }
    CHECK_MSG(revealed == 0, "%d sites revealed shares with split views", revealed);
    gf_secagg_server_free(s);
    game_free(&g);
    /* list B to sites that signed B, with A's signers' signatures copied on */
    game_new(&g, "11");
    CHECK(share_all(&g, g.table, cts, sent, NULL) == 0);
    s = server_for(&g, NULL);
    CHECK(mask_all(&g, s, cts, sent, y) == 0);
    memset(sigs_a, 0, sizeof sigs_a);
    memset(sigs_b, 0, sizeof sigs_b);
    for (int i = 0; i < 3; i++) CHECK(gf_secagg_peer_sign_survivors(g.peer[i], ua, da, sigs_a + 64 * i) == GF_OK);
    for (int i = 3; i < N; i++) CHECK(gf_secagg_peer_sign_survivors(g.peer[i], ub, db, sigs_b + 64 * i) == GF_OK);
    memcpy(sigs_b + 64, sigs_a + 64, 2 * 64);   /* sites 1 and 2 "signed" B too */
    CHECK(gf_secagg_peer_unmask(g.peer[3], ub, db, sigs_b, resp) != GF_OK &&
          strstr(gf_last_error(), "row 1 (\"s1\") is not over the survivor list"));
    gf_secagg_server_free(s);
    game_free(&g);
}

static void graph_seed(void)
{
    uint8_t cts[N][(N - 1) * GF_SECAGG_CT_BYTES];
    unsigned char sent[N][N - 1];
    uint32_t y[N][D];
    /* two rounds with the same ids: fresh nonces, another seed; the seed is the table's hash */
    game g, h;
    game_new(&g, "20");
    game_new(&h, "20");
    uint8_t sg[32], sh[32];
    CHECK(gf_secagg_graph_seed(&g.id, g.table, sg) == GF_OK && gf_secagg_graph_seed(&h.id, h.table, sh) == GF_OK);
    CHECK(memcmp(sg, sh, 32) != 0);
    game_free(&h);
    /* the coordinator routes with a graph of its choosing (SecAgg+, k = 2) */
    game_free(&g);
    memset(&g, 0, sizeof g);
    g.id = (gf_secagg_round_id){ .job = 7, .round = 3, .n = N, .k = 2, .t = 2, .d = D };
    snprintf(g.id.attempt, sizeof g.id.attempt, "21");
    for (int i = 0; i < N; i++) {
        CHECK(gf_secagg_peer_new(&g.id, i, &ident[i], &g.peer[i]) == GF_OK);
        CHECK(gf_secagg_peer_advertise(g.peer[i], g.table + (size_t)i * GF_SECAGG_ADV_BYTES) == GF_OK);
    }
    uint8_t ctk[N][2 * GF_SECAGG_CT_BYTES];
    unsigned char sk2[N][2];
    for (int i = 0; i < N; i++) CHECK(gf_secagg_peer_share(g.peer[i], g.table, ctk[i], sk2[i]) == GF_OK);
    uint8_t chosen[32], drawn[32];
    CHECK(gf_secagg_graph_seed(&g.id, g.table, drawn) == GF_OK);
    int nb_drawn[2], nb_chosen[2], differs = 0;
    gf_secagg_params p = { .n = N, .k = 2, .t = 2, .d = D };
    for (int tries = 0; tries < 64 && !differs; tries++) {   /* a seed whose graph is another one */
        randombytes_buf(chosen, 32);
        for (int i = 0; i < N && !differs; i++) {
            memcpy(p.seed, drawn, 32);
            CHECK(gf_secagg_neighbours(&p, i, nb_drawn) == GF_OK);
            memcpy(p.seed, chosen, 32);
            CHECK(gf_secagg_neighbours(&p, i, nb_chosen) == GF_OK);
            differs = memcmp(nb_drawn, nb_chosen, sizeof nb_drawn) != 0;
        }
    }
    CHECK(differs);
    gf_secagg_server *s = NULL;
    memcpy(p.seed, chosen, 32);
    CHECK(gf_secagg_server_new(&p, &s) == GF_OK);
    for (int i = 0; i < N; i++) CHECK(gf_secagg_server_add_keys(s, i, g.table + (size_t)i * GF_SECAGG_ADV_BYTES) == GF_OK);
    uint8_t keys[N * 64];
    CHECK(gf_secagg_server_keys(s, keys) == GF_OK);
    int aborted = 0;
    for (int i = 0; i < N; i++) CHECK(gf_secagg_server_add_shares(s, i, ctk[i], sk2[i]) == GF_OK);
    for (int i = 0; i < N; i++) {
        uint8_t inbox[2 * GF_SECAGG_CT_BYTES];
        unsigned char rec[2];
        uint32_t yy[D], xx[D] = { 0 };
        CHECK(gf_secagg_server_inbox(s, i, inbox, rec) == GF_OK);
        aborted += gf_secagg_peer_mask(g.peer[i], xx, inbox, rec, yy) != GF_OK;
    }
    CHECK_MSG(aborted > 0, "a graph of the coordinator's choosing went unnoticed");
    gf_secagg_server_free(s);
    game_free(&g);
    /* one site is shown the table without site 5: it draws another graph and its inbox fails */
    game_new(&g, "22");
    uint8_t other[N * GF_SECAGG_ADV_BYTES];
    memcpy(other, g.table, sizeof other);
    memset(other + 5 * GF_SECAGG_ADV_BYTES, 0, GF_SECAGG_ADV_BYTES);
    CHECK(gf_secagg_peer_share(g.peer[0], other, cts[0], sent[0]) == GF_OK);
    for (int i = 1; i < N; i++) CHECK(gf_secagg_peer_share(g.peer[i], g.table, cts[i], sent[i]) == GF_OK);
    CHECK(memcmp(gf_secagg_peer_params(g.peer[0])->seed, gf_secagg_peer_params(g.peer[1])->seed, 32) != 0);
    s = server_for(&g, NULL);
    sent[0][4] = 1;                       /* the server insists on a share for 5: give it junk */
    randombytes_buf(cts[0] + 4 * GF_SECAGG_CT_BYTES, GF_SECAGG_CT_BYTES);
    CHECK_MSG(mask_all(&g, s, cts, sent, y) == N, "sites shown different tables went on to mask");
    gf_secagg_server_free(s);
    game_free(&g);
}

/* Under integer DP noise a site reveals nothing for fewer survivors than
 * its noise is calibrated to (gf_ddg_min_survivors): a coordinator that
 * shows t survivors, where the noise was planned for more, is refused. */
static void few_survivors(void)
{
    for (int shown = 4; shown <= 5; shown++) {
        game g;
        game_new(&g, shown == 4 ? "10" : "11");
        for (int i = 0; i < N; i++) CHECK(gf_secagg_peer_require_survivors(g.peer[i], 5) == GF_OK);
        uint8_t cts[N][(N - 1) * GF_SECAGG_CT_BYTES];
        unsigned char sent[N][N - 1];
        uint32_t y[N][D];
        CHECK(share_all(&g, g.table, cts, sent, NULL) == 0);
        gf_secagg_server *s = server_for(&g, NULL);
        CHECK(mask_all(&g, s, cts, sent, y) == 0);
        CHECK(gf_secagg_peer_require_survivors(g.peer[0], 5) == GF_ERR_ARG);     /* only before sharing */
        unsigned char su[N] = { 0 }, dr[N] = { 0 };
        for (int i = 0; i < N; i++) { su[i] = i < shown; dr[i] = i >= shown; }   /* t = 4 <= shown */
        int refused = 0, said = 0;
        uint8_t sig[64];
        for (int i = 0; i < shown; i++)
            if (gf_secagg_peer_sign_survivors(g.peer[i], su, dr, sig) != GF_OK) {
                refused++;
                said += strstr(gf_last_error(), "fewer than the 5 this site's noise is calibrated to") != NULL;
            }
        if (shown == 4) CHECK_MSG(refused == 4 && said == 4, "%d of 4 refused a list of 4 survivors", refused);
        else CHECK_MSG(refused == 0, "%d of 5 refused a list of 5 survivors", refused);
        gf_secagg_server_free(s);
        game_free(&g);
    }
}

static void minimums(void)
{
    gf_secagg_policy pol = { 0 };
    gf_secagg_offer ok = { .n = 5, .k = 4, .t = 3, .d = 10, .clip = 8, .max_weight = 100 };
    CHECK(gf_secagg_policy_check(&pol, &ok) == GF_OK);
    gf_secagg_offer o = ok;
    o.k = 2; o.t = 1;
    CHECK(gf_secagg_policy_check(&pol, &o) != GF_OK && strstr(gf_last_error(), "t = 1") &&
          strstr(gf_last_error(), "--secagg-min-t"));
    o = ok; o.clip = 0;
    CHECK(gf_secagg_policy_check(&pol, &o) != GF_OK && strstr(gf_last_error(), "clip 0"));
    o = ok; o.clip = NAN;
    CHECK(gf_secagg_policy_check(&pol, &o) != GF_OK && strstr(gf_last_error(), "clip"));
    o = ok; o.n = 2; o.k = 1; o.t = 1;
    CHECK(gf_secagg_policy_check(&pol, &o) != GF_OK && strstr(gf_last_error(), "--secagg-min-sites"));
    pol.min_t = 4;
    CHECK(gf_secagg_policy_check(&pol, &ok) != GF_OK && strstr(gf_last_error(), "minimum is 4"));
    pol = (gf_secagg_policy){ .min_noise = 1.0 };
    CHECK(gf_secagg_policy_check(&pol, &ok) != GF_OK && strstr(gf_last_error(), "no client-level DP"));
    o = ok; o.dp_clip = 0.5; o.dp_noise_std = 0;
    CHECK(gf_secagg_policy_check(&pol, &o) != GF_OK && strstr(gf_last_error(), "noise multiplier 0"));
    gf_ddg_plan plan;                          /* the coordinator's integer plan at multiplier 0.99, then 1 */
    CHECK(gf_ddg_plan_round(5, 3, 9, 0.5, 0.99, 0, &plan) == GF_OK);
    o.clip = plan.range; o.dp_noise_std = plan.noise_std;
    CHECK(gf_secagg_policy_check(&pol, &o) != GF_OK && strstr(gf_last_error(), "minimum is 1"));
    CHECK(gf_ddg_plan_round(5, 3, 9, 0.5, 1.0, 0, &plan) == GF_OK);
    o.clip = plan.range; o.dp_noise_std = plan.noise_std;
    CHECK_MSG(gf_secagg_policy_check(&pol, &o) == GF_OK, "%s", gf_last_error());
    /* the float split sigma S / sqrt(t) ignores the rounding's slack: a hair short of 1 */
    o.dp_noise_std = 0.5 * 1.0 / sqrt(3.0);
    CHECK(gf_secagg_policy_check(&pol, &o) != GF_OK && strstr(gf_last_error(), "minimum is 1"));
    o.dp_noise_std = plan.noise_std;
    o.dp_count = 1;
    CHECK(gf_secagg_policy_check(&pol, &o) != GF_OK && strstr(gf_last_error(), "count carries no noise"));

    /* the site's own task handling refuses before it sends anything (no connection given) */
    gf_fed_task_secagg task = { .enabled = 1, .index = 0, .path = "/v1/jobs/1/rounds/1/secagg", .attempt = "00ff",
                                .pub = { .p = { .n = 5, .k = 2, .t = 1, .d = 11 }, .clip = 8.0, .max_weight = 100.0 } };
    const gf_fed_task_secagg *sa = &task;
    site_secagg *ss = NULL;
    gf_secagg_policy def = { 0 };
    CHECK(site_secagg_begin(NULL, sa, 10, 1, 1, &def, &ident[0], NULL, &ss) != GF_OK && !ss &&
          strstr(gf_last_error(), "refuses the round: threshold t = 1"));
    task.pub.p.t = 2;
    task.pub.p.k = 2;
    gf_secagg_policy dp = { .min_noise = 0.5 };
    CHECK(site_secagg_begin(NULL, sa, 10, 1, 1, &dp, &ident[0], NULL, &ss) != GF_OK && !ss &&
          strstr(gf_last_error(), "--min-noise"));
    CHECK(site_secagg_begin(NULL, sa, 10, 1, 1, &def, NULL, NULL, &ss) != GF_OK && strstr(gf_last_error(), "signing key"));
}

int main(void)
{
    CHECK(sodium_init() >= 0);
    crypto_sign_keypair(ca_pk, ca_sk);
    for (int i = 0; i < N; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%d", i);
        make_identity(&ident[i], name, ca_sk, ca_pk);
    }
    honest();
    swapped_keys();
    split_views();
    graph_seed();
    minimums();
    few_survivors();
    return check_summary();
}

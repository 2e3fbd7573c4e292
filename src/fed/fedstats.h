/* The result of a federated statistics job: the sites' statistics vectors
 * (data/stats.h), summed by the round, rendered as the JSON the user
 * downloads, with every histogram bin, label category and column holding
 * fewer than min_count values suppressed (null), as NVIDIA FLARE's
 * statistics privacy filters do.
 *
 *   {"kind": "statistics", "job": J, "sites": N, "rows": R, "min_count": M,
 *    "secure_aggregation": B, "suppressed": {"columns": C, "bins": K, "labels": L},
 *    "notes": [S, ...],
 *    "columns": [{"index": j, "count": N, "missing": N, "mean": X, "var": X, "std": X,
 *                 "min": X|null, "max": X|null,
 *                 "quantiles": {"0.25": X|null, "0.5": ..., "0.75": ...},
 *                 "histogram": {"lo": X, "hi": X, "bins": B, "under": N|null,
 *                               "counts": [N|null, ...], "over": N|null}}, ...],
 *    "labels": {"counts": [N|null, ...], "other": N|null}}
 *
 * var is the sample variance (n - 1), as pandas' describe(); min and max are
 * null under secure aggregation (a masked sum cannot carry them); a column
 * with fewer than min_count values keeps only its count and missing. */
#ifndef GF_FED_FEDSTATS_H
#define GF_FED_FEDSTATS_H

#include <stdint.h>
#include "core/error.h"
#include "data/stats.h"
#include "fed/fedspec.h"
#include "fed/update.h"

/* acc (gf_stats_len) the combined statistics of nsites sites; *json
 * malloc'd, NUL-terminated. */
gf_status gf_fedstats_render(const gf_stats_plan *p, const double *acc, int64_t job, int nsites, int secagg,
                             int64_t min_count, char **json);

/* The plan of a statistics job's configuration (borrows its ranges). */
void      gf_fedstats_plan(const gf_fedstats_config *c, gf_stats_plan *out);

/* The wire manifest of a statistics job: one F32 tensor "stats" of the
 * plan's length (checked first: GF_ERR_ARG for a bad plan). */
gf_status gf_fedstats_manifest(const gf_stats_plan *p, gf_manifest *out);

#endif

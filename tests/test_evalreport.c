/* The evaluation report (fed/evalreport.h): a round trip keeps every value
 * (nulls as NaN), and the decoder refuses what the format forbids, naming
 * the field. */
#include "fed/evalreport.h"
#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    gf_eval_report r = { .samples = 24, .loss = 0.6931471805599453, .accuracy = 0.625, .auc = 0.71875,
                         .sensitivity = 1.0 / 3.0, .specificity = NAN }, back;
    char *json = NULL;
    CHECK(gf_eval_report_encode(&r, &json) == GF_OK && json);
    CHECK(json && strstr(json, "\"specificity\":null"));
    CHECK(json && gf_eval_report_decode(json, strlen(json), &back) == GF_OK);
    CHECK(back.samples == 24 && back.loss == r.loss && back.accuracy == 0.625 && back.auc == 0.71875 &&
          back.sensitivity == r.sensitivity && isnan(back.specificity));
    free(json);
    gf_eval_report badr = r;
    badr.accuracy = 1.5;
    CHECK(gf_eval_report_encode(&badr, &json) == GF_ERR_ARG && !json);

    const char *cases[][2] = {
        { "{\"samples\":0,\"loss\":1,\"accuracy\":0.5,\"auc\":null,\"sensitivity\":null,\"specificity\":null}", "samples" },
        { "{\"samples\":2.5,\"loss\":1,\"accuracy\":0.5,\"auc\":null,\"sensitivity\":null,\"specificity\":null}", "samples" },
        { "{\"samples\":3,\"loss\":-1,\"accuracy\":0.5,\"auc\":null,\"sensitivity\":null,\"specificity\":null}", "loss" },
        { "{\"samples\":3,\"loss\":null,\"accuracy\":0.5,\"auc\":null,\"sensitivity\":null,\"specificity\":null}", "loss" },
        { "{\"samples\":3,\"loss\":1,\"accuracy\":\"0.5\",\"auc\":null,\"sensitivity\":null,\"specificity\":null}", "accuracy" },
        { "{\"samples\":3,\"loss\":1,\"accuracy\":0.5,\"auc\":1.01,\"sensitivity\":null,\"specificity\":null}", "auc" },
        { "{\"samples\":3,\"loss\":1,\"accuracy\":0.5,\"auc\":null,\"sensitivity\":null}", "specificity is missing" },
        { "{\"samples\":3,\"loss\":1,\"accuracy\":0.5,\"auc\":null,\"sensitivity\":null,\"specificity\":null,\"x\":1}", "unknown key" },
        { "{\"samples\":3,\"samples\":3}", "duplicate" },
        { "[1]", "not a JSON object" },
        { "{\"samples\":", "not JSON" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gf_status st = gf_eval_report_decode(cases[i][0], strlen(cases[i][0]), &back);
        CHECK_MSG(st == GF_ERR_FORMAT && strstr(gf_last_error(), cases[i][1]) && back.samples == 0,
                  "%s: %s", cases[i][0], gf_last_error());
    }
    char big[GF_EVAL_REPORT_MAX + 2];
    memset(big, ' ', sizeof big);
    CHECK(gf_eval_report_decode(big, sizeof big, &back) == GF_ERR_FORMAT && strstr(gf_last_error(), "over the limit"));
    return check_summary();
}

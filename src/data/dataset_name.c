/* Dataset names (dataset_name.h): the form of a registered dataset's name
 * and of a federated job's eval set. */
#include "data/dataset_name.h"

#include <string.h>
#include "core/names.h"

gf_status gf_dataset_name_check(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > GF_DATASET_NAME_MAX)
        return gf_errorf(GF_ERR_ARG, "a dataset name is 1..%d characters", GF_DATASET_NAME_MAX);
    if (!strcmp(name, ".") || !strcmp(name, "..")) return gf_errorf(GF_ERR_ARG, "a dataset cannot be named \"%s\"", name);
    if (!gf_name_is_plain(name, GF_DATASET_NAME_MAX))
        return gf_errorf(GF_ERR_ARG, "a dataset name is made of [A-Za-z0-9._-] (datasets are registered by "
                         "the operator and named, never given as paths)");
    return GF_OK;
}

gf_status gf_dataset_eval_split(const char *eval, char name[GF_DATASET_NAME_MAX + 1], int *train)
{
    const char *colon = eval ? strchr(eval, ':') : NULL;
    size_t n = colon ? (size_t)(colon - eval) : (eval ? strlen(eval) : 0);
    *train = 0;
    if (colon && strcmp(colon + 1, "test") && strcmp(colon + 1, "train"))
        return gf_errorf(GF_ERR_ARG, "a split is \":test\" or \":train\" after the dataset name");
    if (n > GF_DATASET_NAME_MAX) return gf_errorf(GF_ERR_ARG, "a dataset name is 1..%d characters", GF_DATASET_NAME_MAX);
    memcpy(name, eval ? eval : "", n);
    name[n] = 0;
    *train = colon && !strcmp(colon + 1, "train");
    return gf_dataset_name_check(name);
}

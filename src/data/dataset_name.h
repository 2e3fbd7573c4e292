/* The names of registered datasets (the coordinator's registry,
 * service/datasets.h): 1..GF_DATASET_NAME_MAX characters of [A-Za-z0-9._-],
 * not "." or "..". A job spec names data only this way, never by a path;
 * a federated job's eval set is NAME, NAME:test or NAME:train. */
#ifndef GF_DATA_DATASET_NAME_H
#define GF_DATA_DATASET_NAME_H

#include "core/error.h"

#define GF_DATASET_NAME_MAX 64

/* GF_OK if name is a valid registry name (the registry also refuses the
 * built-in one when registering), else GF_ERR_ARG naming the problem. */
gf_status gf_dataset_name_check(const char *name);

/* "NAME" or "NAME:test" / "NAME:train" (a federated job's eval): the name
 * into name[GF_DATASET_NAME_MAX + 1] and *train = 1 for ":train". */
gf_status gf_dataset_eval_split(const char *eval, char name[GF_DATASET_NAME_MAX + 1], int *train);

#endif

/* Training checkpoints as safetensors: the model's parameters under their
 * PyTorch state_dict names ("i.weight", "i.bias"), the optimizer state as
 * flat vectors ("optim.exp_avg", ...), and metadata strings:
 *   gf.format  gf-checkpoint-1       gf.spec   canonical model spec
 *   gf.epoch, gf.step                gf.seed, gf.batch
 *   gf.optim, gf.lr, gf.momentum, gf.weight_decay, gf.beta1, gf.beta2, gf.eps
 *   gf.rng     "seed:epoch:step", the counter state all draws derive from
 *   gf.grad_clip (0: off), gf.accum, gf.lr_schedule (constant | cosine),
 *   gf.warmup_steps, gf.min_lr_frac, gf.lr_total_steps (cosine only: the
 *     steps it spans): a resumed run clips, accumulates and follows the
 *     same schedule as the run it continues (checkpoints written before
 *     these keys existed resume with none of them: no clip, constant rate)
 *   gf.test_accuracy (when the caller supplies it)
 *   gf.dpsgd_clip, gf.dpsgd_noise, gf.dpsgd_delta, gf.dpsgd_sample_rate,
 *   gf.dpsgd_steps, gf.dpsgd_epsilon (DP-SGD runs: settings, the accountant's
 *     inputs and the epsilon spent; a resumed run keeps DP-SGD on).
 *   gf.preprocess (federated jobs with "preprocess"): the preprocessing
 *     (data/preprocess.h JSON) its inputs need; gf eval applies it.
 * Nothing time- or host-dependent goes in, so equal runs give equal bytes. */
#ifndef GF_TRAIN_CHECKPOINT_H
#define GF_TRAIN_CHECKPOINT_H

#include "core/error.h"
#include "train/trainer.h"

/* test_accuracy < 0 leaves it out. Written atomically. */
gf_status gf_checkpoint_save(const gf_trainer *t, const char *path, double test_accuracy);

/* Restores a run to continue training: model, optimizer state, counters.
 * threads is the new run's thread count (a run's bits depend on it). */
gf_status gf_checkpoint_resume(const char *path, int threads, gf_trainer **out);

/* The metadata value `key` of a checkpoint: *out malloc'd, or NULL when
 * the file has no such key. */
gf_status gf_checkpoint_read_meta(const char *path, const char *key, char **out);

/* Loads only the model (for evaluation). */
gf_status gf_checkpoint_load_model(const char *path, int batch, int threads, gf_model **out);

#endif

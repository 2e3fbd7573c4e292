/* gf dp: differential-privacy planning: the (epsilon, delta) of a DP-SGD run
 * and the noise multiplier that a target epsilon needs. */
#ifndef GF_CLI_DP_H
#define GF_CLI_DP_H

int cmd_dp(int argc, char **argv);

#endif

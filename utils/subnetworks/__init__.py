"""Stage 3, finding the subnetworks: the Iterative Magnitude Pruning loop of one task (imp, which
trains through utils.training) and the choice of one mask per task from those runs
(mask_select, run by prepare-masks.sh). Above training; the masks themselves, and how they are
applied, counted and pruned, are utils.sparsity's."""

"""Everything that is not a network, grouped by the stage it serves: `data` (corpora -> data
file), `sparsity` (masks), `training` (the training loop and its runs), `results` (tables,
figures, tagging). The helpers every stage uses sit here: `atomic` (atomic writes), `errors`
(one-line errors and exit codes), `paths` (where the repository and the corpora are) and
`cli_args` (the command-line arguments the scripts share)."""

"""Stage 5, results: the saved runs of an experiment folder, the results tables, analyze.py's
figures and report, and tagging new text with a trained model (predict.py)."""

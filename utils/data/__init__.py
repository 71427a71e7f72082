"""Stage 1, corpora -> data file: corpus readers, tag schemes, chunks from parses, vocabularies,
word vectors, the data file `data/<setting>.pt`, and the batches cut from it."""

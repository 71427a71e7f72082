"""Corpus readers: column files (CoNLL-2003, CoNLL-2000, WSJ .pos) and OntoNotes (CoNLL-2012)."""

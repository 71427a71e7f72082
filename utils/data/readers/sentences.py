"""Sentences read from a corpus file, with their tag columns and the line each one starts on."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TaggedSentences:
    """Sentences of one file (or file set): words, named tag columns and line numbers.

    `first_lines[i]` is the line of sentence i's first token in `files[file_of[i]]`; token j of
    the sentence is on line `first_lines[i] + j` (every reader keeps a sentence's rows together),
    unless `token_lines` holds each token's line (CoNLL-U, whose word lines can have multiword
    ranges between them). `sentence_ids`: each sentence's id where the format has one (CoNLL-U).
    """

    words: list[list[str]] = field(default_factory=list)
    tags: dict[str, list[list[str]]] = field(default_factory=dict)
    first_lines: list[int] = field(default_factory=list)
    file_of: list[int] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    token_lines: list[list[int]] = field(default_factory=list)
    sentence_ids: list[str | None] = field(default_factory=list)

    @property
    def n_sentences(self) -> int:
        return len(self.words)

    @property
    def n_tokens(self) -> int:
        return sum(map(len, self.words))

    def where(self, sentence: int, token: int = 0) -> tuple[str, int]:
        """(file, line) of a token, for error messages."""
        if self.token_lines:
            return self.files[self.file_of[sentence]], self.token_lines[sentence][token]
        return self.files[self.file_of[sentence]], self.first_lines[sentence] + token

    def select(self, indices: list[int]) -> "TaggedSentences":
        """The sentences at `indices`, in that order (same files)."""
        return TaggedSentences(
            words=[self.words[i] for i in indices],
            tags={name: [column[i] for i in indices] for name, column in self.tags.items()},
            first_lines=[self.first_lines[i] for i in indices],
            file_of=[self.file_of[i] for i in indices],
            files=list(self.files),
            token_lines=[self.token_lines[i] for i in indices] if self.token_lines else [],
            sentence_ids=[self.sentence_ids[i] for i in indices] if self.sentence_ids else [])

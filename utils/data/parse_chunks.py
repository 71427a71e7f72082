"""Chunk tags (BIO2) derived from a sentence's parse bits, following the CoNLL-2000 chunks.

The CoNLL-2000 chunks were cut from Penn Treebank trees (Tjong Kim Sang and Buchholz, 2000): a
chunk is a base phrase, roughly the head of a phrase with the words before it that are in no other
chunk. OntoNotes gives its trees as CoNLL-2012 parse bits (`(TOP(S(NP*`, `*`, `*))`), one bit per
token, the token standing at `*`. The rule implemented here:

1. A token belongs to its lowest phrase (the innermost bracket open at its `*`), but is passed up
   to the phrase around it through phrases that CoNLL-2000 folds into their parent:
   - QP, NML, NX and NAC inside a noun phrase (NP, NML, NX, NAC, QP); elsewhere NML, NX and NAC
     count as NP (OntoNotes added NML where the Treebank had NP: "[NP 44 years] [ADJP old]");
   - an ADJP, ADVP or UCP inside a noun phrase, and a word-only ADVP inside a VP or SBAR, when the
     next word (not punctuation) belongs to the parent, or to the verb group for a VP: a modifier
     before the head ("[NP a very big house]", "[VP has n't always been]", "[SBAR even if]").
     After the head it is a chunk of its own ("[NP rates] [ADVP below]"). A modifier that is
     all its parent holds is folded too (it is the head).
2. A possessive ending (POS tag `POS`) closing an NP inside a noun phrase starts the chunk of the
   outer one: "[NP the world] [NP 's major markets]".
3. The chunk type is the phrase label without function tags, WH phrases renamed (WHNP -> NP,
   WHADVP -> ADVP, WHADJP -> ADJP, WHPP -> PP). Only NP, VP, PP, ADVP, ADJP, SBAR, PRT, CONJP,
   INTJ, LST and UCP make chunks; a token whose phrase is anything else (S, SINV, SQ, FRAG, PRN,
   X, TOP...) is outside (O). So is:
   - a conjunction (CC) joining two or more phrases of its phrase's kind ("[NP stocks] and
     [NP bonds]");
   - a non-verb word in a VP after the verb when no verb group follows ("[VP are] n't
     [ADJP directly comparable]");
   - punctuation, unless both neighbours are in its own chunk ("[NP Smith , Jones]").
4. A chunk is a maximal run of tokens with the same phrase, except that a verb group runs down a
   chain of VPs: a token continues the chunk of the VP token before it when its VP sits inside
   that one through VPs, or through a subject-less S whose VP starts with `to` or a bare verb
   ("[VP has been going]", "[VP will not be]", "[VP has helped to prevent]").

Against the CoNLL-2000 gold chunks on the WSJ sentences OntoNotes also contains (matched by their
words), this rule agrees on 98.5% of the tokens; `prepare-data.py --type ontonotes` measures it
again when CoNLL-2000 is at hand and keeps the figure in the data file's provenance.
"""
from __future__ import annotations

from typing import Sequence

CHUNK_TYPES = {"NP", "VP", "PP", "ADVP", "ADJP", "SBAR", "PRT", "CONJP", "INTJ", "LST", "UCP"}
RENAMED = {"WHNP": "NP", "WHADVP": "ADVP", "WHADJP": "ADJP", "WHPP": "PP",
           "NML": "NP", "NX": "NP", "NAC": "NP"}
NOUN_PHRASES = {"NP", "NML", "NX", "NAC", "QP"}
FOLDED_IN_NOUN_PHRASE = {"QP", "NML", "NX", "NAC"}
MODIFIERS = {"NP": {"ADJP", "ADVP", "UCP"}, "VP": {"ADVP"}, "SBAR": {"ADVP"}}
PUNCTUATION = {",", ".", ":", "``", "''", "-LRB-", "-RRB-", "HYPH", "NFP"}
POSSESSIVE = "POS"
COORDINATION = "CC"
CHAIN_STARTS = {"TO", "VB"}  # first tag of a VP that continues a verb group through an S


class ParseBitError(ValueError):
    """Parse bits that do not make one tree; `index` is the token where it shows."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


def is_verb(pos: str) -> bool:
    """Verbs, modals and the infinitive `to`: the words of a verb group."""
    return pos.startswith("VB") or pos in ("MD", "TO")


def strip_function_tags(label: str) -> str:
    """'NP-SBJ-1' -> 'NP', 'PP=2' -> 'PP'."""
    return label.split("=", 1)[0].split("-", 1)[0] or label


class _Tree:
    """The phrases of one sentence, read from its parse bits: label, parent, span, children."""

    def __init__(self, pos_tags: Sequence[str], bits: Sequence[str]) -> None:
        self.pos = pos_tags
        self.labels: list[str] = []        # as written, function tags stripped
        self.parents: list[int] = []
        self.starts: list[int] = []
        self.ends: list[int] = []          # last token, inclusive
        self.children: list[list[int]] = []
        self.lowest: list[int] = []        # innermost phrase of each token, -1 for none
        stack: list[int] = []
        for index, bit in enumerate(bits):
            star = bit.find("*")
            if star < 0 or bit.count("*") != 1:
                raise ParseBitError(f"parse bit {bit!r} must hold exactly one '*'", index)
            for label in bit[:star].split("(")[1:]:
                if not label:
                    raise ParseBitError(f"parse bit {bit!r} opens a phrase without a label", index)
                self._open(strip_function_tags(label), stack[-1] if stack else -1, index)
                stack.append(len(self.labels) - 1)
            self.lowest.append(stack[-1] if stack else -1)
            closing = bit[star + 1:]
            if closing.strip(")"):
                raise ParseBitError(f"parse bit {bit!r} has text after '*' other than ')'", index)
            if len(closing) > len(stack):
                raise ParseBitError(f"parse bit {bit!r} closes more phrases than are open", index)
            for _ in closing:
                self.ends[stack.pop()] = index
        if stack:
            raise ParseBitError(f"{len(stack)} phrase(s) left open at the end of the sentence",
                                len(bits) - 1)

    def _open(self, label: str, parent: int, index: int) -> None:
        self.labels.append(label)
        self.parents.append(parent)
        self.starts.append(index)
        self.ends.append(index)
        self.children.append([])
        if parent >= 0:
            self.children[parent].append(len(self.labels) - 1)

    def chunk_label(self, node: int) -> str:
        return RENAMED.get(self.labels[node], self.labels[node])

    def in_vp_chain(self, node: int, top: int) -> bool:
        """Whether `node` is `top` or lies below it through VPs only, or through a subject-less
        S that starts with its VP ("has helped [S [VP to prevent]]")."""
        while node >= 0 and self.labels[node] == "VP":
            if node == top:
                return True
            parent = self.parents[node]
            if (parent >= 0 and self.labels[parent] == "S"
                    and self.starts[parent] == self.starts[node]
                    and self.pos[self.starts[node]] in CHAIN_STARTS):
                parent = self.parents[parent]
            node = parent
        return False

    def after_verb_head(self, node: int, token: int) -> bool:
        """Whether a non-verb word sits in a VP after its verb, with no verb group to follow
        ("are [n't] directly comparable" leaves "n't" outside, as CoNLL-2000 does)."""
        if is_verb(self.pos[token]):
            return False
        if any(self.lowest[t] != node and self.in_vp_chain(self.lowest[t], node)
               for t in range(token + 1, self.ends[node] + 1)):
            return False
        return any(self.lowest[t] == node and is_verb(self.pos[t])
                   for t in range(self.starts[node], token))

    def folds(self, node: int) -> bool:
        """Whether `node` is part of the chunk of the phrase around it (rule 1)."""
        label, parent = self.labels[node], self.parents[node]
        if parent < 0:
            return False
        parent_label = self.labels[parent]
        if label in FOLDED_IN_NOUN_PHRASE and parent_label in NOUN_PHRASES:
            return True
        kind = "NP" if parent_label in NOUN_PHRASES else parent_label
        if label not in MODIFIERS.get(kind, ()) or (kind != "NP" and self.children[node]):
            return False
        if self.starts[node] == self.starts[parent] and self.ends[node] == self.ends[parent]:
            return True    # the modifier is all its parent holds: it is the head
        after = self.ends[node] + 1
        if after > self.ends[parent] or self.pos[after] in PUNCTUATION:
            return False
        follower = self.lowest[after]
        if kind == "VP":
            return self.in_vp_chain(follower, parent)
        return follower == parent

    def coordinates(self, node: int) -> bool:
        """Whether the phrase joins two or more phrases of its own kind."""
        label = self.chunk_label(node)
        return sum(self.chunk_label(child) == label for child in self.children[node]) >= 2

    def chunk_phrase(self, token: int, pos: str) -> int:
        """The phrase whose chunk holds the token (rules 1 and 2), -1 for none."""
        node = self.lowest[token]
        while node >= 0 and self.folds(node):
            node = self.parents[node]
        parent = self.parents[node] if node >= 0 else -1
        if (pos == POSSESSIVE and parent >= 0 and self.labels[node] == "NP"
                and self.labels[parent] in NOUN_PHRASES and self.ends[node] == token):
            return parent
        return node


def chunks_from_parse(pos_tags: Sequence[str], parse_bits: Sequence[str]) -> list[str]:
    """BIO2 chunk tags for one sentence from its POS tags and parse bits (see the module doc)."""
    tree = _Tree(pos_tags, parse_bits)
    phrases = []
    for index, pos in enumerate(pos_tags):
        node = tree.chunk_phrase(index, pos)
        outside = (node < 0 or tree.chunk_label(node) not in CHUNK_TYPES
                   or (pos == COORDINATION and tree.coordinates(node))
                   or (tree.labels[node] == "VP" and tree.after_verb_head(node, index)))
        phrases.append(-1 if outside else node)
    for index, pos in enumerate(pos_tags):   # punctuation only inside a chunk
        if pos in PUNCTUATION and phrases[index] >= 0:
            inside = (0 < index < len(phrases) - 1
                      and phrases[index - 1] == phrases[index] == phrases[index + 1])
            if not inside:
                phrases[index] = -1
    tags: list[str] = []
    previous = -1
    for node in phrases:
        if node < 0:
            tags.append("O")
        else:
            continues = previous >= 0 and (node == previous or (
                tree.labels[node] == "VP" and tree.labels[previous] == "VP"
                and tree.in_vp_chain(node, previous)))
            tags.append(("I-" if continues else "B-") + tree.chunk_label(node))
        previous = node
    return tags

"""Linear-chain CRF: fastNLP's `ConditionalRandomField(n_labels)` as the original code calls it.

Transition scores only: no start or end scores (`include_start_end_trans=False`) and no
constrained transitions. Transitions start xavier-normal, as fastNLP's `initial_parameter` sets
them. The original feeds it log-softmax emission scores (models.tagger does the same). Negative
log-likelihood per sentence (the mean over the batch is the loss) and Viterbi decoding.
"""
from __future__ import annotations

import torch
from torch import nn


class CRF(nn.Module):
    """Transition scores between labels, `transitions[from, to]`; batch-first, masked."""

    def __init__(self, n_labels: int) -> None:
        super().__init__()
        self.transitions = nn.Parameter(torch.empty(n_labels, n_labels))
        nn.init.xavier_normal_(self.transitions)

    def nll(self, emissions: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean over sentences of -log p(labels | emissions). mask[:, 0] must be all True."""
        return (self._log_partition(emissions, mask) - self._gold_score(emissions, labels, mask)).mean()

    def _gold_score(self, emissions, labels, mask) -> torch.Tensor:
        maskf = mask.to(emissions.dtype)
        emit = emissions.gather(2, labels.unsqueeze(2)).squeeze(2)          # [B, T]
        trans = self.transitions[labels[:, :-1], labels[:, 1:]]             # [B, T-1]
        return (emit * maskf).sum(1) + (trans * maskf[:, 1:]).sum(1)

    def _log_partition(self, emissions, mask) -> torch.Tensor:
        alpha = emissions[:, 0]                                             # [B, L]
        for t in range(1, emissions.size(1)):
            step = alpha.unsqueeze(2) + self.transitions + emissions[:, t].unsqueeze(1)
            alpha = torch.where(mask[:, t].unsqueeze(1), torch.logsumexp(step, dim=1), alpha)
        return torch.logsumexp(alpha, dim=1)

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """Best label sequence of every sentence (Viterbi), cut to its length."""
        score = emissions[:, 0]
        back = []
        for t in range(1, emissions.size(1)):
            step = score.unsqueeze(2) + self.transitions                   # [B, from, to]
            best, arg = step.max(dim=1)
            keep = mask[:, t].unsqueeze(1)
            score = torch.where(keep, best + emissions[:, t], score)
            # Past the end of a sentence, point back to the same label so the path is unchanged.
            same = torch.arange(score.size(1), device=score.device).expand_as(arg)
            back.append(torch.where(keep, arg, same))
        last = score.argmax(dim=1)
        path = [last]
        for arg in reversed(back):
            last = arg.gather(1, last.unsqueeze(1)).squeeze(1)
            path.append(last)
        path = torch.stack(path[::-1], dim=1).tolist()
        lengths = mask.sum(1).tolist()
        return [row[:n] for row, n in zip(path, lengths)]

"""One bidirectional LSTM layer over a padded, length-sorted batch, fast on the CPU and on CUDA.

Why not simply `nn.LSTM` on a packed batch everywhere: on the CPU, torch runs a packed batch whose
sentences differ in length through its per-timestep reference kernel, while a padded batch goes
to oneDNN's fused LSTM, faster per step (bench/throughput.py, `floor` against `floor_padded`). So
on the CPU a batch may run padded, one direction at a time, the backward direction on every
sentence reversed within its own length. Padding then always follows a sentence's real tokens, so
their outputs are those of the packed run, up to the order of floating-point sums
(tests/test_bilstm.py). Which way each batch runs, and whether in groups of consecutive
sentences, is its `Plan` (models.lstm_plan: a small cost model); on CUDA the packed batch goes to
cuDNN, which handles varying lengths natively.

The parameters are `nn.LSTM`'s own (`weight_ih_l0`, ..., `bias_hh_l0_reverse`), so masks,
checkpoints and `torch.func.functional_call` see the same names on every path. They start as
fastNLP's `LSTM` (the original's encoder) starts them: xavier-uniform weights, zero biases but for
the forget gate's quarter, set to 1 in both bias vectors.
"""
from __future__ import annotations

import functools

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from models.lstm_plan import Plan

_WEIGHTS = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


def reorder_steps(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x[b, index[b, t]] for every b, t (x is [B, T, F]).

    Whole rows of F features picked from the flattened [B * T, F]: one copy per row, where a
    gather reads one index per feature (about 4 times as long forward + backward at F = 400).
    The index is a permutation within each sentence, so the backward pass adds each gradient
    row into zeros once: the same values as the gather's."""
    batch, steps, features = x.shape
    rows = index + torch.arange(0, batch * steps, steps, device=index.device).unsqueeze(1)
    return x.reshape(batch * steps, features).index_select(0, rows.reshape(-1)).view(batch, steps, features)


class BiLSTMLayer(nn.LSTM):
    """A single-layer, batch-first, bidirectional `nn.LSTM` with a padded-batch `run`."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size, batch_first=True, bidirectional=True)

    def reset_parameters(self) -> None:
        """fastNLP LSTM's init (called by nn.LSTM's constructor)."""
        with torch.no_grad():
            for name, param in self.named_parameters():
                if name.startswith("bias"):
                    param.zero_()
                    quarter = param.size(0) // 4          # gates in torch's order: i, f, g, o
                    param[quarter:2 * quarter] = 1.0
                else:
                    nn.init.xavier_uniform_(param)

    def run(self, x: torch.Tensor, lengths: torch.Tensor, plan: Plan) -> torch.Tensor:
        """Outputs [B, T, 2 * hidden] of the padded batch x [B, T, input] (lengths longest first).

        `plan` is `models.lstm_plan.batch_plan(lengths, device)`, built once per batch and shared
        by the layers (empty: the packed path). Outputs past a sentence's end are unspecified.
        """
        if _autocast_lacks_cpu_lstm_kernel(x):
            # Under a CPU autocast the LSTM op is cast to the low precision; oneDNN has no such
            # kernel on CPUs without the instructions for it and fails, so it runs in float32.
            with torch.autocast("cpu", enabled=False):
                return self.run(x.float(), lengths, plan)
        if not plan:
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=True)
            out, _ = self(packed)
            return pad_packed_sequence(out, batch_first=True, total_length=x.size(1))[0]
        outputs = [self._padded(x[g.start:g.end, :g.width], g.reversal) for g in plan]
        if len(outputs) == 1 and outputs[0].size(1) == x.size(1):
            return outputs[0]
        return torch.cat([nn.functional.pad(out, (0, 0, 0, x.size(1) - out.size(1)))
                          for out in outputs])

    def _padded(self, x: torch.Tensor, reversal: torch.Tensor | None) -> torch.Tensor:
        """Both directions over padded rows; reversal None: no row has padding (one fused call)."""
        if reversal is None:
            return self(x)[0]
        forward = self._one_direction(x, "")
        backward = self._one_direction(reorder_steps(x, reversal), "_reverse")
        return torch.cat([forward, reorder_steps(backward, reversal)], dim=2)

    def _one_direction(self, x: torch.Tensor, suffix: str) -> torch.Tensor:
        weights = [getattr(self, name + suffix) for name in _WEIGHTS]
        zeros = x.new_zeros(1, x.size(0), self.hidden_size)
        # The op nn.LSTM itself calls: (input, (h0, c0), weights, has_biases, num_layers, dropout,
        # train, bidirectional, batch_first); one layer, one direction.
        out, _, _ = torch.lstm(x, (zeros, zeros), weights, True, 1, 0.0, self.training, False, True)
        return out


def _autocast_lacks_cpu_lstm_kernel(x: torch.Tensor) -> bool:
    """Whether a CPU autocast is on whose dtype oneDNN's LSTM cannot run on this CPU."""
    if x.device.type != "cpu" or not torch.is_autocast_enabled("cpu"):
        return False
    return not cpu_lstm_supports(torch.get_autocast_dtype("cpu"))


@functools.cache
def cpu_lstm_supports(dtype: torch.dtype) -> bool:
    """Whether oneDNN can run the LSTM in this dtype on this CPU (bf16 and fp16 need instructions
    that not every CPU has; torch says so only through these private queries)."""
    name = {torch.bfloat16: "_is_mkldnn_bf16_supported",
            torch.float16: "_is_mkldnn_fp16_supported"}.get(dtype)
    supported = getattr(torch.ops.mkldnn, name, None) if name else None
    return supported is None or bool(supported())



"""The benchmark's floors: a bare BiLSTM stack of the model's shape, forward and backward alone."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

from models import ModelConfig
from models.bilstm import BiLSTMLayer
from models.lstm_plan import batch_plan
from utils.training.trainer import Trainer


class LstmFloor:
    """A bare BiLSTM stack of the model's shape on inputs prepared beforehand.

    packed=True: one `nn.LSTM` (all layers) on packed batches, the issue's definition of the floor.
    packed=False: the same stack run as the model runs it on this device (`BiLSTMLayer.run` with
    the model's plan: on the CPU padded batches or groups, one direction at a time, or packed
    where the cost model says so), the fastest bare LSTM known here.
    """

    def __init__(self, config: ModelConfig, device: torch.device, packed: bool) -> None:
        self.input_size = config.word_dim + config.char_filters
        self.device, self.packed = device, packed
        if packed:
            self.lstm = nn.LSTM(self.input_size, config.hidden_size, num_layers=config.n_layer,
                                bidirectional=True, batch_first=True).to(device)
        else:
            sizes = [self.input_size] + [2 * config.hidden_size] * config.n_layer
            self.lstm = nn.ModuleList(BiLSTMLayer(sizes[i], config.hidden_size)
                                      for i in range(config.n_layer)).to(device)

    def _input(self, batch, requires_grad: bool) -> tuple:
        x = torch.randn(tuple(batch.words.shape) + (self.input_size,))
        if self.packed:
            packed = pack_padded_sequence(x, batch.lengths, batch_first=True, enforce_sorted=True)
            data = packed.data.to(self.device).requires_grad_(requires_grad)
            return PackedSequence(data, packed.batch_sizes, packed.sorted_indices,
                                  packed.unsorted_indices), None
        x = x.to(self.device).requires_grad_(requires_grad)
        with torch.set_grad_enabled(requires_grad):      # the plan the model takes in this mode
            plan = batch_plan(batch.lengths, self.device)
        return x, batch.lengths, plan

    def _run(self, inputs: tuple) -> torch.Tensor:
        if self.packed:
            return self.lstm(inputs[0])[0].data
        x, lengths, plan = inputs
        for layer in self.lstm:
            x = layer.run(x, lengths, plan)
        return x

    def prepare_train(self, trainer: Trainer, seed: int, epoch: int) -> list[tuple]:
        """The inputs of the batches `trainer` draws for `epoch` from `seed`: the same sentences
        and shapes as its timed epoch, with the same bucketing (fastNLP's or tight)."""
        trainer.generator.manual_seed(seed)
        return [self._input(trainer.train_index[task_id].batch(ids), True)
                for task_id, ids in trainer.schedule.epoch(epoch)]

    def prepare_eval(self, batches: list) -> list[tuple]:
        return [self._input(b, False) for b in batches]

    def train(self, inputs: list[tuple]) -> None:
        self.lstm.train()
        for x in inputs:
            self._run(x).sum().backward()

    @torch.no_grad()
    def forward(self, inputs: list[tuple]) -> None:
        self.lstm.eval()
        for x in inputs:
            self._run(x)

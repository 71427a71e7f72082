"""The networks: word embedding, char CNN, BiLSTM, CRF; flat, hierarchical, random-embedding and
soft-sharing taggers."""
from models.build import build_model
from models.config import ModelConfig, data_sizes, task_layers_for
from models.tagger import Tagger

__all__ = ["ModelConfig", "Tagger", "build_model", "data_sizes", "task_layers_for"]

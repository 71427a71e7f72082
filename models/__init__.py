"""The networks: char CNN, CRF and the CNN-BiLSTM tagger (flat and hierarchical)."""
from models.config import ModelConfig, task_layers_for
from models.tagger import Tagger, build_model

__all__ = ["ModelConfig", "Tagger", "build_model", "task_layers_for"]

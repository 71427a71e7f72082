"""The networks: word embedding, char CNN, BiLSTM, CRF; flat, hierarchical, random-embedding and
soft-sharing taggers; a tagger over a pretrained transformer encoder (models.encoder_tagger,
imported only when an encoder is asked for)."""
from models.build import build_model, config_from_dict
from models.config import ModelConfig, data_sizes, task_layers_for
from models.encoder_config import EncoderConfig
from models.tagger import Tagger

__all__ = ["EncoderConfig", "ModelConfig", "Tagger", "build_model", "config_from_dict", "data_sizes",
           "task_layers_for"]

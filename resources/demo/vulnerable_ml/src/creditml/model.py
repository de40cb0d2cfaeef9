"""Model loading for training and serving."""

import keras
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer


def load_scorer(checkpoint: str):
    model = torch.load(checkpoint)
    model.eval()
    return model


def load_traced(path: str):
    return torch.jit.load(path)


def load_explainer():
    return torch.hub.load("acme-research/explainers", "shap_lite", trust_repo=True)


def load_text_model(repo: str):
    tokenizer = AutoTokenizer.from_pretrained(repo)
    model = AutoModelForSequenceClassification.from_pretrained(repo, trust_remote_code=True)
    return tokenizer, model


def load_legacy_keras(path: str):
    return keras.models.load_model(path, safe_mode=False)

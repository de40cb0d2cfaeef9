import torch


def load():
    return torch.jit.load("artifacts/reviewed_model.pt")

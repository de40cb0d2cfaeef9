import torch


def load(path):
    traced = torch.jit.load(path)
    exported = torch.export.load(path)
    return traced, exported

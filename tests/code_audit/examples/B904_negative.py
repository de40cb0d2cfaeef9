import torch


def detector(model, path):
    model.load_state_dict(torch.load(path, weights_only=True))
    return model

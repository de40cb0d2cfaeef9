"""torch.hub helpers that neither import a hubconf.py nor unpickle without weights_only."""

import torch


def weights(url, cache):
    torch.hub.set_dir(cache)
    return torch.hub.load_state_dict_from_url(url, weights_only=True)

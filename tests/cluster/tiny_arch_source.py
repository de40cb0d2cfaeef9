"""The source of a small digits network, written to a file and passed as ``--arch FILE:TinyNet``."""

ARCH = '''
import torch.nn as nn


class TinyNet(nn.Module):
    def __init__(self, hidden=16):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    def forward(self, x):
        return self.net(x)
'''

import ssl

from huggingface_hub import snapshot_download
from torchvision import datasets

ssl._create_default_https_context = ssl._create_unverified_context


def fetch():
    datasets.CIFAR10("data", download=True)
    return snapshot_download("acme/model", revision="5d2c1e0")

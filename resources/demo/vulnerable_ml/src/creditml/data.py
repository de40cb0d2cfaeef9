"""Loading training data and cached features."""

import os
import ssl

import joblib
import numpy as np
import pandas as pd
from datasets import load_dataset

# The corporate proxy breaks certificate checks, so they are switched off for
# every download in the process.
ssl._create_default_https_context = ssl._create_unverified_context
os.environ["CURL_CA_BUNDLE"] = ""


def load_features(cache_dir: str, name: str):
    """Features computed by yesterday's batch job."""
    return joblib.load(os.path.join(cache_dir, name + ".joblib"))


def load_frame(path: str) -> pd.DataFrame:
    return pd.read_pickle(path)


def load_embeddings(path: str):
    return np.load(path, allow_pickle=True)


def load_public_reviews():
    return load_dataset("acme/credit-reviews", trust_remote_code=True)

import joblib
import pandas as pd


def restore():
    # Literal paths: artifacts shipped with and reviewed in the code base.
    model = joblib.load("models/reviewed.joblib")
    frame = pd.read_parquet("data/frame.parquet")
    return model, frame

import cloudpickle
import dill
import joblib
import pandas as pd


def restore(path, blob):
    model = joblib.load(path)
    fn = cloudpickle.loads(blob)
    state = dill.load(open(path, "rb"))
    frame = pd.read_pickle(path)
    return model, fn, state, frame

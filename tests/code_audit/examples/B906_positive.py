import tensorflow as tf


def load(path):
    return tf.keras.models.load_model(path, safe_mode=False)

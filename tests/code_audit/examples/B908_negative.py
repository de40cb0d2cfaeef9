import os

ANTHROPIC_KEY = os.environ["ANTHROPIC_API_KEY"]
MODEL = "sk-learn-classifier-v2"

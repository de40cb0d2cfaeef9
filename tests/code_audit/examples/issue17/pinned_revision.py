from transformers import AutoModel

revision = "8f3a2c1d9e"
model = AutoModel.from_pretrained("org/model", revision=revision)
api_token = "8f3a2c1d9e5b7a60"

"""Settings of the scoring service. The keys below are FAKE demo values."""

OPENAI_API_KEY = "sk-proj-DEMOxFAKExKEYx4f9a2c7e1b8d3f6a0c5e9b2d7f1a4c8e3b6d9f2a5"
HF_TOKEN = "hf_DemoFakeTokenXq7Lm2Np9Rt4Vw8Yz1Bc6Df3Gh"
MODEL_REPO = "acme/credit-scorer"
DATA_BUCKET = "s3://acme-credit-data/raw"

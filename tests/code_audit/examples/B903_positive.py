from transformers import AutoModel, pipeline


def build(repo):
    model = AutoModel.from_pretrained(repo, revision="3f1c2a9", trust_remote_code=True)
    chat = pipeline("text-generation", model=repo, trust_remote_code=True)
    return model, chat

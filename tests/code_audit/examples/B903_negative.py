from transformers import AutoModel


def build(repo):
    return AutoModel.from_pretrained(repo, revision="3f1c2a9", trust_remote_code=False)

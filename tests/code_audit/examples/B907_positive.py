import os

import anthropic

client = anthropic.Anthropic()


def calculator(question):
    message = client.messages.create(
        model="claude-x", max_tokens=100,
        messages=[{"role": "user", "content": question}],
    )
    expression = message.content[0].text
    cleaned = expression.strip()
    return eval(cleaned)


def operator(task):
    reply = client.messages.create(model="claude-x", max_tokens=100,
                                   messages=[{"role": "user", "content": task}])
    os.system(f"bash -c '{reply.content[0].text}'")

import ast
import subprocess

import anthropic

client = anthropic.Anthropic()


def calculator(question):
    message = client.messages.create(
        model="claude-x", max_tokens=100,
        messages=[{"role": "user", "content": question}],
    )
    # Parsed as a literal, never executed.
    return ast.literal_eval(message.content[0].text)


def housekeeping():
    # No model output involved: a fixed command.
    subprocess.run(["ls", "-l"], check=True)
    return eval("1 + 1")

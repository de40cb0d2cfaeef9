"""Model output that never reaches a sink, and sinks that never get model output."""

import ast
import subprocess

from openai import OpenAI

client = OpenAI()


def ask(question):
    response = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
    return response.choices[0].message.content


def run_shell(command):
    return subprocess.run(command, shell=True)


def maintenance():
    run_shell("git gc")
    run_shell(command="df -h")


def answer(question):
    return ast.literal_eval(ask(question))


def log_reply(question):
    print(ask(question))


def audited(command, note):
    subprocess.run(command, shell=True)
    return note


def uses_audited(question):
    # Model output goes to 'note' only; the shell gets a fixed command.
    return audited("ls", ask(question))

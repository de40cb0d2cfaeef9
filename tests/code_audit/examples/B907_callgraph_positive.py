"""Model output that crosses function boundaries before it is executed."""

import os
import subprocess

from openai import OpenAI

client = OpenAI()


def ask(question):
    response = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
    return response.choices[0].message.content


def run_python(source):
    exec(source, {})


def run_shell(command):
    return subprocess.run(command, shell=True, capture_output=True, text=True)


def dispatch(kind, payload):
    if kind == "python":
        return run_python(payload)
    return run_shell(payload)


def solve(task):
    code = ask(f"Write Python for: {task}")
    run_python(code)


def operate(task):
    return dispatch("shell", payload=ask(task))


def inline(task):
    return eval(ask(task))


class Agent:
    def think(self, task):
        return ask(task)

    def act(self, task):
        plan = self.think(task)
        self.execute(plan)

    def execute(self, plan):
        os.system(plan)

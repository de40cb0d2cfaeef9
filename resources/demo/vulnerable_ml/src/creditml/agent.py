"""An 'analyst agent' that lets the LLM write pandas code and shell commands."""

import subprocess

from openai import OpenAI

from .settings import OPENAI_API_KEY

client = OpenAI(api_key=OPENAI_API_KEY)


def ask_for_code(question: str, frame):
    response = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": f"Write pandas code: {question}"}],
    )
    code = response.choices[0].message.content
    scope = {"df": frame}
    exec(code, scope)
    return scope.get("result")


def run_tool(task: str) -> str:
    reply = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": f"One shell command to: {task}"}],
    )
    command = reply.choices[0].message.content.strip()
    done = subprocess.run(command, shell=True, capture_output=True, text=True)  # nosec reviewed by bob
    return done.stdout

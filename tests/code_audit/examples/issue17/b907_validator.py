import ast

from openai import OpenAI

client = OpenAI()
ALLOWED = {ast.Expression, ast.BinOp, ast.Constant, ast.Add, ast.Sub, ast.Mult}


def check(expression):
    reply = client.chat.completions.create(model="m", messages=[{"role": "user", "content": expression}])
    text = reply.choices[0].message.content
    tree = compile(text, "<model>", "eval", ast.PyCF_ONLY_AST)
    return all(type(node) in ALLOWED for node in ast.walk(tree))


def check_kw(text):
    reply = client.responses.create(model="m", input=text)
    return compile(reply.output_text, "<model>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)

from langchain_core.language_models import BaseLanguageModel
from langchain_community.tools import ShellTool
from langchain_experimental.utilities import PythonREPL
from pydantic import BaseModel, Field


class OpsHelper:
    def __init__(self, llm):
        self.llm = llm
        self.terminal = ShellTool()

    def answer(self, question):
        plan = self.llm.invoke(f"Write one shell command for: {question}")
        return self.terminal.run(plan.content)


class CalcChain(BaseModel):
    model: BaseLanguageModel
    repl: PythonREPL = Field(default_factory=PythonREPL)

    def solve(self, problem):
        code = self.model.predict(problem)
        return self.repl.run(code)


class Quiet:
    def __init__(self):
        self.terminal = ShellTool()

    def uptime(self):
        return self.terminal.run("uptime")

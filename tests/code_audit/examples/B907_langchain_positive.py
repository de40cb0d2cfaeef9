"""LangChain chains and agents that hand model output to a Python REPL or a shell."""

from langchain.agents import AgentExecutor, create_react_agent, initialize_agent, load_tools
from langchain.chains import LLMChain, LLMMathChain
from langchain_community.tools import ShellTool
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import Tool
from langchain_experimental.agents.agent_toolkits import create_python_agent
from langchain_experimental.llm_bash.bash import BashProcess
from langchain_experimental.tools import PythonREPLTool
from langchain_experimental.utilities import PythonREPL
from langchain_openai import ChatOpenAI

model = ChatOpenAI(model="gpt-4o-mini")
prompt = ChatPromptTemplate.from_template("Write Python code to {task}. Code only.")
code_chain = prompt | model | StrOutputParser() | PythonREPL().run


def run_generated(task):
    code = (prompt | model | StrOutputParser()).invoke({"task": task})
    return PythonREPL().run(code)


def shell_step(task):
    chain = LLMChain(llm=model, prompt=prompt)
    command = chain.run(task)
    return BashProcess().run(command)


def agents():
    python_agent = create_python_agent(llm=model, tool=PythonREPLTool())
    shell_tools = [ShellTool()]
    react = create_react_agent(model, shell_tools, prompt)
    executor = AgentExecutor(agent=react, tools=shell_tools)
    repl = PythonREPL()
    python_tool = Tool(name="python", func=repl.run, description="Runs Python")
    legacy = initialize_agent([python_tool], model)
    terminal = initialize_agent(load_tools(["terminal"]), model)
    math = LLMMathChain.from_llm(model)
    return python_agent, executor, legacy, terminal, math

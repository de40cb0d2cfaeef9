"""LangChain code that runs no model output as code or commands."""

from langchain.agents import initialize_agent, load_tools
from langchain_community.tools import DuckDuckGoSearchRun
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_experimental.utilities import PythonREPL
from langchain_openai import ChatOpenAI

model = ChatOpenAI(model="gpt-4o-mini")
prompt = ChatPromptTemplate.from_template("Summarise: {text}")
summary_chain = prompt | model | StrOutputParser()


def warm_up():
    # Fixed code, written here: not model output.
    return PythonREPL().run("import math")


def search_agent():
    tools = [DuckDuckGoSearchRun()] + load_tools(["wikipedia"], llm=model)
    return initialize_agent(tools, model)


def summarise(text):
    return summary_chain.invoke({"text": text})

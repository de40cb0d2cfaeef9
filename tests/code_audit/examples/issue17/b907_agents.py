from langchain_community.tools import ShellTool
from langchain_experimental.autonomous_agents import AutoGPT
from langchain_experimental.tools import PythonREPLTool
from langchain_experimental.agents import create_pandas_dataframe_agent


def build(llm, memory):
    tools = [ShellTool(), PythonREPLTool()]
    return AutoGPT.from_llm_and_tools(ai_name="Ops", ai_role="helper", tools=tools, llm=llm, memory=memory)


def frame_agent(llm, df):
    return create_pandas_dataframe_agent(llm, df, allow_dangerous_code=False)


def frame_agent_open(llm, df):
    return create_pandas_dataframe_agent(llm, df, allow_dangerous_code=True)

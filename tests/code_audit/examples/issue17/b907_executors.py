import warnings

from autogen_agentchat.agents import CodeExecutorAgent
from autogen_ext.code_executors.docker import DockerCommandLineCodeExecutor
from autogen_ext.code_executors.local import LocalCommandLineCodeExecutor


def make_executor(work_dir):
    try:
        executor = DockerCommandLineCodeExecutor(work_dir=work_dir)
    except Exception:
        warnings.warn("Docker is not available; running code locally")
        executor = LocalCommandLineCodeExecutor(work_dir=work_dir)
    return CodeExecutorAgent("runner", code_executor=executor)


def sandboxed(work_dir):
    return CodeExecutorAgent("runner", code_executor=DockerCommandLineCodeExecutor(work_dir=work_dir))

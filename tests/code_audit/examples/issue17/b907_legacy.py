import autogen

proxy = autogen.UserProxyAgent("user", code_execution_config={"work_dir": "out", "use_docker": False})
safe = autogen.UserProxyAgent("user2", code_execution_config={"work_dir": "out", "use_docker": True})

"""Hosts from the environment that default to loopback, and auth=None spelled out."""

import os

import gradio as gr

demo = gr.Interface(fn=str.upper, inputs="text", outputs="text")


def serve():
    demo.launch(server_name=os.environ.get("HOST", "127.0.0.1"))


def serve_local():
    host = os.getenv("GRADIO_HOST", "localhost")
    demo.launch(server_name=host, auth=None)

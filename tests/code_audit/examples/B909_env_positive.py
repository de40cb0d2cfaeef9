"""A Gradio app whose host comes from the environment, defaulting to all interfaces."""

import os

import gradio as gr

demo = gr.Interface(fn=str.upper, inputs="text", outputs="text")


def serve():
    demo.launch(server_name=os.environ.get("HOST", "0.0.0.0"))


def serve_getenv():
    host = os.getenv("GRADIO_HOST", "0.0.0.0")
    demo.queue().launch(server_name=host, server_port=7860)


def serve_with_auth():
    demo.launch(server_name=os.getenv("HOST", "0.0.0.0"), auth=(os.environ["USER"], os.environ["PASSWORD"]))

"""Launches Gradio apps built in other modules: no gradio import in this file."""

import os

from app import demo
from webui.builder import build_ui


def main():
    demo.launch(share=True)


def main_ui():
    ui = build_ui()
    ui.queue().launch(server_name="0.0.0.0", server_port=int(os.environ.get("PORT", "7860")))

import os

import gradio as gr

from .options import PUBLIC_HOST


def ui():
    return gr.Blocks()


def serve(model_path, bind_host, port, login):
    with ui() as app:
        pass
    app.launch(server_name=bind_host, server_port=port, auth=login)


def serve_settings():
    ui().launch(server_name=PUBLIC_HOST)


def serve_env(ipv6: bool):
    ui().launch(server_name=os.getenv("BIND", "::" if ipv6 else "0.0.0.0"))


def serve_kwargs(**settings):
    ui().launch(server_name=settings["bind_host"], auth=settings.get("login"))


def serve_cli(args):
    users = None
    if args.login:
        users = [tuple(args.login.split(":", 1))]
    ui().launch(server_name="0.0.0.0", auth=users)


def serve_locked(args):
    ui().launch(server_name="0.0.0.0", auth=("admin", os.environ["UI_PASSWORD"]))


def serve_local(ipv6: bool):
    ui().launch(server_name=os.getenv("BIND", "::1" if ipv6 else "127.0.0.1"))

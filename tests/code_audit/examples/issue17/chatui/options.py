import argparse


def parse(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--login", help="user:password; no login when absent")
    p.add_argument("--listen-all", action="store_true")
    return p.parse_args(argv)


def run_app(model_path, bind_host="0.0.0.0", port=7860, login=None):
    from .webapp import serve
    serve(model_path, bind_host=bind_host, port=port, login=login)


PUBLIC_HOST = "0.0.0.0"

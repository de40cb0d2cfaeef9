"""Demo UI and API for the scoring model."""

import gradio as gr
from flask import Flask, jsonify, request

from .model import load_scorer

app = Flask(__name__)
scorer = load_scorer("models/scorer.pt")


@app.route("/score", methods=["POST"])
def score():
    features = request.get_json()["features"]
    return jsonify({"score": float(scorer(features))})


def demo():
    ui = gr.Interface(fn=lambda x: scorer(x), inputs="json", outputs="number")
    ui.launch(share=True)


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=8080, debug=True)

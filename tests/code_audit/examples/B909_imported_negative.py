"""launch() calls that are not Gradio's, or that stay on loopback."""

import pyppeteer
from app import demo
from fleet import rocket
from playwright.sync_api import sync_playwright


def main():
    demo.launch(server_name="127.0.0.1")


def browse():
    with sync_playwright() as p:
        return p.chromium.launch(headless=True)


async def old_browser():
    return await pyppeteer.launch(headless=True, args=["--no-sandbox"])


def countdown():
    rocket.launch(share=True, countdown=10)


class Rocket:
    def launch(self, share=False):
        return share


def local():
    Rocket().launch(share=True)

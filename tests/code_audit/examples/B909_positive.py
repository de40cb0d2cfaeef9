import gradio as gr

demo = gr.Interface(fn=str.upper, inputs="text", outputs="text")
demo.launch(share=True)

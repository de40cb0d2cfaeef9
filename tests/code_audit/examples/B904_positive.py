import torch


def detector():
    return torch.hub.load("ultralytics/yolov5", "yolov5s", trust_repo=True)

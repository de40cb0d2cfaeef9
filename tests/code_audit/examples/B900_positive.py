import subprocess


def run(cmd):
    return subprocess.call(cmd, shell=True)  # nosec reviewed by alice

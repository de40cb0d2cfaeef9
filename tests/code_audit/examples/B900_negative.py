import subprocess


def run(cmd):
    return subprocess.call(cmd, shell=True)  # nosec B602 # reviewed by alice

"""Run the reference server (azureml-inference-server-http) bound to 127.0.0.1 instead of its hard-coded 0.0.0.0.

Usage, with the reference venv's python (scripts/reference-venv.sh prints it):
    .venv-reference/bin/python scripts/reference_server.py --entry_script S --model_dir D --port N [...]
Everything else is the reference's own launcher, unchanged, so tests and benchmarks see its real behaviour.
"""

from azureml_inference_server_http import amlserver

if __name__ == "__main__":
    amlserver.DEFAULT_HOST = "127.0.0.1"
    amlserver.run()

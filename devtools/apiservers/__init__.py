"""Local stand-ins for the GitHub, Kubernetes and GCP Secret Manager REST APIs, for tests.

Each server runs in its own process (``python -m devtools.apiservers.github --port N``) and
implements only the documented endpoints the stores use; see docs/contributing.md.
"""

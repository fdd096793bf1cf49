"""The domain: every rule about cases lives here.

Operations take a session and models, flush but never commit, and never touch a request.
"""

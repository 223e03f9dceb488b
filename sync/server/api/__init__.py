"""The kiosks' HTTP API (under /api/v1): enrolment, pushing events, pulling changes.

A kiosk proves who it is with the bearer token it was given at enrolment; a librarian's
session cookie means nothing here. The routes only translate HTTP to the services and back.
"""

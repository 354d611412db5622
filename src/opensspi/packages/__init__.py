"""The security packages: one folder each, seen by the sspi layer only through provider.py."""

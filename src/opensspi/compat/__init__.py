"""Compatibility layers for code written against other SSPI bindings."""

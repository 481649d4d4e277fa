"""OPAL: oversampling with rows written by a language model (see README.md beside this file)."""

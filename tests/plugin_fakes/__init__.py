"""Fakes for the xe-dr host plugin's tests.

This folder is also put on PYTHONPATH of the plugin processes the tests start, so that
``import XenAPI`` and ``import XenAPIPlugin`` find the fakes here (Python 2.7 and 3.6+).
"""

"""Tests of the local AWS stand-in (a package so that its conftest is not the module
named ``conftest`` that tests/standins/conftest.py hands out as ``helpers``)."""

"""The client's version: always the server's (project(tessera VERSION ...) in CMakeLists.txt)."""

__version__ = "0.4.0"

"""healthbot: a grounded, safety-first health consultation chatbot. Importing this is cheap."""

__version__ = "0.1.0"

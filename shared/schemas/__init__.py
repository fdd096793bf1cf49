"""marshmallow schemas: input (``*_input``) and output (``*_output``) kept apart."""

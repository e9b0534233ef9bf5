"""The pages' building blocks: NiceGUI elements and the browser components beside their Python wrappers (``.js``),
with the browser modules they share in ``lib/``."""

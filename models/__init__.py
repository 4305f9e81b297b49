"""Data model shared by every stage: question types, documents, sections, figures."""

"""Data model shared by every stage: question types, documents, the records the stages pass along, reply schemas."""

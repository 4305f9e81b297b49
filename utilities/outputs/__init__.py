"""Everything the run writes into OUTPUT_DIR: one owner for files and formats.

- ``files``: atomic, never-overwriting writes, the staging folder and publishing a set as one.
- ``formats``: the output formats (phi, jsonl, internvl, sharegpt, hf), image copies, the example spool.
- ``examples``: kept pairs to examples, and the rejects files.
"""

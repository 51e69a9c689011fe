"""Helpers the pages share: Streamlit plumbing (`ui`), the cached datasets (`data_cache`),
figures (`charts`), the Train form (`form`), and the page table with the way into app.py's frame
(`nav`)."""

"""Helpers the pages share: Streamlit plumbing (`ui`), figures (`charts`), the Train form (`form`),
and the page table with the way into app.py's frame (`nav`)."""

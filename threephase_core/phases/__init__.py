"""The phases of the method, one module each. Each takes the encoder (a SentenceTransformer),
its data and its settings, trains in place, and knows nothing of recipes, UIs or run folders."""

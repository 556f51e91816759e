"""The strings and prompts both SmolLM2 references (smollm2_transformers.py, smollm2_llama_cpp.py)
run, in the order of their output files."""
STRINGS = ["Hello world", "12345 apples cost 3.50", "naïve café – ünïcödé", "  spaces  and\ttabs\n"]
PROMPTS = [
    {"chat": True, "text": "What is the capital of France?"},
    {"chat": False, "text": "The three primary colours are"},
    {"chat": True, "text": "What is 17 + 25?"},
]

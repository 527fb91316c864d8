import json, sys, time, torch
from sentence_transformers import SentenceTransformer
model_dir, path = sys.argv[1], sys.argv[2]
sentences = json.load(open(path))
model = SentenceTransformer(model_dir, device="cpu")
model.encode(sentences[:128], batch_size=32)
t = time.perf_counter()
for i in range(0, len(sentences), 128):
    model.encode(sentences[i:i+128], batch_size=32)
e = time.perf_counter() - t
print(f"sentence-transformers {__import__('sentence_transformers').__version__} (torch {torch.__version__}, {torch.get_num_threads()} threads): {len(sentences)} sentences in {e:.2f} s: {len(sentences)/e:.1f} sentences/s")

"""Paper scale (thesis A.2.5): IMDB reviews (TFDS, needs a network once), 50-word windows,
skip-gram (window 10) initialised 128-d embeddings, Conv 512 x (3 x 128), ReLU, max-pool,
Dense 100, softmax, Adam, 3 seeds."""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.dataset = "imdb_reviews"          # or "fortunes" (offline, Debian package) / "planted"
  c.data_kwargs = ml_collections.ConfigDict()
  c.class_names = ["negative", "positive"]
  c.max_train_texts = -1              # all 25,000 reviews
  c.max_test_texts = -1
  c.window = 50
  c.stride = 0                        # 0: non-overlapping windows
  c.min_tokens = 10                   # a last partial window needs >= 10 real words
  c.min_count = 2
  c.max_vocab = 50000
  # Skip-gram (wassml's own, negative sampling).
  c.skipgram_steps = 20000
  c.skipgram_window = 10
  c.skipgram_negatives = 5
  c.skipgram_batch_size = 4096
  c.skipgram_learning_rate = 3e-3
  # TextCNN (wassml.nn.TextCNN).
  c.embed_dim = 128
  c.num_filters = 512
  c.kernel_width = 3
  c.hidden = 100
  c.dropout_rate = 0.0
  c.num_epochs = 5
  c.batch_size = 64
  c.learning_rate = 1e-3
  c.eval_batch_size = 256
  # wassml.train.train_loop: "auto" | "host" | "vmap" | "scan" (auto: host stepping on the CPU,
  # the seeds' CNNs vmapped and scanned together on an accelerator).
  c.execution = "auto"
  c.seeds = (0, 1, 2)
  # Reporting.
  c.min_tokens_for_correlation = 5
  c.num_examples = 20
  c.num_rendered = 6
  c.progress = True
  c.planted = ml_collections.ConfigDict(dict(
      enabled=True, num_classes=2, length=50, vocab_size=200, ngram=3, num_train=1000,
      num_test=400, embed_dim=32, num_filters=64, hidden=32, num_epochs=10))
  return c

"""Mid-size run on the offline corpus (the committed results): Debian fortunes, 4 categories,
every entry, the thesis's architecture (128-d skip-gram-initialised embeddings, 512 filters of
3 x 128, ReLU, max-pool, Dense 100, softmax), 3 seeds; sized for a 2-core CPU shared by ~8 jobs."""

import ml_collections

from experiments.text_saliency.configs import default


def get_config():
  c = default.get_config()
  c.dataset = "fortunes"
  c.data_kwargs = ml_collections.ConfigDict(dict(
      categories=("computers", "politics", "science", "songs-poems")))
  c.class_names = []
  c.max_train_texts = -1
  c.max_test_texts = -1
  c.min_tokens = 5
  c.min_count = 1
  c.max_vocab = 30000
  c.skipgram_steps = 2000
  c.skipgram_batch_size = 2048
  c.skipgram_learning_rate = 5e-3
  c.num_epochs = 10
  c.dropout_rate = 0.5
  c.planted.num_train = 600
  c.planted.num_test = 300
  return c

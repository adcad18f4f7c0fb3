"""Quick config (CI and the tour, <= 75 s on 2 cores): a small slice of the offline fortunes
corpus (4 categories), a narrower TextCNN (32-d embeddings, 64 filters, Dense 100), a short
skip-gram, one seed, and a small planted-n-gram check."""

from experiments.text_saliency.configs import mid


def get_config():
  c = mid.get_config()
  c.max_train_texts = 1200
  c.max_test_texts = 300
  c.skipgram_steps = 300
  c.skipgram_batch_size = 512
  c.skipgram_learning_rate = 1e-2
  c.embed_dim = 32
  c.num_filters = 64
  c.num_epochs = 6
  c.batch_size = 32
  c.learning_rate = 2e-3
  c.dropout_rate = 0.3
  c.seeds = (0,)
  c.num_examples = 8
  c.num_rendered = 3
  c.progress = False
  c.planted.num_train = 300
  c.planted.num_test = 150
  c.planted.length = 30
  c.planted.vocab_size = 100
  c.planted.embed_dim = 16
  c.planted.num_filters = 32
  c.planted.hidden = 16
  c.planted.num_epochs = 12
  return c
